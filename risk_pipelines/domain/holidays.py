"""Which public-holiday calendar a series' region follows: shared by the forecasts (Prophet's
holiday effects) and the alert calendar (notifications annotated on a holiday)."""

from __future__ import annotations

from functools import cache


def holiday_country(region: str | None) -> str | None:
    """The ``holidays`` country code for a series' region, or None (``all``, a bloc, unknown)."""
    if not region:
        return None
    code = region.upper()
    return code if code in _supported_countries() else None


@cache
def _supported_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())

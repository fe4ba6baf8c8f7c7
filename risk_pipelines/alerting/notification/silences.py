"""Silences: a person mutes the notifications of matching alerts for a while, and says why.

Alerts under a silence keep their state (they still open, fire and resolve, so the history is
whole); only their notifications are held back, recorded as ``silenced`` with the silence named.
A silence needs an author and a comment, and ends within ``MAX_DAYS``: a forgotten silence must
not hide a real surge for ever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from risk_pipelines.domain.series import SERIES_DIMENSIONS

MAX_DAYS = 30
MATCH_KEYS = ("rule_id", *SERIES_DIMENSIONS)


class SilenceError(ValueError):
    """A silence that cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class Silence:
    matcher: dict[str, str]
    author: str
    comment: str
    starts_at: dt.datetime
    expires_at: dt.datetime
    silence_id: int | None = None

    def active(self, now: dt.datetime) -> bool:
        return self.starts_at <= now < self.expires_at

    def covers(self, rule_id: str, dims: dict[str, str]) -> bool:
        values = {"rule_id": rule_id, **dims}
        return all(values.get(key) == value for key, value in self.matcher.items())

    def describe(self) -> str:
        what = ", ".join(f"{k}={v}" for k, v in self.matcher.items())
        return f"silence #{self.silence_id} ({what}) by {self.author}: {self.comment}"


def parse_matchers(items: Iterable[str]) -> dict[str, str]:
    """``["rule_id=report_surge", "region=DE"]`` -> a matcher; every key must be known."""
    matcher = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SilenceError(f"matcher {item!r}: expected key=value, e.g. region=DE")
        if key not in MATCH_KEYS:
            raise SilenceError(f"matcher {item!r}: unknown key {key!r}; use {list(MATCH_KEYS)}")
        matcher[key] = value
    if not matcher:
        raise SilenceError("a silence needs at least one matcher (e.g. rule_id=report_surge)")
    return matcher


def new_silence(
    matcher: dict[str, str],
    author: str,
    comment: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> Silence:
    if not author.strip():
        raise SilenceError("a silence needs an author")
    if not comment.strip():
        raise SilenceError("a silence needs a comment saying why (it is shown on every alert)")
    if expires_at <= now:
        raise SilenceError(f"expiry {expires_at:%Y-%m-%d %H:%M} is not in the future")
    if expires_at - now > dt.timedelta(days=MAX_DAYS):
        raise SilenceError(
            f"expiry {expires_at:%Y-%m-%d %H:%M} is more than {MAX_DAYS} days away; "
            "silence for at most a month and renew it if it is still needed"
        )
    return Silence(dict(matcher), author.strip(), comment.strip(), now, expires_at)


def covering(
    silences: Iterable[Silence], rule_id: str, dims: dict[str, str], now: dt.datetime
) -> Silence | None:
    """The first active silence that covers this alert, if any."""
    return next((s for s in silences if s.active(now) and s.covers(rule_id, dims)), None)

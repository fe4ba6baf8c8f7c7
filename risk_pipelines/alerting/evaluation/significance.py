"""How much an alert matters, on one scale for every rule type: how far past expectation the
series is, how much volume that moves, and for how long.

    significance = surprise x volume x duration

- surprise: the indicator's surprise score (distance past the forecast in 95 %-band sigmas),
  capped at ``MAX_SURPRISE`` so one absurd day cannot outrank a real, broad move; rules that
  work without a band (a fixed threshold, an absent series) count as ``DEFAULT_SURPRISE``;
- volume: ``log10(10 + moved)``, ``moved`` the events the deviation stands for (a count's
  ``|actual - expected|``; a rate's deviation times its denominator; a silent series' usual daily
  level). A 3-sigma breach moving a dozen reports weighs 1.3; one moving 300,000 weighs 5.5;
- duration: ``1 + ln(days breaching)``: a week-long breach weighs about three single days.

Routes can take only alerts at or above a ``min_significance`` (channels.yaml): leadership
hears of what moves volume, analysts of everything.
"""

from __future__ import annotations

import math

MAX_SURPRISE = 10.0
DEFAULT_SURPRISE = 3.0


def breach_significance(score: float | None, moved: float | None) -> float:
    """One day's significance, before its duration is known."""
    surprise = DEFAULT_SURPRISE if score is None or not math.isfinite(score) else abs(score)
    volume = math.log10(10.0 + abs(moved)) if moved is not None and math.isfinite(moved) else 1.0
    return round(min(surprise, MAX_SURPRISE) * volume, 3)


def with_duration(one_day: float | None, days: int) -> float | None:
    if one_day is None:
        return None
    return round(one_day * (1.0 + math.log(max(days, 1))), 3)


def moved_events(value: float, expected: float, denominator: float | None, rate: bool) -> float:
    """The events a deviation stands for: counts as they are, a rate times its denominator."""
    moved = abs(value - expected)
    if rate:
        return moved * denominator if denominator is not None and denominator > 0 else 0.0
    return moved

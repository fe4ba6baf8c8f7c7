"""Bands that follow a series' recent coverage: adaptive conformal widening.

The calibration factors of the weekly selection come from backtests that end four weeks
before the selection; a series that has since changed (a new regime, a noisier source) keeps
bands sized for what it was. Every day, each band is checked against the series' own recent
one-step errors (the errors ``forecast_accuracy`` records): when, over the last ``window``
days, the calibrated band missed more often than chance allows at its level (binomial tail
below ``MAX_CHANCE``), the band is widened to the conformal quantile of those days' errors; as
those days leave the window, it narrows back to its calibrated width. It is never narrowed
below it (the alert line is never made narrower than the model's own, ``calibration.py``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

Z = {"80": 1.2815515655446004, "95": 1.959963984540054}
NOMINAL = {"80": 0.80, "95": 0.95}
# Chance of that many misses or more in the window on a band that is right: rarer than this
# and the band is taken to be too narrow for the series as it is now.
MAX_CHANCE = 0.01
# The widest a band is made: a few days of a new regime say the band is too narrow, not by
# how much for weeks to come.
MAX_WIDENING = 3.0


@lru_cache(maxsize=256)
def misses_allowed(window: int, level: str, max_chance: float = MAX_CHANCE) -> int:
    """The most misses in ``window`` days a band at ``level`` has by chance often enough."""
    p = 1 - NOMINAL[level]
    tail = 1.0
    for k in range(window + 1):
        # P(X >= k + 1) = tail - P(X = k)
        tail -= math.comb(window, k) * p**k * (1 - p) ** (window - k)
        if tail < max_chance:
            return k
    return window


def recent_widening(
    z: np.ndarray,
    fitted: np.ndarray,
    fitted_sd: np.ndarray,
    factors: tuple[float, float],
    window: int,
) -> np.ndarray:
    """Per day of the history, and one more for the day after it: the widening (>= 1) of the
    80 % and 95 % bands of the one-step forecast for that day, from the errors before it only.
    Shape ``(len(z) + 1, 2)``. ``factors`` are the calibration factors already applied."""
    n = len(z)
    out = np.ones((n + 1, 2))
    if window <= 0:
        return out
    error = np.abs(z - fitted)
    for column, (level, factor) in enumerate(zip(("80", "95"), factors, strict=True)):
        half = Z[level] * fitted_sd * max(factor, 1e-9)
        with np.errstate(divide="ignore", invalid="ignore"):
            needed = pd.Series(np.where(half > 0, error / half, np.nan))
        counted = needed.notna()
        missed = (needed > 1).astype(float).where(counted)
        misses = missed.rolling(window, min_periods=window // 2).sum()
        days = counted.astype(float).rolling(window, min_periods=1).sum()
        # The conformal quantile of the window's multipliers (the largest at 95 % of 14 days).
        quantile = needed.rolling(window, min_periods=window // 2).quantile(
            min(1.0, math.ceil((window + 1) * NOMINAL[level]) / window), interpolation="higher"
        )
        allowed = np.array([misses_allowed(int(d), level) if d else window for d in days])
        widen = np.where(misses.to_numpy() > allowed, quantile.to_numpy(), 1.0)
        widen = np.clip(np.nan_to_num(widen, nan=1.0), 1.0, MAX_WIDENING)
        out[1:, column] = widen  # the errors through day t size the band for day t + 1
    return out

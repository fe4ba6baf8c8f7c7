"""Forecast accuracy measures, on the original scale (NaN actuals are left out).

- MASE: mean absolute error divided by the in-sample mean absolute change of the seasonal
  naive forecast (same weekday last week), so 1.0 means "as good as last week's value".
- sMAPE: mean of 2|a - f| / (|a| + |f|), in percent; a day where both are 0 counts as 0.
- Coverage: the share of actuals inside the interval.
- Winkler (interval) score: width, plus 2/alpha times how far an actual falls outside; lower is
  better, and it rewards narrow intervals only while they keep covering.
"""

from __future__ import annotations

import numpy as np

SEASON = 7


def _valid(actual: np.ndarray, *others: np.ndarray) -> np.ndarray:
    keep = np.isfinite(actual)
    for other in others:
        keep &= np.isfinite(other)
    return keep


def naive_scale(insample, season: int = SEASON) -> float:
    """MASE's denominator: the in-sample mean absolute change over one season."""
    insample = np.asarray(insample, dtype=float)
    changes = np.abs(insample[season:] - insample[:-season])
    return float(np.nanmean(changes)) if np.isfinite(changes).any() else float("nan")


def scaled_error(actual, forecast, scale: float) -> float:
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    keep = _valid(actual, forecast)
    if not keep.any() or not np.isfinite(scale) or scale == 0:
        return float("nan")
    return float(np.mean(np.abs(actual[keep] - forecast[keep])) / scale)


def mase(actual, forecast, insample, season: int = SEASON) -> float:
    return scaled_error(actual, forecast, naive_scale(insample, season))


def smape(actual, forecast) -> float:
    actual, forecast = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    keep = _valid(actual, forecast)
    if not keep.any():
        return float("nan")
    a, f = actual[keep], forecast[keep]
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2 * np.abs(a - f), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100 * np.mean(ratio))


def coverage(actual, lower, upper) -> float:
    actual, lower, upper = (np.asarray(v, dtype=float) for v in (actual, lower, upper))
    keep = _valid(actual, lower, upper)
    if not keep.any():
        return float("nan")
    a = actual[keep]
    return float(np.mean((a >= lower[keep]) & (a <= upper[keep])))


def winkler(actual, lower, upper, alpha: float) -> float:
    actual, lower, upper = (np.asarray(v, dtype=float) for v in (actual, lower, upper))
    keep = _valid(actual, lower, upper)
    if not keep.any():
        return float("nan")
    a, lo, hi = actual[keep], lower[keep], upper[keep]
    score = (hi - lo) + (2 / alpha) * np.maximum(lo - a, 0) + (2 / alpha) * np.maximum(a - hi, 0)
    return float(np.mean(score))

"""What every forecast model shares: the output, the interface, the failure, and the numeric
helpers the models build on (robust spread, interpolation, the exploding-fit guard)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

SEASON = 7


@dataclass
class ModelOutput:
    mean: np.ndarray  # horizon steps ahead
    sd: np.ndarray  # standard deviation of the error per step
    fitted: np.ndarray  # one-step-ahead prediction for each history day (NaN where none)
    fitted_sd: np.ndarray
    note: str = ""
    params: dict | None = None


class ForecastModel(Protocol):
    name: str
    min_history: int

    def fit_predict(
        self,
        z: np.ndarray,
        horizon: int,
        *,
        start: pd.Timestamp | None = None,
        params: dict | None = None,
    ) -> ModelOutput: ...


class ModelFailed(RuntimeError):
    """The model could not give a trustworthy forecast; the engine falls back."""


def robust_sigma(resid: np.ndarray) -> float:
    resid = resid[np.isfinite(resid)]
    if len(resid) < SEASON:
        return float("nan")
    mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return mad if mad > 1e-9 else float(np.sqrt(np.mean(resid**2)))


def guard(mean: np.ndarray, var: np.ndarray, history: np.ndarray, spread: float) -> None:
    """Reject exploding fits: non-finite output or a forecast far outside anything seen."""
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        raise ModelFailed("non-finite forecast")
    low, high = np.nanmin(history) - 2 * spread - 1, np.nanmax(history) + 2 * spread + 1
    if mean.min() < low or mean.max() > high:
        raise ModelFailed("forecast left the range of the history (exploding fit)")
    if np.sqrt(var.max()) > 4 * spread + 1:
        raise ModelFailed("interval wider than the history's whole range")


def interpolate(z: np.ndarray) -> np.ndarray:
    if not np.isnan(z).any():
        return z.astype(float)
    idx = np.arange(len(z))
    good = ~np.isnan(z)
    return np.interp(idx, idx[good], z[good])


def fill_by_weekday(z: np.ndarray) -> np.ndarray:
    """A missing day takes the value of the same weekday before it (seasonal carry-forward)."""
    out = z.astype(float).copy()
    for i in range(len(out)):
        if np.isnan(out[i]) and i >= SEASON:
            out[i] = out[i - SEASON]
    return interpolate(out) if np.isnan(out).any() and (~np.isnan(out)).any() else out


def rolling_sd(values: np.ndarray, window: int) -> np.ndarray:
    """Robust (MAD-based) standard deviation over a trailing window, NaN-aware."""
    series = pd.Series(values)
    med = series.rolling(window, min_periods=SEASON).median()
    mad = (series - med).abs().rolling(window, min_periods=SEASON).median()
    sd = 1.4826 * mad
    plain = series.rolling(window, min_periods=SEASON).std()
    # MAD is zero for step-like series; fall back to the plain sd there.
    return np.where(sd > 1e-9, sd, plain).astype(float)

"""The cheap models: seasonal naive (same weekday last week) and the recent level, the
low-volume fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.models.base import (
    SEASON,
    ModelFailed,
    ModelOutput,
    fill_by_weekday,
    robust_sigma,
    rolling_sd,
)


class SeasonalNaive:
    """Same weekday last week. The error scale comes from recent week-on-week changes."""

    name = "seasonal_naive"
    min_history = SEASON + 2

    def __init__(self, scale_window: int = 56) -> None:
        self.scale_window = scale_window

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        n = len(z)
        filled = fill_by_weekday(z)
        diffs = np.full(n, np.nan)
        diffs[SEASON:] = filled[SEASON:] - filled[:-SEASON]
        # sd available at day t uses the changes seen up to t-1 (causal).
        trailing_sd = rolling_sd(diffs, self.scale_window)
        fitted = np.full(n, np.nan)
        fitted[SEASON:] = filled[:-SEASON]
        fitted_sd = np.full(n, np.nan)
        fitted_sd[1:] = trailing_sd[:-1]
        fitted_sd[: SEASON + 2] = np.nan
        sd_now = trailing_sd[-1]
        if not np.isfinite(sd_now):
            raise ModelFailed("not enough week-on-week changes to size an interval")
        steps = np.arange(1, horizon + 1)
        last_week = filled[-SEASON:]
        mean = last_week[(steps - 1) % SEASON]
        sd = sd_now * np.sqrt((steps - 1) // SEASON + 1)
        return ModelOutput(mean, sd, fitted, fitted_sd)


class RecentLevel:
    """The low-volume fallback: the recent level with no weekly pattern.

    A series of a handful of events a day has no weekly shape worth estimating; on the log
    scale its day-to-day noise is as large as the pattern. The forecast is the median of the
    last ``window`` days and the interval their robust spread, both on the transformed scale.
    """

    name = "recent_level"
    min_history = SEASON

    def __init__(self, window: int = 56) -> None:
        self.window = window

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        series = pd.Series(z)
        # Causal: the prediction for day t uses the window ending at t-1.
        level = series.rolling(self.window, min_periods=SEASON).median().shift(1)
        spread = (
            series.rolling(self.window, min_periods=SEASON).apply(robust_sigma, raw=True).shift(1)
        )
        recent = z[-self.window :]
        recent = recent[np.isfinite(recent)]
        if len(recent) < SEASON:
            raise ModelFailed("fewer than a week of recent actuals")
        sd_now = robust_sigma(recent)
        if not np.isfinite(sd_now) or sd_now <= 0:
            sd_now = max(float(np.std(recent)), 0.1)
        mean = np.full(horizon, float(np.median(recent)))
        return ModelOutput(
            mean, np.full(horizon, sd_now), level.to_numpy(), spread.to_numpy(), "", {}
        )

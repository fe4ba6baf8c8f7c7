"""ETS on a series with its yearly season taken out: a candidate the weekly selection picks
only where backtests show the year repeating (a holiday peak, a summer trough).

ETS models the weekly season; a series whose level moves with the year makes it chase the
season with its level and trend, a few weeks late every time. Here the yearly profile is a
few Fourier terms, estimated by least squares together with a linear trend on the history
(which must hold a year and a half, Prophet's own rule: one year cannot tell a season from a
trend). ETS runs on what is
left; its forecast gets the profile back. The profile is re-estimated on every call (a small
least-squares fit), so only ETS's smoothing parameters are stored and reused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.models.base import SEASON, ModelFailed, ModelOutput, interpolate
from risk_pipelines.forecasting.models.ets import ETS

YEAR = 365.25
# A year and a half: every time of year seen once and half of them twice. Backtests cut a
# month off the history three times, so a series with two years gets the candidate scored at
# every cutoff (selection compares only models scored at all of them).
MIN_YEARS_HISTORY = 78 * SEASON
# Harmonics of the year: four follow a peak a few weeks wide without fitting last year's noise.
HARMONICS = 4


class YearlyETS:
    """ETS (weekly season, robust filter) on the series minus a yearly Fourier profile."""

    name = "ets_yearly"
    min_history = 4 * SEASON  # shorter series are refused with a reason, not left unscored

    def __init__(self, max_history: int = 730, walk_forward_days: int = 0) -> None:
        self.max_history = max(max_history, MIN_YEARS_HISTORY)
        self.ets = ETS(
            max_history=self.max_history, fit_window=365, walk_forward_days=walk_forward_days
        )

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        window = z[-self.max_history :]
        if (~np.isnan(window)).sum() < MIN_YEARS_HISTORY:
            raise ModelFailed("a yearly season needs a year and a half of history")
        offset = len(z) - len(window)
        first_day = _day_of_year(start) + offset
        profile = _yearly_profile(interpolate(window), first_day)
        days = np.arange(len(window) + horizon)
        season = _fourier(first_day + days) @ profile
        out = self.ets.fit_predict(window - season[: len(window)], horizon, params=params)
        fitted = np.full(len(z), np.nan)
        fitted[offset:] = out.fitted[-len(window) :] + season[: len(window)]
        fitted_sd = np.full(len(z), np.nan)
        fitted_sd[offset:] = out.fitted_sd[-len(window) :]
        amplitude = float(np.ptp(season[-365:]))
        note = "; ".join(filter(None, [out.note, f"yearly season {amplitude:.2f} peak to trough"]))
        return ModelOutput(
            out.mean + season[len(window) :], out.sd, fitted, fitted_sd, note, out.params
        )


# How closely the weekly means of two years must follow each other (after a linear trend is
# taken out) for the yearly candidate to be worth backtesting. The real-series benchmark calls a
# series yearly-seasonal at the same 0.5 (bench/bench_forecasting_real.py).
MIN_YEARLY_CORRELATION = 0.5


def repeats_yearly(z: np.ndarray) -> bool:
    """Whether a history shows a season that repeats a year later: the gate that keeps the
    yearly candidate's backtests (a second ETS estimation per window) to the series that
    could choose it. Needs ``MIN_YEARS_HISTORY`` days; compares each week's mean, trend taken
    out, with the same week a year (52 weeks) before."""
    window = z[-2 * 52 * SEASON :]
    if (~np.isnan(window)).sum() < MIN_YEARS_HISTORY:
        return False
    weeks = len(window) // SEASON
    tail = interpolate(window[len(window) - weeks * SEASON :])
    weekly = tail.reshape(weeks, SEASON).mean(axis=1)
    x = np.arange(weeks, dtype=float)
    slope, intercept = np.polyfit(x, weekly, 1)
    detrended = weekly - (slope * x + intercept)
    now, year_before = detrended[52:], detrended[:-52]
    if len(now) < 26 or np.std(now) < 1e-9 or np.std(year_before) < 1e-9:
        return False
    return float(np.corrcoef(now, year_before)[0, 1]) >= MIN_YEARLY_CORRELATION


def _day_of_year(start: pd.Timestamp | None) -> float:
    return float(pd.Timestamp(start).day_of_year - 1) if start is not None else 0.0


def _fourier(day: np.ndarray) -> np.ndarray:
    angle = 2 * np.pi * np.outer(day, np.arange(1, HARMONICS + 1)) / YEAR
    return np.hstack([np.sin(angle), np.cos(angle)])


def _yearly_profile(filled: np.ndarray, first_day: float) -> np.ndarray:
    """The Fourier coefficients of the season, fitted with a level and a linear trend on the
    weekly means (so the weekly pattern does not leak into the year)."""
    weeks = len(filled) // SEASON
    tail = filled[len(filled) - weeks * SEASON :]
    weekly = tail.reshape(weeks, SEASON).mean(axis=1)
    mid_days = len(filled) - weeks * SEASON + np.arange(weeks) * SEASON + (SEASON - 1) / 2
    trend = np.column_stack([np.ones(weeks), mid_days / YEAR])
    design = np.hstack([trend, _fourier(first_day + mid_days)])
    coefficients, *_ = np.linalg.lstsq(design, weekly, rcond=None)
    return coefficients[2:]

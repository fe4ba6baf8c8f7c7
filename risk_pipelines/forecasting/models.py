"""Forecast models behind one small interface.

A model takes one daily series on the transformed scale (a float array, NaN for a missing day,
``start`` the date of its first element) and returns, for a horizon, the point forecast and the
standard deviation of the forecast error per step, plus its one-step-ahead predictions for every
historical day (``fitted``, ``fitted_sd``). For seasonal naive, ETS and SARIMAX these are causal:
the prediction for day t uses data up to t-1 only (the state; parameters are estimated once on
the whole window). Prophet's are in-sample fits, and say so in the note.

``params`` is what the model estimated (JSON-safe). Handing them back on a later call skips the
estimation: the weekly selection estimates, the daily refresh only re-runs the filter.
"""

from __future__ import annotations

import warnings
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


class SeasonalNaive:
    """Same weekday last week. The error scale comes from recent week-on-week changes."""

    name = "seasonal_naive"
    min_history = SEASON + 2

    def __init__(self, scale_window: int = 56) -> None:
        self.scale_window = scale_window

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        n = len(z)
        filled = _fill_by_weekday(z)
        diffs = np.full(n, np.nan)
        diffs[SEASON:] = filled[SEASON:] - filled[:-SEASON]
        # sd available at day t uses the changes seen up to t-1 (causal).
        rolling_sd = _rolling_sd(diffs, self.scale_window)
        fitted = np.full(n, np.nan)
        fitted[SEASON:] = filled[:-SEASON]
        fitted_sd = np.full(n, np.nan)
        fitted_sd[1:] = rolling_sd[:-1]
        fitted_sd[: SEASON + 2] = np.nan
        sd_now = rolling_sd[-1]
        if not np.isfinite(sd_now):
            raise ModelFailed("not enough week-on-week changes to size an interval")
        steps = np.arange(1, horizon + 1)
        last_week = filled[-SEASON:]
        mean = last_week[(steps - 1) % SEASON]
        sd = sd_now * np.sqrt((steps - 1) // SEASON + 1)
        return ModelOutput(mean, sd, fitted, fitted_sd)


class ETS:
    """Additive ETS with damped trend and weekly seasonality, filtered robustly.

    statsmodels (ETSModel) estimates the smoothing parameters; the states are then run through
    the same recursions with each day's innovation clipped at ``clip_sigmas`` robust standard
    deviations. One spike (an incident day, a surge) therefore moves the level by a bounded
    step instead of dragging it along, so a sustained surge keeps standing out while the level
    adapts gradually, and intervals are sized from a robust sigma that one outlier cannot
    inflate. Given ``params`` (alpha, beta, gamma, phi) from an earlier fit, only the filter
    runs: a few milliseconds instead of an optimisation.
    """

    name = "ets"
    min_history = 4 * SEASON

    def __init__(
        self, max_history: int = 365, clip_sigmas: float = 3.0, fit_window: int = 365
    ) -> None:
        self.max_history = max_history
        self.clip_sigmas = clip_sigmas
        # Parameters are estimated on the most recent year at most (the costly part); the
        # cheap filter then runs over the whole window, e.g. a two-year backfill.
        self.fit_window = fit_window

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        n_all = len(z)
        window = z[-self.max_history :]
        offset = n_all - len(window)
        missing = np.isnan(window)
        note = f"{int(missing.sum())} missing day(s) interpolated" if missing.any() else ""
        filled = _interpolate(window)
        if np.nanstd(filled) < 1e-9:
            raise ModelFailed("constant series")
        if params is None:
            params = _estimate_ets(filled[-self.fit_window :])
        smoothing = (params["alpha"], params["beta"], params["gamma"], params["phi"])
        states = _heuristic_states(filled)
        # Pass 1 sizes the clip from unclipped residuals; pass 2 is the robust filter itself.
        fitted_window, _ = _robust_filter(filled, smoothing, *states, np.inf)
        burn_in = 2 * SEASON  # the first weeks mostly reflect the heuristic start
        sigma = _robust_sigma((filled - fitted_window)[burn_in:][~missing[burn_in:]])
        if not np.isfinite(sigma) or sigma <= 0:
            raise ModelFailed("no residual variation to size an interval")
        fitted_window, state = _robust_filter(filled, smoothing, *states, self.clip_sigmas * sigma)
        sigma = _robust_sigma((filled - fitted_window)[burn_in:][~missing[burn_in:]])
        mean, var = _forecast_from_state(state, smoothing, len(filled), horizon, sigma)
        spread = np.nanmax(filled) - np.nanmin(filled)
        _guard(mean, var, filled, spread)
        fitted = np.full(n_all, np.nan)
        fitted[offset + burn_in :] = fitted_window[burn_in:]
        fitted_sd = np.full(n_all, np.nan)
        fitted_sd[offset + burn_in :] = sigma
        return ModelOutput(mean, np.sqrt(var), fitted, fitted_sd, note, dict(params))


def _estimate_ets(y: np.ndarray) -> dict:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ETSModel(
            pd.Series(y),
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=SEASON,
            initialization_method="heuristic",
        ).fit(disp=False, maxiter=200)
    params = {
        "alpha": float(result.smoothing_level),
        "beta": float(result.smoothing_trend),
        "gamma": float(result.smoothing_seasonal),
        "phi": float(result.damping_trend),
    }
    if not all(np.isfinite(v) for v in params.values()):
        raise ModelFailed("ETS estimation gave non-finite parameters")
    return params


def _heuristic_states(filled: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Start level and weekly pattern from the first weeks (up to eight), no trend: the filter
    forgets its start within weeks, and the first two weeks are not used."""
    weeks = min(8, len(filled) // SEASON)
    first = filled[: weeks * SEASON]
    level = float(np.mean(first))
    seasonal = np.array([np.mean(first[i::SEASON]) - level for i in range(SEASON)])
    return level, 0.0, seasonal


def _robust_sigma(resid: np.ndarray) -> float:
    resid = resid[np.isfinite(resid)]
    if len(resid) < SEASON:
        return float("nan")
    mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return mad if mad > 1e-9 else float(np.sqrt(np.mean(resid**2)))


def _robust_filter(y, params, level, trend, seasonal, clip):
    """ETS(A,Ad,A) recursions with clipped innovations; returns one-step predictions and the
    final state (level, trend, seasonal slots in time order)."""
    alpha, beta, gamma, phi = params
    season = list(seasonal)
    fitted = np.empty(len(y))
    for t, value in enumerate(y):
        slot = t % SEASON
        prediction = level + phi * trend + season[slot]
        fitted[t] = prediction
        error = min(max(value - prediction, -clip), clip)
        level, trend = level + phi * trend + alpha * error, phi * trend + beta * error
        season[slot] += gamma * error
    return fitted, (level, trend, season)


def _forecast_from_state(state, params, n, horizon, sigma):
    """Point forecast and error variance per step (Hyndman et al. 2008, class 1 models)."""
    alpha, beta, gamma, phi = params
    level, trend, season = state
    steps = np.arange(1, horizon + 1)
    damped = np.array([phi * (1 - phi**h) / (1 - phi) if phi < 1 else float(h) for h in steps])
    mean = level + damped * trend + np.array([season[(n + h - 1) % SEASON] for h in steps])
    # Var(h) = sigma^2 (1 + sum_{j=1}^{h-1} c_j^2), c_j = alpha + beta*damped_j + gamma*[m | j].
    c = alpha + beta * damped + gamma * (steps % SEASON == 0)
    var = sigma**2 * (1 + np.cumsum(np.concatenate(([0.0], c[:-1])) ** 2))
    return mean, var


def _guard(mean: np.ndarray, var: np.ndarray, history: np.ndarray, spread: float) -> None:
    """Reject exploding fits: non-finite output or a forecast far outside anything seen."""
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
        raise ModelFailed("non-finite forecast")
    low, high = np.nanmin(history) - 2 * spread - 1, np.nanmax(history) + 2 * spread + 1
    if mean.min() < low or mean.max() > high:
        raise ModelFailed("forecast left the range of the history (exploding fit)")
    if np.sqrt(var.max()) > 4 * spread + 1:
        raise ModelFailed("interval wider than the history's whole range")


def _interpolate(z: np.ndarray) -> np.ndarray:
    if not np.isnan(z).any():
        return z.astype(float)
    idx = np.arange(len(z))
    good = ~np.isnan(z)
    return np.interp(idx, idx[good], z[good])


def _fill_by_weekday(z: np.ndarray) -> np.ndarray:
    """A missing day takes the value of the same weekday before it (seasonal carry-forward)."""
    out = z.astype(float).copy()
    for i in range(len(out)):
        if np.isnan(out[i]) and i >= SEASON:
            out[i] = out[i - SEASON]
    return _interpolate(out) if np.isnan(out).any() and (~np.isnan(out)).any() else out


def _rolling_sd(values: np.ndarray, window: int) -> np.ndarray:
    """Robust (MAD-based) standard deviation over a trailing window, NaN-aware."""
    series = pd.Series(values)
    med = series.rolling(window, min_periods=SEASON).median()
    mad = (series - med).abs().rolling(window, min_periods=SEASON).median()
    sd = 1.4826 * mad
    plain = series.rolling(window, min_periods=SEASON).std()
    # MAD is zero for step-like series; fall back to the plain sd there.
    return np.where(sd > 1e-9, sd, plain).astype(float)


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
            series.rolling(self.window, min_periods=SEASON).apply(_robust_sigma, raw=True).shift(1)
        )
        recent = z[-self.window :]
        recent = recent[np.isfinite(recent)]
        if len(recent) < SEASON:
            raise ModelFailed("fewer than a week of recent actuals")
        sd_now = _robust_sigma(recent)
        if not np.isfinite(sd_now) or sd_now <= 0:
            sd_now = max(float(np.std(recent)), 0.1)
        mean = np.full(horizon, float(np.median(recent)))
        return ModelOutput(
            mean, np.full(horizon, sd_now), level.to_numpy(), spread.to_numpy(), "", {}
        )


def _registry() -> dict[str, type]:
    from risk_pipelines.forecasting.prophet_model import ProphetModel
    from risk_pipelines.forecasting.sarimax_model import Sarimax

    return {m.name: m for m in (SeasonalNaive, ETS, ProphetModel, Sarimax, RecentLevel)}


MODEL_NAMES = ("seasonal_naive", "ets", "prophet", "sarimax", "recent_level")
# A Stan or state-space fit per series and day costs a hundred times ETS's filter with stored
# parameters; selection makes these earn their place (see forecasting/selection.py).
COSTLY_MODELS = ("prophet", "sarimax")


def make_model(
    name: str, *, history_days: int = 365, region: str | None = None, in_sample: bool = True
):
    """A model ready to fit, sized to the history it may use; Prophet also gets the region
    whose public holidays it models, and may skip its (non-causal) in-sample fit."""
    cls = _registry()[name]
    if name == "ets":
        return cls(max_history=history_days)
    if name == "prophet":
        return cls(region=region, in_sample=in_sample)
    if name == "sarimax":
        return cls(max_history=min(history_days, 365))  # its cost grows with the window
    return cls()

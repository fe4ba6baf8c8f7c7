"""Additive ETS with damped trend and weekly seasonality, estimated by statsmodels and filtered
with clipped innovations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.models.base import (
    SEASON,
    ModelFailed,
    ModelOutput,
    guard,
    interpolate,
    robust_sigma,
)

# Days in a row beyond the clip, on one side, after which a series is taken to have moved to a
# new level (the alert rules' ``rebaseline_days`` says the same of an open alert).
SHIFT_DAYS = 7
# Weeks in a row in which one weekday is beyond the clip on the same side, after which that
# weekday's seasonal slot moves (a platform that stops submitting on Sundays).
SHIFT_WEEKS = 3
# The recent errors that size the band's tails (a half year).
TAIL_WINDOW = 182
RECENT_DAYS = 28
Z95 = 1.959963984540054
# The narrowest band's sigma, on the model's (log or logit) scale: about 1 %. A history that
# repeats itself exactly (a synthetic or hand-made series) is no promise that tomorrow will,
# and a zero-width band makes any change immeasurable rather than surprising.
MIN_SIGMA = 0.01
# After a level jump, for RECENT_DAYS, the forecast carries the uncertainty of the new level
# itself: the median of three days' errors, whose variance is about pi / 2 / 3 of one day's.
NEW_LEVEL_VARIANCE = np.pi / 6


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
        self,
        max_history: int = 365,
        clip_sigmas: float = 3.0,
        fit_window: int = 365,
        walk_forward_days: int = 0,
    ) -> None:
        self.max_history = max_history
        self.clip_sigmas = clip_sigmas
        # Parameters are estimated on the most recent year at most (the costly part); the
        # cheap filter then runs over the whole window, e.g. a two-year backfill.
        self.fit_window = fit_window
        # The last days whose one-step forecasts a backfilled range's alerts will judge: their
        # parameters are re-estimated weekly on the days before each week, as the weekly
        # selection would have done. Estimated once at the range's end, they have seen the
        # anomalies in the range, and a level that learnt a regression follows it within a day.
        self.walk_forward_days = walk_forward_days

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        n_all = len(z)
        window = z[-self.max_history :]
        offset = n_all - len(window)
        missing = np.isnan(window)
        note = f"{int(missing.sum())} missing day(s) interpolated" if missing.any() else ""
        filled = interpolate(window)
        if np.nanstd(filled) < 1e-9:
            raise ModelFailed("constant series")
        if params is None:
            params = _estimate_ets(filled[-self.fit_window :])
        smoothing = (params["alpha"], params["beta"], params["gamma"], params["phi"])
        states = _heuristic_states(filled)
        # Pass 1 sizes the clip from unclipped residuals; pass 2 is the robust filter itself.
        fitted_window, _, _ = _robust_filter(filled, smoothing, *states, np.inf)
        burn_in = 2 * SEASON  # the first weeks mostly reflect the heuristic start
        sigma = robust_sigma((filled - fitted_window)[burn_in:][~missing[burn_in:]])
        if not np.isfinite(sigma) or sigma <= 0:
            raise ModelFailed("no residual variation to size an interval")
        fitted_window, state, since_jump = _robust_filter(
            filled, smoothing, *states, self.clip_sigmas * sigma
        )
        residuals = (filled - fitted_window)[burn_in:][~missing[burn_in:]]
        if self.walk_forward_days:
            fitted_window = self._walk_forward(filled, states, fitted_window)
        # The tails are learnt from before the last four weeks, so an anomaly under way (a
        # five-day surge at the end of a short history) does not widen the band it is judged by.
        tail = _tail_sigma(residuals[-TAIL_WINDOW:-RECENT_DAYS])
        sigma = max(robust_sigma(residuals), tail, MIN_SIGMA)
        mean, var = _forecast_from_state(state, smoothing, len(filled), horizon, sigma)
        if since_jump is not None and since_jump < RECENT_DAYS:
            var = var + NEW_LEVEL_VARIANCE * sigma**2  # the new level is known from three days
        spread = np.nanmax(filled) - np.nanmin(filled)
        guard(mean, var, filled, spread)
        fitted = np.full(n_all, np.nan)
        fitted[offset + burn_in :] = fitted_window[burn_in:]
        errors = np.where(missing, np.nan, filled - fitted_window)
        errors[:burn_in] = np.nan
        fitted_sd = np.full(n_all, np.nan)
        fitted_sd[offset + burn_in :] = _trailing_sigmas(errors)[burn_in:]
        return ModelOutput(mean, np.sqrt(var), fitted, fitted_sd, note, dict(params))

    def _walk_forward(self, filled, states, fitted_window) -> np.ndarray:
        """The one-step forecasts with the last ``walk_forward_days`` filtered as the days came:
        at the start of each of their weeks the parameters and the clip are re-estimated from
        the days before it only (the forecast beyond the history keeps the whole window's)."""
        first = max(len(filled) - self.walk_forward_days, self.min_history)
        schedule = {}
        for start in range(first, len(filled), SEASON):
            seen = filled[:start]
            try:
                estimated = _estimate_ets(seen[-self.fit_window :])
            except ModelFailed:
                continue  # the previous week's parameters carry on
            params = tuple(estimated[k] for k in ("alpha", "beta", "gamma", "phi"))
            unclipped, _, _ = _robust_filter(seen, params, *states, np.inf)
            spread = robust_sigma((seen - unclipped)[2 * SEASON :])
            if np.isfinite(spread) and spread > 0:
                schedule[start] = (params, self.clip_sigmas * spread)
        if not schedule:
            return fitted_window
        # The days before the first week run on that week's parameters too: the state it starts
        # from must not carry what the whole window's parameters learnt from later days.
        params, clip = schedule[min(schedule)]
        walked, _, _ = _robust_filter(filled, params, *states, clip, schedule=schedule)
        out = fitted_window.copy()
        out[first:] = walked[first:]
        return out


def _trailing_sigmas(errors: np.ndarray) -> np.ndarray:
    """Per day, the sigma the band of that day's one-step forecast would have had when it was
    made: from the errors before it only, re-sized weekly (as the weekly refit does). A
    backfilled range gets its earlier days' bands from these, so a surge at the end of the
    range does not widen the bands it is judged by. Days with less than a week of earlier
    errors get no band (the engine forecasts no day that young anyway)."""
    out = np.full(len(errors), np.nan)
    for start in range(0, len(errors), SEASON):
        before = errors[:start]
        before = before[np.isfinite(before)]
        core = robust_sigma(before)
        if np.isfinite(core):
            tail = _tail_sigma(before[-TAIL_WINDOW:-RECENT_DAYS])
            out[start : start + SEASON] = max(core, tail, MIN_SIGMA)
    return out


def _tail_sigma(residuals: np.ndarray) -> float:
    """The sigma at which a normal 95 % band would have covered 95 % of these one-step errors.

    The robust sigma describes the core of the errors; on a heavy-tailed series (a platform
    that submits in batches: a day of 100 times the usual now and then) a band sized from it
    alone is breached every week, and every breach is an alert nobody needs."""
    if len(residuals) < 4 * SEASON:
        return 0.0
    centred = np.abs(residuals - np.median(residuals))
    return float(np.quantile(centred, 0.95)) / Z95


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
    forgets its start within weeks, and the first two weeks are not used. Medians, not means:
    a platform's first day is often a partial one (a handful of statements), and one such day
    must not set its weekday's slot far below the others."""
    weeks = min(8, len(filled) // SEASON)
    first = filled[: weeks * SEASON]
    level = float(np.median(first))
    seasonal = np.array([np.median(first[i::SEASON]) - level for i in range(SEASON)])
    return level, 0.0, seasonal


def _robust_filter(y, params, level, trend, seasonal, clip, schedule=None):
    """ETS(A,Ad,A) recursions with robust innovations; returns one-step predictions, the final
    state (level, trend, seasonal slots in time order) and the days since the level last
    jumped (None when it never did). ``schedule`` maps a day's index to the parameters and
    clip used from that day on (a walk-forward replay's weekly re-estimates).

    A day beyond the clip does not move the states while it may still be an anomaly: a spike,
    a five-day surge or a drop leaves the forecast where it was, so the day the series comes
    back is not itself a surprise (an alert "the other way"). But what lasts is learned:
    after ``SHIFT_DAYS`` such days in a row on one side the level jumps by the median of the
    last three days' errors (the series is re-baselined at its new level), and after
    ``SHIFT_WEEKS`` such days in a row of one weekday, on one side, that weekday's slot does
    (the weekly pattern changed). Days inside the clip update the states as usual."""
    alpha, beta, gamma, phi = params
    season = list(seasonal)
    fitted = np.empty(len(y))
    run: list[float] = []
    slot_runs: list[list[float]] = [[] for _ in range(SEASON)]
    jumped = None
    schedule = schedule or {}
    for t, value in enumerate(y):
        if t in schedule:
            (alpha, beta, gamma, phi), clip = schedule[t]
        slot = t % SEASON
        prediction = level + phi * trend + season[slot]
        fitted[t] = prediction
        error = value - prediction
        if abs(error) <= clip:
            level, trend = level + phi * trend + alpha * error, phi * trend + beta * error
            season[slot] += gamma * error
            run, slot_runs[slot] = [], []
            continue
        level = level + phi * trend  # the anomaly itself teaches nothing yet
        trend = phi * trend
        run = _extend(run, error)
        slot_runs[slot] = _extend(slot_runs[slot], error)
        if len(run) >= SHIFT_DAYS:
            level += float(np.median(run[-3:]))
            run, slot_runs, jumped = [], [[] for _ in range(SEASON)], t
        elif len(slot_runs[slot]) >= SHIFT_WEEKS:
            season[slot] += float(np.median(slot_runs[slot]))
            slot_runs[slot] = []
    return fitted, (level, trend, season), None if jumped is None else len(y) - 1 - jumped


def _extend(run: list[float], error: float) -> list[float]:
    """The run of same-side errors with this one added (a new run when the side changes)."""
    return [*run, error] if run and (error > 0) == (run[-1] > 0) else [error]


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

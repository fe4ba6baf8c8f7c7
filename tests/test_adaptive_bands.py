"""Bands follow the series' recent coverage: they widen when a series gets noisier than its
calibration knew, narrow back as it settles, and leave a series that behaves alone."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame
from risk_pipelines.forecasting.adaptive import misses_allowed, recent_widening

START = dt.date(2025, 1, 6)


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed directly."""
    from math import comb

    return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(("level", "p"), [("80", 0.20), ("95", 0.05)])
def test_a_band_is_widened_only_on_more_misses_than_chance_gives_one_time_in_a_hundred(level, p):
    allowed = misses_allowed(14, level)
    assert binomial_tail(14, p, allowed + 1) < 0.01 <= binomial_tail(14, p, allowed)


def noisier_for_a_month(days: int = 300, calm_sd: float = 0.08, seed: int = 3) -> np.ndarray:
    """Log-scale daily counts around a weekly shape whose noise triples for days 200-229 (a
    source that batches its submissions for a month), then calms again."""
    rng = np.random.default_rng(seed)
    weekly = np.log(np.array([500, 540, 560, 550, 520, 380, 360], dtype=float))
    sd = np.full(days, calm_sd)
    sd[200:230] *= 3
    return np.tile(weekly, days // 7 + 1)[:days] + rng.normal(0, sd)


def test_the_band_widens_within_days_of_a_noisier_month_and_narrows_once_it_is_over():
    z = noisier_for_a_month()
    fitted = np.full(len(z), np.nan)
    fitted[7:] = np.log(np.array([500, 540, 560, 550, 520, 380, 360.0]))[np.arange(7, len(z)) % 7]
    fitted_sd = np.full(len(z), 0.08)
    widening = recent_widening(z, fitted, fitted_sd, (1.0, 1.0), window=14)
    ninety_five = widening[:, 1]
    assert (ninety_five[20:200] == 1).mean() > 0.97  # calm: the calibrated band, nearly always
    assert (ninety_five[210:231] > 1.5).all()  # ten days into the noisy month, and on to its end
    assert (ninety_five[250:] == 1).all()  # two weeks after it ended: back to the calibrated band
    assert widening.max() <= 3.0


def weekly_counts(days: int, noise: np.ndarray, rng) -> np.ndarray:
    shape = np.array([500, 540, 560, 550, 520, 380, 360], dtype=float)
    level = np.tile(shape, days // 7 + 1)[:days]
    return rng.poisson(level * np.exp(noise))


def backfill(y: np.ndarray, adaptive_window: int) -> pd.DataFrame:
    days = pd.date_range(START, periods=len(y), freq="D")
    long = pd.DataFrame({"unique_id": "s", "ds": days, "y": y})
    config = ForecastConfig(workers=1, horizon=7, adaptive_window=adaptive_window)
    result = forecast_series_frame(
        long, [d.date() for d in days[150:]], lambda _: "count", config
    ).forecasts
    rows = result[result["is_primary"] & (result["horizon"] == 1)].copy()
    rows["ds"] = pd.to_datetime(rows["ds"])
    return rows.merge(long, on=["unique_id", "ds"]).set_index("ds").sort_index()


def test_a_backfill_covers_a_noisier_month_better_and_a_calm_series_as_before():
    rng = np.random.default_rng(9)
    days = 330
    noise = rng.normal(0, 0.08, days)
    noise[240:270] = rng.normal(0, 0.3, 30)
    y = weekly_counts(days, noise, rng)

    def covered(rows: pd.DataFrame) -> pd.Series:
        return (rows["y"] >= rows["yhat_lo_95"]) & (rows["y"] <= rows["yhat_hi_95"])

    fixed, adaptive = backfill(y, 0), backfill(y, 14)
    month = slice(fixed.index[0] + pd.Timedelta(days=95), fixed.index[0] + pd.Timedelta(days=119))
    assert covered(adaptive.loc[month]).mean() >= covered(fixed.loc[month]).mean() + 0.1
    calm = slice(None, fixed.index[0] + pd.Timedelta(days=85))
    width = adaptive["yhat_hi_95"] - adaptive["yhat_lo_95"]
    fixed_width = fixed["yhat_hi_95"] - fixed["yhat_lo_95"]
    assert (width.loc[calm] / fixed_width.loc[calm]).median() == pytest.approx(1.0)
    assert (width.iloc[-20:] / fixed_width.iloc[-20:]).median() == pytest.approx(1.0)

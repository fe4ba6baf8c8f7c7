"""Series hygiene: what a series goes through before a model sees it, and why."""

import numpy as np
import pandas as pd

from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame
from risk_pipelines.forecasting.backtest import BacktestConfig, backtest_frame
from risk_pipelines.forecasting.hygiene import level_shift_start

DAYS = pd.date_range("2025-01-06", periods=420, freq="D")
WEEKLY = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.7, 0.65])
SERIAL = ForecastConfig(workers=1, horizon=14)


def counts(level, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = np.broadcast_to(np.asarray(level, dtype=float), (len(DAYS),))
    return rng.poisson(level * WEEKLY[DAYS.day_of_week]).astype(float)


def long(y: np.ndarray, uid: str = "a", days=DAYS) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": days[: len(y)], "y": y})


def forecast(y: np.ndarray, **config) -> pd.DataFrame:
    cfg = ForecastConfig(**{"workers": 1, "horizon": 14, **config})
    result = forecast_series_frame(long(y), [DAYS[-1].date()], lambda _: "count", cfg)
    return result.forecasts.query("is_primary")


def shifted(at: int = 300, before: float = 200, after: float = 500) -> np.ndarray:
    level = np.where(np.arange(len(DAYS)) < at, before, after)
    return counts(level)


def test_a_level_shift_is_found_on_its_day():
    start, size = level_shift_start(np.log1p(shifted(at=300)))
    assert abs(start - 300) <= 1 and 0.8 < size < 1.0  # log(500/200) = 0.92


def test_history_before_a_level_shift_is_trimmed_so_the_band_stays_tight():
    f = forecast(shifted(at=300))
    control = forecast(counts(500))
    assert "level shift on 2025-11-02" in f["note"].iloc[0]
    np.testing.assert_allclose(f["yhat"].mean(), control["yhat"].mean(), rtol=0.05)
    width = (f["yhat_hi_95"] - f["yhat_lo_95"]).mean()
    control_width = (control["yhat_hi_95"] - control["yhat_lo_95"]).mean()
    assert width < 1.3 * control_width


def test_a_trend_a_yearly_swing_or_a_too_recent_shift_is_not_trimmed():
    t = np.arange(len(DAYS))
    assert level_shift_start(np.log1p(counts(100 + 200 * t / len(DAYS)))) is None
    assert (
        level_shift_start(np.log1p(counts(300 * (1 + 0.2 * np.sin(2 * np.pi * t / 365))))) is None
    )
    assert level_shift_start(np.log1p(shifted(at=len(DAYS) - 20))) is None


def test_a_step_the_series_also_took_a_year_before_is_its_season_not_a_shift():
    """A holiday peak ends the same way every January: the second year's end is not a new
    level to trim at, or the history that shows the season would be thrown away."""
    days = pd.date_range("2024-10-01", periods=560, freq="D")
    peak = (days.month == 12) | ((days.month == 1) & (days.day <= 10))
    level = np.where(peak, 600.0, 300.0)
    z = np.log1p(np.random.default_rng(2).poisson(level * WEEKLY[days.day_of_week]))
    assert level_shift_start(z) is None
    # The same step in January without one the year before is a new level.
    once = np.where(days >= "2026-01-11", 150.0, 300.0)
    z_once = np.log1p(np.random.default_rng(2).poisson(once * WEEKLY[days.day_of_week]))
    assert level_shift_start(z_once) is not None


def test_a_backfilled_range_keeps_the_history_its_earliest_forecast_needs():
    y = shifted(at=400)
    as_of = [d.date() for d in DAYS[380:]]
    result = forecast_series_frame(long(y), as_of, lambda _: "count", SERIAL)
    primary = result.forecasts.query("is_primary")
    assert primary["as_of"].nunique() == len(as_of)  # every day of the range has its forecast


def test_known_incident_days_are_left_out_like_missing_days():
    y = counts(300)
    incident = [DAYS[-30], DAYS[-29], DAYS[-10]]
    spiked = y.copy()
    spiked[DAYS.isin(incident)] *= 10
    gaps = y.copy()
    gaps[DAYS.isin(incident)] = np.nan
    masked = forecast(spiked, excluded_days=tuple(d.date() for d in incident))
    missing = forecast(gaps)
    assert "3 known incident day(s) left out" in masked["note"].iloc[0]
    np.testing.assert_allclose(masked["yhat"], missing["yhat"], rtol=1e-9)
    np.testing.assert_allclose(masked["yhat_hi_95"], missing["yhat_hi_95"], rtol=1e-9)


def test_a_low_volume_series_falls_back_to_its_recent_level_with_the_reason():
    f = forecast(counts(2.0))
    assert (f["model"] == "recent_level").all()
    assert "low volume: median" in f["note"].iloc[0]
    assert (f["yhat_lo_95"] >= 0).all()
    forecasts, _ = backtest_frame(
        long(counts(2.0)), lambda _: "count", BacktestConfig(horizon=14, windows=2, step=14)
    )
    assert set(forecasts["model"]) == {"recent_level"}  # backtested as it would run


def test_a_series_that_starts_late_is_forecast_from_its_first_day():
    y = counts(300)
    late = long(y[-60:], days=DAYS[-60:])
    result = forecast_series_frame(late, [DAYS[-1].date()], lambda _: "count", SERIAL)
    assert result.primary_models == {"a": "ets"}
    assert not result.forecasts["note"].fillna("").str.contains("missing day").any()


def test_a_series_that_stopped_after_a_taxonomy_change_gets_no_forecast():
    old = long(counts(300)[:350], uid="old_category")
    new = long(counts(300)[350:], uid="new_category", days=DAYS[350:])
    result = forecast_series_frame(
        pd.concat([old, new]), [DAYS[-1].date()], lambda _: "count", SERIAL
    )
    assert "series stopped: last actual 2025-12-21" in result.skipped["old_category"]
    assert result.primary_models == {"new_category": "ets"}

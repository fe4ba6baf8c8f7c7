"""Rolling-origin backtests: each model is cut off at past days, sees only what came before,
and is scored against what happened next."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipelines.forecasting.backtest import BacktestConfig, backtest_frame

START = dt.date(2026, 1, 5)  # a Monday
FAST = ("seasonal_naive", "ets")  # Prophet has tests of its own


def series(values, uid="decisions|own|all|all|all") -> pd.DataFrame:
    ds = pd.date_range(START, periods=len(values), freq="D")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(values, dtype=float)})


def count(_uid: str) -> str:
    return "count"


def test_cutoffs_step_back_from_the_last_actual_and_see_only_the_past():
    weekly = np.tile([100, 120, 130, 125, 110, 60, 50], 20)  # 140 days, a pure weekly shape
    config = BacktestConfig(horizon=7, windows=3, step=7, models=("seasonal_naive",))
    forecasts, scores = backtest_frame(series(weekly), count, config)
    last = pd.Timestamp(START) + pd.Timedelta(days=139)
    assert sorted(scores["cutoff"]) == [last - pd.Timedelta(days=d) for d in (21, 14, 7)]
    assert (forecasts["ds"] > forecasts["cutoff"]).all()
    assert (forecasts.groupby("cutoff").size() == 7).all()
    # Actuals are the series' own values on the forecast days.
    position = (forecasts["ds"] - pd.Timestamp(START)).dt.days
    assert np.array_equal(forecasts["actual"].to_numpy(), weekly[position])
    # Last week's value predicts a pure weekly pattern exactly.
    assert scores["smape"].max() == pytest.approx(0, abs=1e-9)
    assert np.allclose(forecasts["yhat"], forecasts["actual"])


def test_intervals_cover_close_to_nominal_on_poisson_noise():
    rng = np.random.default_rng(3)
    level = np.tile([200, 220, 230, 225, 210, 150, 140], 60)
    y = rng.poisson(level)
    config = BacktestConfig(horizon=28, windows=6, step=28, models=FAST)
    _, scores = backtest_frame(series(y), count, config)
    by_model = scores.groupby("model")[["coverage_80", "coverage_95", "mase"]].mean()
    assert 0.85 <= by_model.loc["ets", "coverage_95"] <= 1.0
    assert 0.6 <= by_model.loc["ets", "coverage_80"] <= 0.97
    assert by_model.loc["ets", "mase"] < by_model.loc["seasonal_naive", "mase"] * 1.2


def test_missing_days_are_left_out_of_the_scores_not_counted_as_zero():
    weekly = np.tile([100.0, 120, 130, 125, 110, 60, 50], 12)
    weekly[-3] = np.nan  # a day that never landed, inside the last window
    config = BacktestConfig(horizon=7, windows=1, models=("seasonal_naive",))
    forecasts, scores = backtest_frame(series(weekly), count, config)
    assert forecasts["actual"].isna().sum() == 1
    assert scores["smape"].iloc[0] == pytest.approx(0, abs=1e-9)


def test_a_series_too_short_for_one_window_gets_no_rows():
    forecasts, scores = backtest_frame(series(np.ones(10)), count, BacktestConfig(horizon=28))
    assert forecasts.empty and scores.empty


def test_rates_stay_inside_the_unit_interval():
    rng = np.random.default_rng(5)
    rate = np.clip(0.97 + rng.normal(0, 0.01, 200), 0, 1)
    forecasts, _ = backtest_frame(
        series(rate, uid="proactive_rate|own|all|all|all"),
        lambda _: "rate",
        BacktestConfig(models=FAST),
    )
    bounds = forecasts[["yhat_lo_95", "yhat_hi_95", "yhat"]]
    assert (bounds >= 0).all().all() and (bounds <= 1).all().all()


def test_scores_are_kept_per_run_in_forecast_backtests(warehouse_url):
    from risk_pipelines.forecasting.backtest import backtest_rows
    from risk_pipelines.warehouse import Warehouse

    rng = np.random.default_rng(1)
    y = rng.poisson(np.tile([50, 60, 70, 65, 55, 30, 25], 20))
    _, scores = backtest_frame(
        series(y), count, BacktestConfig(horizon=7, windows=2, step=7, models=FAST)
    )
    warehouse = Warehouse(warehouse_url)
    now = dt.datetime(2026, 11, 24, 12)
    for run_id in ("run-a", "run-b"):
        warehouse.replace_rows(
            "forecast_backtests", backtest_rows(scores, run_id, now), where={"run_id": run_id}
        )
    stored = warehouse.read_sql(
        "SELECT * FROM forecast_backtests WHERE run_id = 'run-b' ORDER BY unique_id, model, cutoff"
    )
    assert warehouse.count("forecast_backtests") == 2 * len(scores) == 8
    assert sorted(stored["model"].unique()) == ["ets", "seasonal_naive"]
    assert stored["mase"].to_numpy() == pytest.approx(
        scores.sort_values(["unique_id", "model", "cutoff"])["mase"].to_numpy()
    )


def test_a_costly_model_behind_the_cheap_ones_at_the_newest_cutoff_is_raced_out():
    from risk_pipelines.forecasting.backtest import _race

    models = ["seasonal_naive", "ets", "prophet"]
    behind = {"seasonal_naive": 1.2, "ets": 1.0, "prophet": 1.1}
    assert _race(models, behind) == ["seasonal_naive", "ets"]
    ahead = {"seasonal_naive": 1.2, "ets": 1.0, "prophet": 0.9}
    assert _race(models, ahead) == models
    assert _race(models, {"seasonal_naive": 1.0}) == ["seasonal_naive", "ets"]  # prophet failed

"""Conformal calibration moves backtested coverage toward the nominal 80/95 %."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from risk_pipelines.forecasting.backtest import BacktestConfig, backtest_frame
from risk_pipelines.forecasting.calibration import (
    apply_calibration,
    calibration_factors,
    conformal_factor,
)
from risk_pipelines.forecasting.scoring import coverage


def noisy_series(n_series: int = 12, days: int = 420) -> pd.DataFrame:
    """Weekly shape plus independent Gaussian noise of known size: week-on-week changes have
    twice the noise variance, so last-week's-value bands come out too wide."""
    rng = np.random.default_rng(11)
    ds = pd.date_range(dt.date(2025, 1, 6), periods=days, freq="D")
    shape = np.tile([500, 540, 560, 550, 520, 380, 360], days // 7 + 1)[:days]
    frames = [
        pd.DataFrame({"unique_id": f"decisions|own|c{i}|all|all", "ds": ds,
                      "y": shape + rng.normal(0, 25, days)})
        for i in range(n_series)
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_the_conformal_factor_is_the_finite_sample_quantile():
    multipliers = pd.Series([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    # ceil((9 + 1) * 0.8) = 8th smallest
    assert conformal_factor(multipliers, 0.8) == pytest.approx(0.8)
    assert conformal_factor(pd.Series([], dtype=float), 0.8) == 1.0


def test_calibration_on_older_windows_brings_newer_coverage_toward_nominal():
    config = BacktestConfig(horizon=28, windows=6, step=28, models=("seasonal_naive",))
    forecasts, _ = backtest_frame(noisy_series(), lambda _: "count", config)
    newest = forecasts["cutoff"] == forecasts["cutoff"].max()
    factors = calibration_factors(forecasts[~newest])
    held_out = forecasts[newest]
    calibrated = apply_calibration(held_out, factors, lambda _: "count")
    for level, nominal in (("80", 0.80), ("95", 0.95)):
        before = coverage(held_out["actual"], held_out[f"yhat_lo_{level}"],
                          held_out[f"yhat_hi_{level}"])  # fmt: skip
        after = coverage(calibrated["actual"], calibrated[f"yhat_lo_{level}"],
                         calibrated[f"yhat_hi_{level}"])  # fmt: skip
        if level == "95" and before >= nominal:
            # The alert line is never narrowed below the model's own band (calibration.py).
            assert after == before
        else:
            assert abs(after - nominal) < abs(before - nominal)
        assert abs(after - nominal) < 0.06
    assert (factors["basis"] == "series").all()  # 140 backtest days each: enough of its own


def test_a_series_with_few_backtest_days_borrows_its_models_factor():
    config = BacktestConfig(horizon=7, windows=2, step=7, models=("seasonal_naive",))
    forecasts, _ = backtest_frame(noisy_series(n_series=3), lambda _: "count", config)
    factors = calibration_factors(forecasts)
    assert (factors["basis"] == "model").all()
    assert factors["factor_95"].nunique() == 1


def test_the_calibration_report_shows_each_chosen_models_coverage_before_and_after():
    from risk_pipelines.forecasting.calibration import calibration_report

    config = BacktestConfig(horizon=28, windows=6, step=28, models=("seasonal_naive",))
    forecasts, _ = backtest_frame(noisy_series(), lambda _: "count", config)
    specs = calibration_factors(forecasts)
    (row,) = calibration_report(forecasts, specs, lambda _: "count").to_dict("records")
    assert row["model"] == "seasonal_naive" and row["series"] == 12
    assert abs(row["coverage_80_after"] - 0.80) < abs(row["coverage_80_before"] - 0.80)
    assert row["coverage_95_after"] >= row["coverage_95_before"]  # never narrowed
    assert calibration_report(forecasts.iloc[:0], specs, lambda _: "count").empty

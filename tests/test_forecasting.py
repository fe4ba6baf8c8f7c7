"""Forecasts: every series gets calibrated 80/95 % intervals that respect the metric's kind."""

import numpy as np
import pandas as pd
import pytest

from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame, parallel
from risk_pipelines.forecasting.models import ETS, SeasonalNaive

DAYS = pd.date_range("2025-01-01", periods=400, freq="D")
WEEKLY = np.array([1.0, 0.9, 0.95, 1.0, 1.1, 1.3, 1.25])


def counts(seed: int, level: float = 200.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(level * WEEKLY[DAYS.day_of_week]).astype(float)


def frame(series: dict[str, np.ndarray], days=DAYS) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"unique_id": k, "ds": days[: len(v)], "y": v}) for k, v in series.items()],
        ignore_index=True,
    )


SERIAL = ForecastConfig(workers=1, horizon=14)


def test_one_step_intervals_cover_close_to_nominal():
    series = {f"s{i}": counts(i) for i in range(6)}
    as_of = [d.date() for d in DAYS[200:]]
    result = forecast_series_frame(frame(series), as_of, lambda _: "count", SERIAL)
    f = result.forecasts
    one = f[(f["horizon"] == 1) & (f["model"] == "ets")].copy()
    actual = frame(series).set_index(["unique_id", "ds"])["y"]
    one["y"] = actual.reindex(pd.MultiIndex.from_arrays([one["unique_id"], one["ds"]])).to_numpy()
    cover_95 = ((one["y"] >= one["yhat_lo_95"]) & (one["y"] <= one["yhat_hi_95"])).mean()
    cover_80 = ((one["y"] >= one["yhat_lo_80"]) & (one["y"] <= one["yhat_hi_80"])).mean()
    assert 0.90 <= cover_95 <= 0.99
    assert 0.72 <= cover_80 <= 0.88


def test_every_series_gets_both_models_and_a_full_horizon():
    result = forecast_series_frame(
        frame({"a": counts(1)}), [DAYS[-1].date()], lambda _: "count", SERIAL
    )
    f = result.forecasts
    assert set(f["model"]) == {"seasonal_naive", "ets"}
    assert sorted(f[f["model"] == "ets"]["horizon"]) == list(range(1, 15))
    assert (f["yhat_lo_95"] <= f["yhat_lo_80"]).all() and (f["yhat_lo_80"] <= f["yhat"]).all()
    assert (f["yhat"] <= f["yhat_hi_80"]).all() and (f["yhat_hi_80"] <= f["yhat_hi_95"]).all()
    assert result.primary_models == {"a": "ets"}


def test_counts_never_go_negative_and_rates_stay_inside_0_1():
    rng = np.random.default_rng(3)
    sparse = rng.poisson(0.4, len(DAYS)).astype(float)
    rate = np.clip(0.97 + rng.normal(0, 0.01, len(DAYS)), 0, 1)
    kinds = {"sparse": "count", "rate": "rate"}
    result = forecast_series_frame(
        frame({"sparse": sparse, "rate": rate}), [DAYS[-1].date()], kinds.get, SERIAL
    )
    f = result.forecasts
    assert (f[f["unique_id"] == "sparse"]["yhat_lo_95"] >= 0).all()
    r = f[f["unique_id"] == "rate"]
    assert (r["yhat_lo_95"] >= 0).all() and (r["yhat_hi_95"] <= 1).all()


def test_a_backfilled_range_gets_one_step_forecasts_for_each_earlier_day():
    as_of = [d.date() for d in DAYS[-10:]]
    f = forecast_series_frame(frame({"a": counts(2)}), as_of, lambda _: "count", SERIAL).forecasts
    ets = f[f["model"] == "ets"]
    earlier = ets[ets["as_of"] < pd.Timestamp(as_of[-1])]
    assert len(earlier) == 9 and (earlier["horizon"] == 1).all()
    assert (earlier["ds"] - earlier["as_of"] == pd.Timedelta(days=1)).all()


def test_one_spike_does_not_drag_the_level_or_inflate_intervals():
    y = counts(4)
    spiked = y.copy()
    spiked[-20] = y[-20] * 8  # a one-day incident
    base = ETS().fit_predict(np.log1p(y), 7)
    hit = ETS().fit_predict(np.log1p(spiked), 7)
    assert np.allclose(np.expm1(hit.mean), np.expm1(base.mean), rtol=0.08)
    assert hit.sd[0] < base.sd[0] * 1.15


def test_missing_days_are_gaps_not_zeros():
    y = counts(5)
    data = frame({"a": y}).drop(index=range(300, 305))  # five days never arrived
    result = forecast_series_frame(data, [DAYS[-1].date()], lambda _: "count", SERIAL)
    ets = result.forecasts[result.forecasts["model"] == "ets"]
    assert ets["yhat"].min() > 100
    assert "missing day(s) interpolated" in ets["note"].iloc[0]


def test_short_stopped_and_flat_series_are_skipped_or_fall_back_with_a_reason():
    short = counts(6)[-20:]
    stopped = counts(7)[:300]
    flat = np.full(len(DAYS), 5.0)
    data = pd.concat(
        [
            frame({"short": short}, DAYS[-20:]),
            frame({"stopped": stopped}),
            frame({"flat": flat}),
        ]
    )
    result = forecast_series_frame(data, [DAYS[-1].date()], lambda _: "count", SERIAL)
    assert "shorter than 28" in result.skipped["short"]
    assert "series stopped" in result.skipped["stopped"]
    assert result.primary_models["flat"] == "seasonal_naive"  # ETS refuses a constant series
    note = result.forecasts.query("unique_id == 'flat' and model == 'seasonal_naive'")["note"]
    assert "ets: constant series" in note.iloc[0]


def test_seasonal_naive_repeats_last_week_with_widening_intervals():
    z = np.log1p(counts(8))
    out = SeasonalNaive().fit_predict(z, 14)
    assert np.allclose(out.mean[:7], z[-7:]) and np.allclose(out.mean[7:], z[-7:])
    assert out.sd[7] > out.sd[0]


def test_parallel_and_serial_runs_give_identical_forecasts(monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_FROM_TASKS", 10)  # spread even a small run
    n = 24
    series = {f"s{i}": counts(i, level=50 + i) for i in range(n)}
    as_of = [DAYS[-1].date()]
    serial = forecast_series_frame(frame(series), as_of, lambda _: "count", SERIAL)
    two_workers = forecast_series_frame(
        frame(series), as_of, lambda _: "count", ForecastConfig(workers=2, horizon=14)
    )
    pd.testing.assert_frame_equal(serial.forecasts, two_workers.forecasts)


def test_configuration_errors_are_explained():
    with pytest.raises(ValueError, match="unknown forecast model"):
        ForecastConfig(models=("prophet_x",))
    with pytest.raises(ValueError, match="no as-of day"):
        forecast_series_frame(frame({"a": counts(1)}), [], lambda _: "count", SERIAL)

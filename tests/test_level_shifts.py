"""Level shifts are events, not endless breaches: a series that steps up and stays up raises one
alert that says so and resolves once the forecast has re-baselined; no alert outlives
``max_open_days`` without a fresh breach; the forecast does not recoil after a short anomaly;
and the replay that proves it never reads a value dated on or after the day it forecasts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from risk_pipelines.alerting.evaluation.backtest import backtest_rule, walk_forward_forecasts
from risk_pipelines.alerting.evaluation.evaluate import evaluate_rule
from risk_pipelines.alerting.evaluation.rules import parse_rules
from risk_pipelines.alerting.evaluation.state import step
from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_config
from risk_pipelines.domain.series import to_long
from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame
from risk_pipelines.forecasting.models.ets import ETS, SHIFT_DAYS, SHIFT_WEEKS
from risk_pipelines.warehouse.store import Warehouse

UID = "user_reports|own|scams_and_fraud|all|all"
END = dt.date(2026, 6, 30)


def growth_series(days: int, seed: int = 11, step_at: int | None = None, factor: float = 1.0):
    """Daily reports: ~400 a day growing 0.1 % a day, a weekly cycle, log-normal noise; from
    ``step_at`` on, ``factor`` times that for good."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    values = 400 * (1 + 0.001 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 7))
    values = values * rng.lognormal(0, 0.08, days)
    if step_at is not None:
        values[step_at:] *= factor
    ds = pd.date_range(END - dt.timedelta(days=days - 1), END, freq="D")
    return pd.DataFrame({"ds": ds, "value": np.round(values)})


def metrics_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        unique_id=UID, metric="user_reports", platform="own", policy_category="scams_and_fraud",
        region="all", surface="all", source="landed", numerator=None, denominator=None,
    )  # fmt: skip


def surge_rule(**fields):
    raw = {"id": "surge", "type": "outside_interval", "severity": "high",
           "match": {"metric": "user_reports"}, "direction": "up", "sustain": 1, "hold": 3,
           **fields}  # fmt: skip
    return parse_rules({"rules": [raw]})[0]


def row(day: str, value: float, expected: float, upper: float) -> dict:
    return {"ds": pd.Timestamp(day), "unique_id": UID, "metric": "user_reports",
            "platform": "own", "policy_category": "scams_and_fraud", "region": "all",
            "surface": "all", "value": value, "expected": expected, "lower": expected / 2,
            "upper": upper, "score": 4.0 if value > upper else 0.0}  # fmt: skip


def drive(rule, days: list[dict]) -> list[tuple[str, str, str]]:
    """(day, notice, message) for every notice, feeding one indicator row a day."""
    open_alerts, notices = {}, []
    for today in days:
        evaluation = evaluate_rule(rule, today["ds"], pd.DataFrame([today]), pd.DataFrame())
        for t in step(open_alerts, evaluation, today["ds"].date()):
            key = (t.after.rule_id, t.after.unique_id)
            if t.notify:
                notices.append((f"{today['ds']:%m-%d}", t.notify, t.after.message))
            if t.after.state == "resolved":
                open_alerts.pop(key, None)
            else:
                open_alerts[key] = t.after
    return notices


def test_a_step_that_stays_is_one_alert_that_says_level_shift_and_resolves_after_hold():
    """The band breaks on day 1 (bound 120); the forecast catches up by day 4, so the series is
    inside today's band but still above 120. Before rebaseline_days that is still the surge;
    after, it is a new level: one notice saying so, then hold days, then resolved."""
    days = [row("2026-03-01", 200, 100, 120), row("2026-03-02", 200, 130, 160)]
    days += [row(f"2026-03-{d:02d}", 200, 195, 240) for d in range(3, 20)]
    notices = drive(surge_rule(rebaseline_days=7), days)
    assert [(day, notice) for day, notice, _ in notices] == [
        ("03-01", "firing"), ("03-08", "level_shift"), ("03-10", "resolved"),
    ]  # fmt: skip
    shift_message = notices[1][2]
    assert "level shift to about 200 since 2026-03-01" in shift_message
    assert "re-baselined" in shift_message


def test_a_five_day_surge_is_judged_against_the_opening_bound_and_does_not_rebaseline():
    days = [row("2026-03-01", 200, 100, 120)]
    days += [row(f"2026-03-{d:02d}", 200, 190, 240) for d in range(2, 6)]  # adapted band
    days += [row(f"2026-03-{d:02d}", 100, 150, 200) for d in range(6, 12)]  # back to normal
    notices = drive(surge_rule(rebaseline_days=7), days)
    assert [(day, notice) for day, notice, _ in notices] == [
        ("03-01", "firing"), ("03-08", "resolved"),
    ]  # fmt: skip


def test_no_alert_stays_open_without_a_fresh_breach_for_max_open_days():
    """A hysteresis line keeps an alert open while the series sits between the line and the
    threshold; max_open_days closes it when the rule itself has not breached for that long."""
    rule = parse_rules({"rules": [{
        "id": "low_rate", "type": "threshold", "severity": "medium", "direction": "down",
        "match": {"metric": "user_reports"}, "threshold": 100, "recovery_threshold": 150,
        "hold": 1, "max_open_days": 10, "renotify_days": 0,
    }]})[0]  # fmt: skip
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(16)]
    values = [90] + [120] * 15  # breaches once, then sits between the threshold and the line
    notices = drive(rule, [row(f"{d}", v, 100, 200) for d, v in zip(days, values, strict=True)])
    assert [(day, notice) for day, notice, _ in notices] == [
        ("03-01", "firing"), ("03-11", "resolved"),
    ]  # fmt: skip
    assert "no fresh breach for 10 days" in notices[-1][2]


def test_the_forecast_is_not_dragged_by_a_short_anomaly_and_takes_a_lasting_shift_in_a_week():
    clean = np.log1p(growth_series(300)["value"].to_numpy())
    model = ETS()
    baseline = model.fit_predict(clean, 7)
    params = baseline.params
    drop = clean.copy()
    drop[-5:] -= np.log(1 / 0.3)  # the last five days at 30 %
    after_drop = model.fit_predict(drop, 7, params=params)
    # The next week's forecast stays where the clean series would have put it...
    assert np.allclose(after_drop.mean, baseline.mean, atol=0.05)
    shifted = clean.copy()
    shifted[-(SHIFT_DAYS + 3) :] += np.log(1.8)  # ten days at 1.8 times: a new level
    after_shift = model.fit_predict(shifted, 7, params=params)
    # ...while a lasting shift moves it most of the way to the new level.
    assert np.mean(after_shift.mean - baseline.mean) > 0.8 * np.log(1.8)


def test_a_growth_series_that_steps_up_raises_one_alert_that_resolves_after_rebaselining(
    tmp_path,
):
    frame = growth_series(460, step_at=430, factor=1.8)
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    warehouse.replace_rows("daily_metrics", metrics_rows(frame), where={"source": "landed"})
    packaged = {r.id: r for r in load_config(PACKAGED_CONFIG_DIR).alerts.rules}["report_surge"]
    step_day = frame["ds"].iloc[430].date()
    result = backtest_rule(warehouse, packaged, step_day - dt.timedelta(days=20), END)
    episodes = result.episodes
    assert len(episodes) == 1, episodes
    fired, resolved = episodes.iloc[0]["fired_on"], episodes.iloc[0]["resolved_on"]
    assert (fired - step_day).days == packaged.sustain - 1  # as soon as the rule can fire
    # Resolved within the hold period once the forecast and the alert have re-baselined.
    limit = packaged.rebaseline_days + packaged.hold + 1
    assert pd.notna(resolved) and (resolved - step_day).days <= limit


def test_the_replay_never_reads_a_value_dated_on_or_after_the_day_it_forecasts():
    frame = growth_series(400).assign(unique_id=UID)
    long = to_long(frame)
    start, end = dt.date(2026, 6, 1), dt.date(2026, 6, 20)
    cut = pd.Timestamp("2026-06-10")
    tampered = long.copy()
    later = tampered["ds"] >= cut
    tampered.loc[later, "y"] = tampered.loc[later, "y"] * 7 + 1000  # the future, rewritten
    honest = walk_forward_forecasts(long, start, end, cadence_days=7)
    replayed = walk_forward_forecasts(tampered, start, end, cadence_days=7)
    columns = ["unique_id", "as_of", "ds", "yhat", "yhat_lo_95", "yhat_hi_95"]
    before = honest[honest["ds"] <= cut][columns].reset_index(drop=True)
    assert len(before) == (cut - pd.Timestamp(start)).days + 1  # one forecast per day
    pd.testing.assert_frame_equal(
        before, replayed[replayed["ds"] <= cut][columns].reset_index(drop=True)
    )
    assert (honest["ds"] == honest["as_of"] + pd.Timedelta(days=1)).all()
    # And what was rewritten does change the forecasts made after it.
    assert not np.allclose(
        honest[honest["ds"] > cut + pd.Timedelta(days=1)]["yhat"],
        replayed[replayed["ds"] > cut + pd.Timedelta(days=1)]["yhat"],
    )


def test_a_partial_first_day_or_a_changed_weekday_does_not_leave_that_weekday_wrong():
    """A platform's first day is often a handful of statements; and a weekly pattern can
    change (no more submissions on Sundays). Neither may stick to a weekday's forecast, even
    though a day beyond the clip does not update the states."""
    values = growth_series(210)["value"].to_numpy(copy=True)
    values[0] = 5.0  # the partial first day
    z = np.log1p(values)
    first = ETS().fit_predict(z, 7)
    expected = np.log1p(values[-7:])  # the last week again, roughly
    assert np.max(np.abs(first.mean - expected)) < 0.5
    changed = z.copy()
    weekday = np.arange(len(z)) % 7 == (len(z) - 1) % 7  # the last day's weekday
    changed[weekday & (np.arange(len(z)) >= len(z) - 7 * (SHIFT_WEEKS + 1))] -= np.log(4)
    after = ETS().fit_predict(changed, 7, params=first.params)
    # The forecast for that weekday next week has taken the new pattern (a quarter)...
    assert after.mean[-1] < first.mean[-1] - 0.8 * np.log(4)
    # ...and the other weekdays kept theirs.
    assert np.max(np.abs(after.mean[:-1] - first.mean[:-1])) < 0.15


def test_the_replay_judges_a_sparse_count_from_its_first_day_with_the_weeks_before_it(tmp_path):
    """count_burst floors a low-volume forecast (a recent median: 0 for a series with an
    incident every third day) by the series' own rate over the four weeks before its window.
    Live, those weeks are read from the warehouse; the replay must read them too, or its first
    judged days compare an ordinary week with zero."""
    days = pd.date_range(END - dt.timedelta(days=179), END, freq="D")
    values = np.tile([1.0, 0.0, 0.0], 60)
    values[-20:-17] = 1.0  # three in three days: one chance in eleven at this rate
    frame = pd.DataFrame({"ds": days, "value": values}).assign(
        unique_id="incidents|own|all|all|all", metric="incidents", platform="own",
        policy_category="all", region="all", surface="all", source="landed", numerator=None,
        denominator=None,
    )  # fmt: skip
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    warehouse.replace_rows("daily_metrics", frame, where={"source": "landed"})
    packaged = {r.id: r for r in load_config(PACKAGED_CONFIG_DIR).alerts.rules}["incident_spike"]
    first_judged = days[-20].date()  # the three days are the replay's first three
    result = backtest_rule(warehouse, packaged, first_judged, END)
    assert result.episodes.empty, result.episodes


def count(_uid: str) -> str:
    return "count"


def test_bands_cover_a_series_whose_level_halves_within_a_week_of_the_change():
    """The refresh runs with the parameters the weekly selection estimated before the change;
    within a week the forecast has re-baselined and its band, carrying the uncertainty of the
    new level, covers at least 85 % of the next four weeks."""
    frame = growth_series(400, seed=3, step_at=330, factor=0.5).assign(unique_id=UID)
    long = to_long(frame)
    config = ForecastConfig(horizon=28, workers=1)
    change = frame["ds"].iloc[330]
    before = forecast_series_frame(long[long["ds"] < change], [change - pd.Timedelta(days=1)],
                                   count, config)  # fmt: skip
    coverage = {}
    for day in range(8):
        as_of = change + pd.Timedelta(days=day)
        run = forecast_series_frame(long[long["ds"] <= as_of], [as_of], count, config,
                                    specs=before.fitted)  # fmt: skip
        rows = run.forecasts[run.forecasts["is_primary"]].merge(long, on=["unique_id", "ds"])
        coverage[day] = (
            (rows["y"] >= rows["yhat_lo_95"]) & (rows["y"] <= rows["yhat_hi_95"])
        ).mean()
    assert coverage[0] < 0.5  # the day it happens, nothing has moved yet
    assert coverage[SHIFT_DAYS] >= 0.85, coverage  # a week on

"""Indicators derived from several days or series: week over week, category mix shift,
capacity risk from YAML, the composite level per policy area, and the incident outcomes."""

import datetime as dt

import pandas as pd
import pytest

from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.indicators.derived import (
    CapacityError,
    capacity_risk,
    category_mix_shift,
    composite_risk,
    parse_capacities,
    week_over_week,
)
from risk_pipelines.metrics.aggregate import derive_incident_outcomes

DAY0 = dt.date(2026, 3, 1)


def metric_rows(metric, category, region, values):
    return pd.DataFrame({
        "ds": [DAY0 + dt.timedelta(days=i) for i in range(len(values))],
        "metric": metric, "platform": "own", "policy_category": category, "region": region,
        "surface": "all", "value": values,
        "unique_id": f"{metric}|own|{category}|{region}|all",
    })  # fmt: skip


def test_week_over_week_compares_seven_day_totals_and_levels_only_the_risky_side():
    up = metric_rows("user_reports", "scams_and_fraud", "DE", [10.0] * 7 + [30.0] * 7)
    down = metric_rows("user_reports", "violence", "DE", [20.0] * 7 + [10.0] * 7)
    last = DAY0 + dt.timedelta(days=13)
    rows = week_over_week(pd.concat([up, down]), [last], spec_for).set_index("policy_category")
    assert rows.loc["scams_and_fraud", "value"] == pytest.approx(2.0)  # 210 vs 70: +200 %
    assert rows.loc["scams_and_fraud", "level"] == "critical"
    assert rows.loc["scams_and_fraud", ["numerator", "denominator"]].tolist() == [210, 70]
    assert rows.loc["violence", "value"] == pytest.approx(-0.5)
    assert rows.loc["violence", "level"] == "ok"  # fewer reports is not the risky side
    thin = metric_rows("user_reports", "self_harm", "DE", [1.0] * 14)
    assert week_over_week(thin, [last], spec_for).empty  # 7 reports a week: too few to judge


def test_an_emerging_category_shows_as_a_mix_shift_with_a_binomial_score():
    days = 35
    steady = metric_rows("user_reports", "violence", "DE", [90.0] * days)
    emerging = metric_rows("user_reports", "scams_and_fraud", "DE", [10.0] * 28 + [40.0] * 7)
    last = DAY0 + dt.timedelta(days=days - 1)
    rows = category_mix_shift(pd.concat([steady, emerging]), [last]).set_index("policy_category")
    scams = rows.loc["scams_and_fraud"]
    assert scams["expected"] == pytest.approx(0.10)
    assert scams["value"] == pytest.approx(280 / 910)
    assert scams["score"] == pytest.approx((280 / 910 - 0.1) / (0.1 * 0.9 / 910) ** 0.5)
    assert scams["level"] == "critical" and rows.loc["violence", "score"] < 0


def forecast(volumes, category="all", region="all"):
    return pd.DataFrame({
        "ds": pd.date_range("2026-03-02", periods=len(volumes)), "metric": "user_reports",
        "platform": "own", "policy_category": category, "region": region, "surface": "all",
        "yhat": volumes, "yhat_hi_80": [v * 1.2 for v in volumes],
    })  # fmt: skip


def test_capacity_risk_projects_the_backlog_and_names_the_day_the_sla_breaks():
    spec = {"name": "all", "metric": "user_reports", "reviews_per_day": 100, "sla_hours": 24}
    (queue,) = parse_capacities({"review_queues": [spec]})
    # 130 a day against 100: the backlog grows 30 a day and passes 100 on the fourth day.
    row = capacity_risk(forecast([130.0] * 14), [queue], DAY0).iloc[0]
    assert row["level"] == "high" and row["value"] == pytest.approx(30 * 14)
    assert "the SLA breaks on 2026-03-05 at the forecast" in row["note"]
    soon = capacity_risk(forecast([150.0] * 14), [queue], DAY0).iloc[0]
    assert soon["level"] == "critical"  # passes 100 on the third day
    calm = capacity_risk(forecast([90.0] * 14), [queue], DAY0).iloc[0]
    assert calm["level"] == "ok" and calm["value"] == 0
    assert "2026-03-" in calm["note"]  # the 80 % upper bound (108 a day) does break it, later


@pytest.mark.parametrize(
    "queue, message",
    [
        ({"name": "q", "metric": "m", "reviews_per_day": 0, "sla_hours": 24}, "'reviews_per_day'"),
        ({"name": "q", "metric": "m", "reviews_per_day": 5}, "'sla_hours' must be a number"),
        ({"metric": "m", "reviews_per_day": 5, "sla_hours": 1}, "'name' is required"),
        ({"name": "q", "metric": "m", "reviews_per_day": 5, "sla_hours": 1, "x": 1}, "['x']"),
    ],
)
def test_bad_capacity_files_are_rejected_with_the_queue_and_field_named(queue, message):
    with pytest.raises(CapacityError) as error:
        parse_capacities({"review_queues": [queue]}, source="capacity.yaml")
    assert "capacity.yaml: queue" in str(error.value) and message in str(error.value)


def test_the_composite_level_is_the_worst_score_raised_one_level_when_the_problem_is_broad():
    def row(category, indicator, score, level):
        return {"ds": DAY0, "platform": "own", "policy_category": category, "region": "DE",
                "indicator": indicator, "score": score, "level": level}  # fmt: skip

    frame = pd.DataFrame([
        row("scams_and_fraud", "user_reports", 3.5, "high"),
        row("violence", "user_reports", 2.2, "elevated"),
        row("violence", "appeal_rate", 2.5, "elevated"),
        row("violence", "overturn_rate", 2.1, "elevated"),
        row("self_harm", "user_reports", 0.3, "ok"),
    ])  # fmt: skip
    levels = composite_risk(frame).set_index("policy_category")["level"].to_dict()
    assert levels == {"scams_and_fraud": "high", "violence": "high", "self_harm": "ok"}


def test_incident_outcomes_give_mttd_mttr_weighted_count_and_proactive_share():
    t = pd.Timestamp("2026-03-01 10:00")
    details = pd.DataFrame({
        "ds": [DAY0, DAY0, DAY0], "platform": "own", "severity": ["sev0", "sev3", "sev3"],
        "detection_source": ["proactive", "press", "proactive"],
        "started_at": [t - pd.Timedelta(hours=h) for h in (1, 3, 5)],
        "detected_at": [t, t, t],
        "resolved_at": [t + pd.Timedelta(hours=4), pd.NaT, t + pd.Timedelta(hours=8)],
    })  # fmt: skip
    out = derive_incident_outcomes(details, [DAY0], "own").set_index("metric")
    assert out.loc["severity_weighted_incidents", "value"] == 22.0  # 20 + 1 + 1
    assert out.loc["incident_mttd_hours", "value"] == 3.0
    assert out.loc["incident_mttr_hours", "value"] == 6.0  # of the two resolved: 4 and 8
    assert out.loc["incident_mttr_hours", "denominator"] == 2
    assert out.loc["proactive_incident_share", "value"] == pytest.approx(2 / 3)

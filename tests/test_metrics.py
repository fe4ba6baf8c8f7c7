"""Daily metric series derived in the database from decisions and incidents."""

import datetime as dt

import pandas as pd
import pytest

from risk_pipelines.metrics.aggregate import derive_decision_metrics, derive_incident_metrics
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse.aggregates import decision_aggregates, incident_counts

DAY = dt.date(2026, 3, 1)
DAY2 = DAY + dt.timedelta(days=1)


def decision(
    i,
    category,
    region,
    source,
    action,
    *,
    views=5,
    appealed=False,
    outcome=None,
    reported=None,
    day=DAY,
):
    decided = pd.Timestamp(day) + pd.Timedelta(hours=12)
    return {
        "ds": day,
        "event_id": f"e{i}",
        "decided_at": decided,
        "reported_at": decided - pd.Timedelta(hours=reported) if reported else pd.NaT,
        "content_created_at": pd.NaT,
        "policy_category": category,
        "region": region,
        "surface": "video",
        "detection_source": source,
        "action": action,
        "automated_decision": "none",
        "views_before_action": views,
        "appealed": appealed,
        "appeal_outcome": outcome,
        "platform": "own",
        "source_file": "f.csv",
        "source_row": i,
    }


def metrics_for(warehouse_url, rows, days):
    warehouse = Warehouse(warehouse_url)
    frame = pd.DataFrame(rows)
    frame["views_before_action"] = frame["views_before_action"].astype("Int64")
    warehouse.replace_rows("moderation_decisions", frame, where={"ds": days})
    aggregates = decision_aggregates(warehouse, min(days), max(days))
    return derive_decision_metrics(aggregates, days)


def test_counts_rates_and_zero_filled_combinations(warehouse_url):
    rows = [
        decision(1, "scams_and_fraud", "DE", "automated", "removed", views=0),
        decision(
            2, "scams_and_fraud", "DE", "automated", "removed", appealed=True, outcome="overturned"
        ),
        decision(3, "scams_and_fraud", "DE", "user_report", "removed", reported=4),
        decision(4, "scams_and_fraud", "DE", "user_report", "no_violation", reported=2),
        decision(5, "violence", "FR", "automated", "restricted", views=None),
        decision(6, "violence", "FR", "automated", "restricted", day=DAY2),
    ]
    m = metrics_for(warehouse_url, rows, [DAY, DAY2])
    first = m[m["ds"] == DAY].set_index("unique_id")
    assert first.loc["decisions|own|scams_and_fraud|DE|all", "value"] == 4
    assert first.loc["user_reports|own|scams_and_fraud|DE|all", "value"] == 2
    # violence was never decided in DE: a zero, not a gap
    assert first.loc["decisions|own|violence|DE|all", "value"] == 0
    proactive = first.loc["proactive_rate|own|scams_and_fraud|DE|all"]
    assert (proactive["numerator"], proactive["denominator"]) == (2, 3)
    assert first.loc["overturn_rate|own|scams_and_fraud|all|all", "value"] == 1.0
    assert first.loc["zero_view_removal_rate|own|scams_and_fraud|all|all", "value"] == 1 / 3
    assert first.loc["median_hours_to_action|own|scams_and_fraud|all|all", "value"] == (
        pytest.approx(3.0)
    )
    assert first.loc["actions_removed|own|all|all|all", "value"] == 3
    assert first.loc["decisions|own|all|all|video", "value"] == 5
    assert first.loc["proactive_rate|own|all|all|all", "value"] == 3 / 4
    # a rate with no denominator is not emitted
    assert "overturn_rate|own|violence|all|all" not in first.index
    second = m[m["ds"] == DAY2].set_index("unique_id")
    assert second.loc["decisions|own|scams_and_fraud|DE|all", "value"] == 0
    assert second.loc["actions_restricted|own|all|all|all", "value"] == 1


def test_incidents_by_severity_have_a_row_every_day(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    incident = {
        "ds": DAY,
        "incident_id": "i1",
        "started_at": pd.Timestamp(DAY),
        "detected_at": pd.Timestamp(DAY),
        "severity": "sev1",
        "policy_category": "violence",
        "region": "DE",
        "detection_source": "proactive",
        "platform": "own",
        "source_file": "f.csv",
        "source_row": 1,
    }
    warehouse.replace_rows("incidents", pd.DataFrame([incident]), where={"ds": [DAY]})
    m = derive_incident_metrics(incident_counts(warehouse, DAY, DAY2), [DAY, DAY2], "own")
    assert len(m[m["metric"] == "incidents_sev0"]) == 2
    assert m[(m["ds"] == DAY) & (m["metric"] == "incidents_sev1")]["value"].tolist() == [1]
    assert m[(m["ds"] == DAY2) & (m["metric"] == "incidents")]["value"].tolist() == [0]

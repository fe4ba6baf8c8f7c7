"""Daily metric series derived from decisions and incidents."""

import datetime as dt

import pandas as pd

from risk_pipelines.metrics.aggregate import derive_decision_metrics, derive_incident_metrics

DAY = dt.date(2026, 3, 1)


def decision(
    category, region, source, action, *, views=5, appealed=False, outcome=None, reported=None
):
    decided = pd.Timestamp("2026-03-01 12:00")
    return {
        "ds": DAY,
        "decided_at": decided,
        "reported_at": decided - pd.Timedelta(hours=reported) if reported else pd.NaT,
        "policy_category": category,
        "region": region,
        "surface": "video",
        "detection_source": source,
        "action": action,
        "views_before_action": views,
        "appealed": appealed,
        "appeal_outcome": outcome,
        "platform": "own",
    }


def test_counts_rates_and_zero_filled_combinations():
    rows = [
        decision("scams_and_fraud", "DE", "automated", "removed", views=0),
        decision(
            "scams_and_fraud", "DE", "automated", "removed", appealed=True, outcome="overturned"
        ),
        decision("scams_and_fraud", "DE", "user_report", "removed", reported=4),
        decision("scams_and_fraud", "DE", "user_report", "no_violation", reported=2),
        decision("violence", "FR", "automated", "restricted"),
    ]
    m = derive_decision_metrics(pd.DataFrame(rows)).set_index("unique_id")
    assert m.loc["decisions|own|scams_and_fraud|DE|all", "value"] == 4
    assert m.loc["user_reports|own|scams_and_fraud|DE|all", "value"] == 2
    # violence/DE never occurred but both seen: it is a zero, not a gap
    assert m.loc["decisions|own|violence|DE|all", "value"] == 0
    proactive = m.loc["proactive_rate|own|scams_and_fraud|DE|all"]
    assert (proactive["numerator"], proactive["denominator"]) == (2, 3)
    assert m.loc["overturn_rate|own|scams_and_fraud|all|all", "value"] == 1.0
    assert m.loc["zero_view_removal_rate|own|scams_and_fraud|all|all", "value"] == 1 / 3
    assert m.loc["median_hours_to_action|own|scams_and_fraud|all|all", "value"] == 3.0
    assert m.loc["actions_removed|own|all|all|all", "value"] == 3
    assert m.loc["decisions|own|all|all|video", "value"] == 5
    # a rate with no denominator is not emitted
    assert "overturn_rate|own|violence|all|all" not in m.index


def test_incidents_by_severity_have_a_row_every_day():
    incidents = pd.DataFrame([{"ds": DAY, "severity": "sev1", "platform": "own"}])
    m = derive_incident_metrics(incidents, [DAY, DAY + dt.timedelta(1)], "own")
    assert len(m[m["metric"] == "incidents_sev0"]) == 2
    day2 = m[(m["ds"] == DAY + dt.timedelta(1)) & (m["metric"] == "incidents")]
    assert day2["value"].tolist() == [0]

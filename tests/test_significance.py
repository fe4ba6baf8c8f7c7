"""Significance before severity: an alert's weight grows with how far past the band it is, how
much volume it moves and how long it lasts, so a 3-sigma breach on 20 a day is not a 3-sigma
breach on 2 million; a route can take only significant alerts; and a warehouse from before
these columns gains them in place, keeping its alerts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting.evaluation.evaluate import evaluate_outside_interval
from risk_pipelines.alerting.evaluation.rules import parse_rules
from risk_pipelines.alerting.evaluation.significance import breach_significance, with_duration
from risk_pipelines.alerting.evaluation.state import step
from risk_pipelines.alerting.notification.routes import RouteError, parse_routes
from risk_pipelines.warehouse.store import Warehouse
from risk_pipelines.warehouse.views import drop_views

RULE = parse_rules({"rules": [{"id": "surge", "type": "outside_interval", "severity": "high",
                               "match": {"metric": "user_reports"}}]})[0]  # fmt: skip


def indicator(uid: str, value: float, expected: float, sigma: float) -> dict:
    upper = expected + 1.96 * sigma
    return {"ds": pd.Timestamp("2026-03-01"), "unique_id": uid, "metric": "user_reports",
            "platform": "own", "policy_category": "all", "region": "all", "surface": "all",
            "value": value, "expected": expected, "lower": expected - 1.96 * sigma,
            "upper": upper, "score": (value - expected) / sigma}  # fmt: skip


def test_the_same_surprise_weighs_more_on_a_series_that_moves_more_volume():
    small = indicator("small", 20 + 3 * 4, 20, 4)  # 3 sigma on 20 a day: 12 reports
    large = indicator("large", 2e6 + 3 * 1e5, 2e6, 1e5)  # 3 sigma on 2 million: 300,000
    breaches = evaluate_outside_interval(RULE, pd.DataFrame([small, large])).breaches
    assert breaches["small"].score == breaches["large"].score == 3.0
    assert breaches["large"].significance > 4 * breaches["small"].significance
    assert breaches["small"].significance == breach_significance(3.0, 12.0)


def test_a_rule_can_ignore_breaches_below_its_min_significance():
    weighty = parse_rules({"rules": [{"id": "surge", "type": "outside_interval",
                                      "severity": "high", "match": {"metric": "user_reports"},
                                      "min_significance": 10}]})[0]  # fmt: skip
    small = indicator("small", 20 + 3 * 4, 20, 4)
    large = indicator("large", 2e6 + 3 * 1e5, 2e6, 1e5)
    breaches = evaluate_outside_interval(weighty, pd.DataFrame([small, large])).breaches
    assert set(breaches) == {"large"}


def test_significance_grows_with_the_days_an_alert_keeps_breaching():
    evaluation = evaluate_outside_interval(RULE, pd.DataFrame([indicator("a", 40, 20, 4)]))
    open_alerts, seen = {}, []
    for offset in range(7):
        for t in step(open_alerts, evaluation, dt.date(2026, 3, 1) + dt.timedelta(days=offset)):
            open_alerts[(t.after.rule_id, t.after.unique_id)] = t.after
            seen.append(t.after.significance)
    one_day = evaluation.breaches["a"].significance
    assert seen[0] == with_duration(one_day, 1) == one_day
    assert seen == sorted(seen) and seen[-1] > 2.5 * one_day  # a week: about three days' worth


def test_a_route_takes_only_alerts_at_or_above_its_min_significance():
    routes = parse_routes({"routes": {"lead": {
        "channel": "email", "recipients_env": "LEAD_EMAILS", "min_significance": 12,
    }}})  # fmt: skip
    lead = routes.routes["lead"]
    assert not lead.takes("high", "all", 4.2) and lead.takes("high", "all", 16.4)
    assert lead.takes("high", "all", None)  # a data-quality alert carries none: not filtered
    bad = {"routes": {"lead": {"channel": "log", "min_significance": "high"}}}
    try:
        parse_routes(bad, source="channels.yaml")
    except RouteError as exc:
        assert "channels.yaml: route 'lead': 'min_significance' must be a number" in str(exc)
    else:
        raise AssertionError("a non-numeric min_significance was accepted")


def test_a_warehouse_from_before_the_new_alert_columns_gains_them_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    Warehouse(url)  # today's schema...
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # ...taken back to the version before significance
        drop_views(conn)  # they read the columns
        for column in ("significance", "incident_id", "level_shift_to", "last_breach_ds"):
            conn.execute(sa.text(f"ALTER TABLE alerts DROP COLUMN {column}"))
        conn.execute(sa.text(
            "INSERT INTO alerts (rule_id, unique_id, state, severity, first_breach_ds, "
            "last_evaluated_ds, opened_at, breach_count, clean_count, message) VALUES "
            "('surge', 'u', 'firing', 'high', '2026-03-01', '2026-03-01', '2026-03-01', 1, 0, "
            "'an old alert')"
        ))  # fmt: skip
    warehouse = Warehouse(url)
    warehouse.ensure_schema()
    alerts = warehouse.read_sql("SELECT message, significance, incident_id FROM alerts")
    assert alerts["message"].tolist() == ["an old alert"]
    assert alerts["significance"].isna().all()

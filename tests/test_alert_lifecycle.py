"""A scripted sequence of days drives alerts through pending, firing, re-notify, escalation,
silence and resolve, delivered to a real local webhook; failed deliveries come later, once;
a sensor restarted from its persisted cursor neither loses nor repeats a notification."""

import datetime as dt
import hashlib
import hmac
import json
import re

import dagster as dg
import pandas as pd
import pytest

from risk_pipelines.alerting import repository
from risk_pipelines.alerting.evaluation.rules import parse_rules
from risk_pipelines.alerting.notification.calendar import CalendarError, parse_calendar
from risk_pipelines.alerting.notification.routes import parse_routes
from risk_pipelines.alerting.notification.silences import new_silence
from risk_pipelines.config import load_alert_config
from risk_pipelines.defs.alerting.sensors import risk_alerts_sensor
from risk_pipelines.defs.resources import explicit_resources
from risk_pipelines.indicators.surprise import INDICATOR_COLUMNS
from risk_pipelines.stages.alerts import evaluate_pending_days
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse import alerts as store

START = dt.date(2026, 3, 2)
ROUTES = parse_routes({"routes": {
    "hook": {"channel": "webhook", "url_env": "TEST_HOOK_URL", "secret_env": "TEST_HOOK_SECRET"},
}})  # fmt: skip
RULES = parse_rules({"rules": [{
    "id": "report_surge", "type": "outside_interval", "severity": "high",
    "match": {"metric": "user_reports"}, "sustain": 2, "hold": 2, "renotify_days": 2,
    "escalate_at": 20, "escalate_to": "critical", "routes": ["hook"], "owners": ["risk"],
}]}, known_routes=["log", "hook"])  # fmt: skip


def indicator_rows(day: dt.date, scores: dict[str, float]) -> pd.DataFrame:
    """user_reports for scams in each region: expected 100, band 80..120, score as given."""
    rows = []
    for region, score in scores.items():
        value = 100.0 + 10.0 * score
        rows.append({
            "ds": day, "indicator": "user_reports",
            "unique_id": f"user_reports|own|scams_and_fraud|{region}|all",
            "metric": "user_reports", "platform": "own", "policy_category": "scams_and_fraud",
            "region": region, "surface": "all", "value": value, "expected": 100.0,
            "lower": 80.0, "upper": 120.0, "score": score,
            "level": "critical" if score >= 5 else "ok", "numerator": None,
            "denominator": None, "model": "ets", "as_of": day, "note": None,
        })  # fmt: skip
    return pd.DataFrame(rows)[INDICATOR_COLUMNS]


def run_day(warehouse, offset: int, scores: dict[str, float]):
    day = START + dt.timedelta(days=offset)
    warehouse.replace_rows("risk_indicators", indicator_rows(day, scores), where={"ds": day})
    now = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3))
    return evaluate_pending_days(warehouse, RULES, routes=ROUTES, now=now)


def delivered(hook) -> list[tuple[str, str, str]]:
    return [
        (n["event"], n["severity"], n["region"])
        for request in hook.requests
        for n in request.json()["notifications"]
    ]


def test_a_scripted_sequence_of_days_walks_every_state_and_notice(warehouse_url, hook):
    warehouse = Warehouse(warehouse_url)
    quiet, surge, huge = 0.5, 10.0, 30.0

    run_day(warehouse, 0, {"DE": surge, "FR": quiet})
    assert store.list_alerts(warehouse, "pending")["region"].tolist() == ["DE"]
    assert delivered(hook) == []  # pending: sustain is 2, nobody is told yet

    run_day(warehouse, 1, {"DE": surge, "FR": quiet})
    assert delivered(hook) == [("firing", "high", "DE")]

    run_day(warehouse, 2, {"DE": surge, "FR": quiet})
    assert len(delivered(hook)) == 1  # still firing, reminder not due yet

    run_day(warehouse, 3, {"DE": surge, "FR": quiet})
    assert delivered(hook)[-1] == ("renotify", "high", "DE")  # two days after the last notice

    run_day(warehouse, 4, {"DE": huge, "FR": quiet})
    assert delivered(hook)[-1] == ("escalated", "critical", "DE")  # at once, not on the interval
    firing = store.list_alerts(warehouse, "firing")
    assert firing["severity"].tolist() == ["critical"]
    assert firing["escalated_from"].tolist() == ["high"]

    silence = new_silence({"region": "FR"}, "ana", "known bot wave, T-42",
                          dt.datetime(2026, 3, 7), dt.datetime(2026, 3, 20))  # fmt: skip
    repository.add_silence(warehouse, silence)
    run_day(warehouse, 5, {"DE": quiet, "FR": surge})
    run_day(warehouse, 6, {"DE": quiet, "FR": surge})
    assert delivered(hook)[-1] == ("resolved", "critical", "DE")  # hold: two clean days
    assert len(delivered(hook)) == 4  # FR fired, but its notice was held back by the silence
    fr = store.list_alerts(warehouse, "firing")
    assert fr["region"].tolist() == ["FR"]
    statuses = warehouse.read_sql(
        "SELECT status, error FROM alert_notifications WHERE alert_id = :a",
        {"a": int(fr["alert_id"].iloc[0])},
    )
    assert statuses["status"].tolist() == ["silenced"]
    assert "known bot wave" in statuses["error"].iloc[0]

    # Every message is signed with the route's secret.
    for request in hook.requests:
        signed = request.headers["X-Risk-Timestamp"].encode() + b"." + request.body
        digest = hmac.new(b"hook-secret", signed, hashlib.sha256).hexdigest()
        assert request.headers["X-Risk-Signature"] == f"sha256={digest}"


def test_one_digest_per_route_and_evaluation_whatever_the_number_of_alerts(warehouse_url, hook):
    warehouse = Warehouse(warehouse_url)
    run_day(warehouse, 0, {"DE": 10.0, "FR": 10.0, "IT": 10.0})
    run_day(warehouse, 1, {"DE": 10.0, "FR": 10.0, "IT": 10.0})
    assert len(hook.requests) == 1
    assert sorted(r for _, _, r in delivered(hook)) == ["DE", "FR", "IT"]


def test_a_channel_that_returns_500_gets_its_message_later_exactly_once(warehouse_url, hook):
    warehouse = Warehouse(warehouse_url)
    run_day(warehouse, 0, {"DE": 10.0})
    hook.fail_next = 2
    first = run_day(warehouse, 1, {"DE": 10.0})
    assert first.delivery.failed == 1 and hook.requests == []
    later = dt.datetime(2026, 3, 4, 3, 5)
    again = evaluate_pending_days(warehouse, RULES, routes=ROUTES, now=later)
    assert again.days == [] and again.delivery.failed == 1  # still down on this tick
    third = evaluate_pending_days(warehouse, RULES, routes=ROUTES, now=later)
    assert third.delivery.sent == 1
    evaluate_pending_days(warehouse, RULES, routes=ROUTES, now=later)
    assert delivered(hook) == [("firing", "high", "DE")]  # delivered once, never repeated
    trail = warehouse.read_sql(
        "SELECT status, attempts FROM alert_notifications ORDER BY notification_id"
    )
    assert list(zip(trail["status"], trail["attempts"], strict=True)) == [
        ("queued", 0), ("failed", 1), ("failed", 2), ("sent", 3),
    ]  # fmt: skip


def test_new_trend_re_baselines_instead_of_re_alerting_every_day(warehouse_url, hook):
    warehouse = Warehouse(warehouse_url)
    run_day(warehouse, 0, {"DE": 10.0})
    run_day(warehouse, 1, {"DE": 10.0})
    alert_id = int(store.list_alerts(warehouse, "firing")["alert_id"].iloc[0])
    store.label_alert(warehouse, alert_id, "new_trend", "ana", dt.datetime(2026, 3, 4, 9))
    assert store.list_alerts(warehouse, "firing").empty
    for offset in range(2, 6):  # the new level persists: no new alert, no message
        run_day(warehouse, offset, {"DE": 10.0})
    assert len(delivered(hook)) == 1 and store.list_alerts(warehouse, "pending").empty
    run_day(warehouse, 6, {"DE": 0.0})  # back inside: the next surge is news again
    run_day(warehouse, 7, {"DE": 10.0})
    run_day(warehouse, 8, {"DE": 10.0})
    assert delivered(hook)[-1] == ("firing", "high", "DE")


def test_a_restarted_sensor_neither_loses_nor_repeats_a_notification(tmp_path, hook):
    config = tmp_path / "config"
    config.mkdir()
    (config / "channels.yaml").write_text(json.dumps({"routes": {
        "hook": {"channel": "webhook", "url_env": "TEST_HOOK_URL",
                 "secret_env": "TEST_HOOK_SECRET"}}}))  # fmt: skip
    rule = {"id": "report_surge", "type": "outside_interval", "severity": "high",
            "match": {"metric": "user_reports"}, "routes": ["hook"]}  # fmt: skip
    (config / "alert_rules.yaml").write_text(json.dumps({"rules": [rule]}))
    assert load_alert_config(config).rules[0].routes == ("hook",)
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    resources = explicit_resources(url, tmp_path, config_dir=config, id_hash_key="k")
    warehouse = Warehouse(url)
    today = dt.date.today() - dt.timedelta(days=1)
    with dg.instance_for_test() as instance:
        warehouse.replace_rows(
            "risk_indicators", indicator_rows(today, {"DE": 10.0}), where={"ds": today}
        )
        instance.report_runless_asset_event(dg.AssetMaterialization("risk_indicators"))
        hook.fail_next = 1
        first = risk_alerts_sensor(dg.build_sensor_context(instance=instance, resources=resources))
        persisted = first.cursor  # what the daemon stored
        assert hook.requests == []  # the webhook was down on that tick
        # The daemon restarts twice from the persisted cursor (say it crashed before saving a
        # newer one): the first tick delivers what was queued, the second repeats nothing.
        for _ in range(2):
            restarted = dg.build_sensor_context(
                instance=instance, resources=resources, cursor=persisted
            )
            assert isinstance(risk_alerts_sensor(restarted), dg.SkipReason)
        assert delivered(hook) == [("firing", "high", "DE")]
        assert warehouse.count("alerts") == 1


def test_a_known_event_suppresses_or_annotates_and_the_history_stays_complete(warehouse_url, hook):
    calendar = parse_calendar({
        "public_holidays": "off",
        "events": [
            {"name": "creator-fund launch", "kind": "launch", "start": "2026-03-02",
             "end": "2026-03-05", "match": {"region": "DE"}, "effect": "suppress",
             "comment": "reports run high in launch week"},
            {"name": "election day", "kind": "election", "start": "2026-03-03",
             "match": {"region": ["FR"]}},
        ],
    })  # fmt: skip
    warehouse = Warehouse(warehouse_url)
    for offset in (0, 1):  # DE and FR both breach twice: both fire on the second day
        day = START + dt.timedelta(days=offset)
        warehouse.replace_rows(
            "risk_indicators", indicator_rows(day, {"DE": 8.0, "FR": 8.0}), where={"ds": day}
        )
        report = evaluate_pending_days(
            warehouse, RULES, routes=ROUTES, calendar=calendar,
            now=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3)),
        )  # fmt: skip
    assert report.suppressed == 1
    assert delivered(hook) == [("firing", "high", "FR")]  # DE held back by the launch
    alerts = warehouse.read_sql("SELECT region, state, annotation FROM alerts ORDER BY region")
    assert alerts["state"].tolist() == ["firing", "firing"]  # both still fired
    assert "creator-fund launch" in alerts["annotation"].iat[0]
    assert "election day" in alerts["annotation"].iat[1]
    held = warehouse.read_sql("SELECT status, error FROM alert_notifications WHERE status = "
                              "'suppressed'")  # fmt: skip
    assert len(held) == 1 and "creator-fund launch" in held["error"].iat[0]


def test_public_holidays_annotate_countries_only_and_can_be_switched_off():
    good_friday, dims = dt.date(2026, 4, 3), {"metric": "user_reports"}
    annotate = parse_calendar({})
    (holiday,) = annotate.on(good_friday, {**dims, "region": "DE"})
    assert holiday.kind == "holiday" and holiday.effect == "annotate"
    assert "public holiday in DE" in holiday.describe()
    assert annotate.on(good_friday, {**dims, "region": "EU"}) == []  # a bloc: no calendar
    assert annotate.on(good_friday, {**dims, "region": "all"}) == []
    assert parse_calendar({"public_holidays": "off"}).on(good_friday, {"region": "DE"}) == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"public_holidays": "sometimes"}, "'public_holidays' is 'sometimes'"),
        ({"events": [{"kind": "launch", "start": "2026-03-02"}]}, "event #1: 'name' is required"),
        ({"events": [{"name": "x", "start": "2026-03-05", "end": "2026-03-02"}]},
         "event 'x': 'end' 2026-03-02 is before 'start' 2026-03-05"),
        ({"events": [{"name": "x", "start": "soon"}]}, "'start' must be a date"),
        ({"events": [{"name": "x", "start": "2026-03-02", "effect": "mute"}]}, "'effect' is"),
    ],
)  # fmt: skip
def test_a_broken_calendar_is_refused_with_the_event_and_field_named(document, message):
    with pytest.raises(CalendarError, match=re.escape(message)):
        parse_calendar(document, source="calendar.yaml")

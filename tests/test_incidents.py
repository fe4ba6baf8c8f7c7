"""Related alerts become one incident: a platform that goes quiet across its categories is one
incident naming the platform, delivered as one section of one message; a wave of one category
across peers is one incident; unrelated alerts stay apart; acknowledging or labelling an
incident does it to every alert in it, and each alert is still notified exactly once."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from risk_pipelines.alerting.evaluation.grouping import FiredAlert, OpenIncident, group_fired
from risk_pipelines.alerting.evaluation.rules import parse_rules
from risk_pipelines.alerting.notification.digest import Digest, DigestItem, render_text
from risk_pipelines.alerting.notification.routes import parse_routes
from risk_pipelines.indicators.surprise import INDICATOR_COLUMNS
from risk_pipelines.reporting.brief import build_brief
from risk_pipelines.reporting.render import render_brief_html
from risk_pipelines.stages.alerts import evaluate_pending_days
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse import incidents as incident_store
from tests.test_real_data_flow import day_range, series_frame

DAY = dt.date(2026, 3, 10)
CATEGORIES = ["violence", "scams", "hate", "minors", "spam", "ip", "privacy"]


def fired(alert_id, platform, category="all", region="all", direction="down", metric="reports"):
    dims = {"metric": metric, "platform": platform, "policy_category": category,
            "region": region, "surface": "all"}  # fmt: skip
    uid = "|".join(dims.values())
    return FiredAlert(alert_id, "rule", uid, dims, direction, significance=float(alert_id))


def test_a_platform_and_its_categories_going_down_together_are_one_incident_naming_it():
    alerts = [fired(1, "shorts")] + [fired(i + 2, "shorts", c) for i, c in enumerate(CATEGORIES)]
    plans = group_fired(alerts, [], DAY)
    assert len(plans) == 1
    plan = plans[0]
    assert plan.parent is alerts[0] and len(plan.members) == 8
    assert plan.cause["platform"] == "shorts" and plan.cause["policy_category"] == "all"
    assert plan.headline().startswith("reports (all content) on shorts down, with 7 related")
    assert "violence, scams, hate, minors, +3 more" in plan.headline()


def test_one_category_moving_on_several_platforms_is_one_wave():
    alerts = [fired(i, p, "scams", direction="up") for i, p in enumerate(["a", "b", "c"], 1)]
    plans = group_fired(alerts, [], DAY)
    assert len(plans) == 1 and plans[0].parent is None
    assert plans[0].headline() == "3 series of reports scams on every platform up: a, b, c"


def test_unrelated_alerts_and_opposite_directions_stay_apart():
    alerts = [
        fired(1, "a", "scams", "DE"),
        fired(2, "a", "hate", "FR"),  # differs in two dimensions: not related
        fired(3, "a", "scams", "FR", direction="up"),  # the other way
    ]
    assert sorted(len(p.members) for p in group_fired(alerts, [], DAY)) == [1, 1, 1]


def test_a_child_breaching_the_next_day_joins_its_parents_open_incident():
    cause = {"metric": "reports", "platform": "shorts", "policy_category": "all",
             "region": "all", "surface": "all"}  # fmt: skip
    yesterday = OpenIncident(41, DAY - dt.timedelta(days=1), "down", cause)
    plans = group_fired([fired(9, "shorts", "spam")], [yesterday], DAY)
    assert [(p.incident_id, len(p.members)) for p in plans] == [(41, 1)]
    too_old = OpenIncident(41, DAY - dt.timedelta(days=5), "down", cause)
    assert group_fired([fired(9, "shorts", "spam")], [too_old], DAY)[0].incident_id is None


def test_a_digest_shows_an_incident_as_one_section_headed_by_its_headline():
    def item(alert_id, category, incident_id=None):
        headline = "reports on shorts down"
        return DigestItem(f"k{alert_id}", alert_id, "firing", "medium", "series_silent",
                          f"u{alert_id}", "reports", category, "all", f"{category} is silent",
                          incident_id=incident_id, incident_headline=headline)  # fmt: skip

    digest = Digest("risk-slack", dt.datetime(2026, 3, 11, 3),
                    (item(1, "all", 7), item(2, "spam", 7), item(3, "hate")))  # fmt: skip
    text = render_text(digest)
    assert "== incident #7: reports on shorts down ==" in text
    section = text.split("== incident #7")[1].split("\n==")[0]
    assert "all is silent" in section and "spam is silent" in section
    assert "hate is silent" not in section  # an alert of no incident stays under its area


# -- through the evaluation stage, on both backends ---------------------------------------------

ROUTES = parse_routes({"routes": {
    "hook": {"channel": "webhook", "url_env": "TEST_HOOK_URL", "secret_env": "TEST_HOOK_SECRET"},
}})  # fmt: skip
SILENT = parse_rules({"rules": [{
    "id": "series_silent", "type": "absent", "severity": "medium", "lookback_days": 28,
    "min_presence": 0.8, "min_level": 100, "hold": 1, "renotify_days": 0, "routes": ["hook"],
}]}, known_routes=["log", "hook"])  # fmt: skip


def load(
    warehouse: Warehouse, days: list[dt.date], quiet_from: dt.date, late: str | None = None
) -> None:
    """Two platforms' daily statements, total and per category; ``shorts`` stops submitting
    on ``quiet_from`` (its ``late`` category a day later). Indicators exist for every day (the
    other platform still reports)."""
    frame = series_frame(days, ["clips", "shorts"], CATEGORIES[:4])
    later = frame["policy_category"] == late
    stops = later.map({True: quiet_from + dt.timedelta(days=1), False: quiet_from})
    frame = frame[~((frame["platform"] == "shorts") & (frame["ds"] >= stops))]
    frame["unique_id"] = (
        frame["metric"] + "|" + frame["platform"] + "|" + frame["policy_category"] + "|all|all"
    )
    metrics = frame.assign(source="landed", numerator=None, denominator=None)
    warehouse.replace_rows("daily_metrics", metrics, where={"source": "landed"})
    warehouse.replace_rows(
        "risk_indicators", quiet_indicators(frame), where={"indicator": "statements"}
    )


def quiet_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """Indicator rows for every metric row: on forecast, inside the band."""
    return frame.assign(
        indicator=frame["metric"], expected=frame["value"], lower=frame["value"] * 0.8,
        upper=frame["value"] * 1.2, score=0.0, level="ok", numerator=None, denominator=None,
        model="ets", as_of=frame["ds"], note=None,
    )[INDICATOR_COLUMNS]  # fmt: skip


def test_a_platform_outage_across_its_categories_is_one_incident_sent_once(warehouse_url, hook):
    warehouse = Warehouse(warehouse_url)
    days = day_range(dt.date(2026, 1, 1), 70)
    quiet_from = days[-3]
    load(warehouse, days, quiet_from)
    now = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(3))
    report = evaluate_pending_days(warehouse, SILENT, routes=ROUTES, now=now)
    assert report.fired == 5  # the platform total and its four categories

    incidents = incident_store.list_incidents(warehouse)
    assert len(incidents) == 1
    incident = incidents.iloc[0]
    assert incident["alert_count"] == 5 and incident["state"] == "open"
    assert json.loads(incident["cause"])["platform"] == "shorts"
    assert incident["headline"].startswith("statements (all content) on shorts down")
    alerts = alert_store.list_alerts(warehouse)
    assert set(alerts["incident_id"]) == {incident["incident_id"]}
    assert alerts["significance"].gt(0).all()

    # One message, the incident as one section, each alert in it once.
    sent = [n for request in hook.requests for n in request.json()["notifications"]]
    assert len(hook.requests) == 1 and len(sent) == 5
    assert {n["incident_id"] for n in sent} == {int(incident["incident_id"])}
    assert sorted(n["alert_id"] for n in sent) == sorted(alerts["alert_id"].tolist())

    # The brief tells leadership one story, not five alerts.
    brief = build_brief(warehouse, days[-1], charts=False)
    assert (
        len(brief.incidents) == 1
        and "statements (all content) on shorts down" in (brief.incidents[0])
    )
    assert "statements (all content) on shorts down" in render_brief_html(brief)

    # Labelling the incident labels every alert in it.
    done = incident_store.label_incident(
        warehouse, int(incident["incident_id"]), "confirmed", "analyst", now
    )
    assert done == 5
    assert set(alert_store.list_alerts(warehouse)["label"]) == {"confirmed"}


def test_a_category_that_goes_quiet_a_day_later_joins_the_platforms_incident(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    days = day_range(dt.date(2026, 1, 1), 70)
    load(warehouse, days, days[-3], late="hate")
    now = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(3))
    evaluate_pending_days(warehouse, SILENT, now=now)
    incidents = incident_store.list_incidents(warehouse)
    assert len(incidents) == 1 and incidents.iloc[0]["alert_count"] == 5
    assert "hate" in incidents.iloc[0]["headline"]
    assert pd.Timestamp(incidents.iloc[0]["opened_ds"]).date() == days[-3]


def test_the_incident_resolves_when_its_last_alert_does(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    days = day_range(dt.date(2026, 1, 1), 70)
    load(warehouse, days[:-2], days[-4])  # quiet for two days...
    now = dt.datetime.combine(days[-1], dt.time(3))
    evaluate_pending_days(warehouse, SILENT, now=now)
    back = series_frame(days, ["clips", "shorts"], CATEGORIES[:4])
    back = back[back["ds"] >= days[-2]]  # ...then back, with the other platform
    back["unique_id"] = (
        back["metric"] + "|" + back["platform"] + "|" + back["policy_category"] + "|all|all"
    )
    warehouse.append_rows(
        "daily_metrics", back.assign(source="landed", numerator=None, denominator=None)
    )
    warehouse.append_rows("risk_indicators", quiet_indicators(back))
    evaluate_pending_days(warehouse, SILENT, now=now + dt.timedelta(days=2))
    incident = incident_store.list_incidents(warehouse).iloc[0]
    assert incident["state"] == "resolved"
    assert pd.Timestamp(incident["resolved_ds"]).date() == days[-2]

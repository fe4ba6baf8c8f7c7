"""Alert state between the warehouse's plain rows and alerting's objects: open alerts as
``AlertState``, transitions written back, silences as ``Silence``. The warehouse knows tables,
alerting knows states; this is the one place that knows both."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.engine import Connection

from risk_pipelines.alerting.evaluation.grouping import (
    FiredAlert,
    OpenIncident,
    group_fired,
    incident_of,
)
from risk_pipelines.alerting.evaluation.state import AlertState, Transition
from risk_pipelines.alerting.notification.silences import Silence
from risk_pipelines.domain.series import split_series_id
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse import incidents as incident_store
from risk_pipelines.warehouse.store import Warehouse


def load_open_alerts(conn: Connection) -> dict[tuple[str, str], AlertState]:
    rows = alert_store.open_alert_rows(conn)
    return {
        (r["rule_id"], r["unique_id"]): AlertState(
            r["rule_id"],
            r["unique_id"],
            r["state"],
            r["severity"],
            r["breach_count"],
            r["clean_count"],
            r["observed_value"],
            r["threshold"],
            r["message"],
            r["alert_id"],
            alert_store.date_or_none(r["notified_ds"]),
            r["escalated_from"],
            alert_store.date_or_none(r["first_breach_ds"]),
            alert_store.date_or_none(r["last_breach_ds"]),
            r["level_shift_to"],
            r["significance"],
        )
        for r in rows
    }


def apply_transitions(
    conn: Connection,
    transitions: list[Transition],
    day: dt.date,
    now: dt.datetime,
    dims: dict[str, dict[str, str]],
) -> list[AlertState]:
    """Write transitions; returns the states after, with alert ids for new alerts."""
    written = []
    for t in transitions:
        after = t.after
        values = {
            "state": after.state,
            "breach_count": after.breach_count,
            "clean_count": after.clean_count,
            "observed_value": after.observed_value,
            "threshold": after.threshold,
            "message": after.message,
            "last_evaluated_ds": day,
            "severity": after.severity,
            "notified_ds": after.notified_ds,
            "escalated_from": after.escalated_from,
            "last_breach_ds": after.fresh_ds,
            "level_shift_to": after.shift_level,
            "significance": after.significance,
        }
        if t.notify == "firing":
            values["fired_at"] = now
        if after.state == "resolved":
            values["resolved_at"] = now
        if t.before is None:
            d = dims.get(after.unique_id, {})
            values.update(
                rule_id=after.rule_id,
                unique_id=after.unique_id,
                metric=d.get("metric"),
                policy_category=d.get("policy_category"),
                region=d.get("region"),
                first_breach_ds=day,
                opened_at=now,
            )
            alert_id = alert_store.write_alert(conn, None, values)
        else:
            alert_id = alert_store.write_alert(conn, t.before.alert_id, values)
        written.append(AlertState(**{**after.__dict__, "alert_id": alert_id}))
    return written


def add_silence(warehouse: Warehouse, silence: Silence) -> int:
    return alert_store.insert_silence(
        warehouse,
        {
            "matcher": json.dumps(silence.matcher, sort_keys=True),
            "author": silence.author,
            "comment": silence.comment,
            "starts_at": silence.starts_at,
            "expires_at": silence.expires_at,
        },
    )


def load_silences(conn: Connection, now: dt.datetime, *, active_only: bool = True) -> list[Silence]:
    return [
        Silence(
            json.loads(row["matcher"]), row["author"], row["comment"], row["starts_at"],
            row["expires_at"], row["silence_id"],
        )
        for row in alert_store.silence_rows(conn, now, active_only=active_only)
    ]  # fmt: skip


def record_incidents(conn: Connection, fired: list[FiredAlert], day: dt.date) -> int:
    """Group the alerts that started firing on ``day`` into incidents (opening new ones or
    joining open ones), then resolve incidents with no open alert left; incidents touched."""
    opened = [
        OpenIncident(r["incident_id"], alert_store.date_or_none(r["opened_ds"]), r["direction"],
                     r["cause"])
        for r in incident_store.open_incident_rows(conn)
    ]  # fmt: skip
    plans = group_fired(fired, opened, day) if fired else []
    for plan in plans:
        if plan.incident_id is not None:  # joined: the headline covers the earlier members too
            earlier = [
                FiredAlert(r["alert_id"], r["rule_id"], r["unique_id"], _dims(r),
                           plan.direction, r["significance"])
                for r in alert_store.alert_rows(conn, incident_id=plan.incident_id)
            ]  # fmt: skip
            plan = incident_of(plan.direction, plan.cause, earlier + plan.members, plan.incident_id)
        values = {"last_ds": day, "direction": plan.direction, "cause": plan.cause,
                  "headline": plan.headline(), "alert_count": len(plan.members),
                  "significance": plan.significance()}  # fmt: skip
        if plan.incident_id is None:
            values["opened_ds"] = day
        incident_store.save_incident(
            conn, plan.incident_id, values, [m.alert_id for m in plan.members]
        )
    incident_store.resolve_finished(conn, day)
    return len(plans)


def _dims(row: dict) -> dict[str, str]:
    try:
        return split_series_id(row["unique_id"])
    except ValueError:  # not a series (a data-quality alert): no place in the hierarchy
        return {}

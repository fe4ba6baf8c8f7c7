"""Alert state between the warehouse's plain rows and alerting's objects: open alerts as
``AlertState``, transitions written back, silences as ``Silence``. The warehouse knows tables,
alerting knows states; this is the one place that knows both."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.engine import Connection

from risk_pipelines.alerting.evaluation.state import AlertState, Transition
from risk_pipelines.alerting.notification.silences import Silence
from risk_pipelines.warehouse import alerts as alert_store
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

"""Alert state in the warehouse: open alerts in, transitions and notifications out."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_pipelines.alerting.state import AlertState, Transition
from risk_pipelines.warehouse.schema import alert_evaluations, alert_notifications, alerts
from risk_pipelines.warehouse.store import Warehouse

OPEN_STATES = ("pending", "firing")


def load_open_alerts(conn: Connection) -> dict[tuple[str, str], AlertState]:
    rows = conn.execute(sa.select(alerts).where(alerts.c.state.in_(OPEN_STATES))).mappings()
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
        )
        for r in rows
    }


def evaluated_through(warehouse: Warehouse) -> dt.date | None:
    value = warehouse.scalar(sa.select(sa.func.max(alert_evaluations.c.ds)))
    return pd.Timestamp(value).date() if value is not None else None


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
                severity=after.severity,
                metric=d.get("metric"),
                policy_category=d.get("policy_category"),
                region=d.get("region"),
                first_breach_ds=day,
                opened_at=now,
            )
            alert_id = conn.execute(sa.insert(alerts).values(**values)).inserted_primary_key[0]
        else:
            alert_id = t.before.alert_id
            conn.execute(sa.update(alerts).where(alerts.c.alert_id == alert_id).values(**values))
        written.append(AlertState(**{**after.__dict__, "alert_id": alert_id}))
    return written


def record_evaluation(conn: Connection, day: dt.date, now: dt.datetime, **counts: int) -> None:
    conn.execute(sa.delete(alert_evaluations).where(alert_evaluations.c.ds == day))
    conn.execute(sa.insert(alert_evaluations).values(ds=day, evaluated_at=now, **counts))


def record_notification(
    conn: Connection,
    alert_id: int,
    event: str,
    channel: str,
    status: str,
    attempts: int,
    error: str | None,
    now: dt.datetime,
) -> None:
    conn.execute(
        sa.insert(alert_notifications).values(
            alert_id=alert_id,
            event=event,
            channel=channel,
            status=status,
            attempts=attempts,
            error=error,
            created_at=now,
            sent_at=now if status == "sent" else None,
        )
    )
    if status == "sent":
        conn.execute(
            sa.update(alerts).where(alerts.c.alert_id == alert_id).values(last_notified_at=now)
        )


def list_alerts(warehouse: Warehouse, state: str | None = None) -> pd.DataFrame:
    query = sa.select(alerts).order_by(alerts.c.last_evaluated_ds.desc(), alerts.c.alert_id)
    if state:
        query = query.where(alerts.c.state == state)
    return warehouse.read_query(query)

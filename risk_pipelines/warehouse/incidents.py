"""Incident rows: related alerts grouped under one cause, and what analysts do to all of them
at once (acknowledge, label). Plain rows; alerting/evaluation/grouping.py decides the groups."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_pipelines.warehouse.alerts import OPEN_STATES, acknowledge, label_alert
from risk_pipelines.warehouse.schema import alert_incidents, alerts
from risk_pipelines.warehouse.store import Warehouse


def open_incident_rows(conn: Connection) -> list[dict]:
    query = sa.select(alert_incidents).where(alert_incidents.c.state == "open")
    rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["cause"] = json.loads(row["cause"])
    return rows


def save_incident(conn: Connection, incident_id: int | None, values: dict, alert_ids) -> int:
    """Open an incident (``incident_id`` None) or update one, and point its alerts at it."""
    values = {**values, "cause": json.dumps(values["cause"], sort_keys=True)}
    if incident_id is None:
        result = conn.execute(sa.insert(alert_incidents).values(state="open", **values))
        incident_id = int(result.inserted_primary_key[0])
    else:
        conn.execute(
            sa.update(alert_incidents)
            .where(alert_incidents.c.incident_id == incident_id)
            .values(**values)
        )
    alert_ids = list(alert_ids)
    if alert_ids:
        conn.execute(
            sa.update(alerts)
            .where(alerts.c.alert_id.in_(alert_ids))
            .values(incident_id=incident_id)
        )
    return incident_id


def resolve_finished(conn: Connection, day: dt.date) -> int:
    """Resolve every open incident none of whose alerts is still open; how many."""
    still_open = sa.select(alerts.c.incident_id).where(
        alerts.c.state.in_(OPEN_STATES), alerts.c.incident_id.is_not(None)
    )
    return conn.execute(
        sa.update(alert_incidents)
        .where(alert_incidents.c.state == "open", alert_incidents.c.incident_id.not_in(still_open))
        .values(state="resolved", resolved_ds=day, last_ds=day)
    ).rowcount


def list_incidents(warehouse: Warehouse, state: str | None = None) -> pd.DataFrame:
    """Incidents, most significant first, each with its alerts' ids."""
    query = sa.select(alert_incidents).order_by(
        alert_incidents.c.state,
        alert_incidents.c.significance.desc(),
        alert_incidents.c.incident_id,
    )
    if state:
        query = query.where(alert_incidents.c.state == state)
    return warehouse.read_query(query)


def incident_alert_ids(warehouse: Warehouse, incident_id: int) -> list[int]:
    frame = warehouse.read_query(
        sa.select(alerts.c.alert_id).where(alerts.c.incident_id == incident_id)
    )
    if frame.empty:
        raise ValueError(f"incident #{incident_id} does not exist")
    return [int(a) for a in frame["alert_id"]]


def acknowledge_incident(warehouse: Warehouse, incident_id: int, by: str, now: dt.datetime) -> int:
    """Acknowledge every alert of the incident; how many."""
    ids = incident_alert_ids(warehouse, incident_id)
    for alert_id in ids:
        acknowledge(warehouse, alert_id, by, now)
    return len(ids)


def label_incident(
    warehouse: Warehouse, incident_id: int, label: str, by: str, now: dt.datetime
) -> int:
    """Give every alert of the incident the label (and its effects, e.g. new_trend's
    re-baseline); how many."""
    ids = incident_alert_ids(warehouse, incident_id)
    for alert_id in ids:
        label_alert(warehouse, alert_id, label, by, now)
    return len(ids)

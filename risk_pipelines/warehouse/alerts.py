"""Alert state in the warehouse: open alerts in, transitions and notifications out."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_pipelines.alerting.silences import Silence
from risk_pipelines.alerting.state import AlertState, Transition
from risk_pipelines.warehouse.schema import (
    alert_evaluations,
    alert_notifications,
    alert_silences,
    alerts,
)
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


# -- silences, acknowledgements, labels ----------------------------------------------------------

LABELS = ("confirmed", "false_alarm", "expected", "new_trend")


def add_silence(warehouse: Warehouse, silence: Silence) -> int:
    with warehouse.engine.begin() as conn:
        result = conn.execute(
            sa.insert(alert_silences).values(
                matcher=json.dumps(silence.matcher, sort_keys=True),
                author=silence.author,
                comment=silence.comment,
                starts_at=silence.starts_at,
                expires_at=silence.expires_at,
            )
        )
        return int(result.inserted_primary_key[0])


def load_silences(conn: Connection, now: dt.datetime, *, active_only: bool = True) -> list:
    query = sa.select(alert_silences).order_by(alert_silences.c.silence_id)
    if active_only:
        query = query.where(alert_silences.c.expires_at > now, alert_silences.c.starts_at <= now)
    return [
        Silence(
            json.loads(row.matcher), row.author, row.comment, row.starts_at, row.expires_at,
            row.silence_id,
        )
        for row in conn.execute(query)
    ]  # fmt: skip


def expire_silence(warehouse: Warehouse, silence_id: int, by: str, now: dt.datetime) -> None:
    with warehouse.engine.begin() as conn:
        updated = conn.execute(
            sa.update(alert_silences)
            .where(alert_silences.c.silence_id == silence_id, alert_silences.c.expires_at > now)
            .values(expires_at=now, expired_by=by)
        ).rowcount
    if not updated:
        raise ValueError(f"silence #{silence_id} does not exist or has already ended")


def acknowledge(warehouse: Warehouse, alert_id: int, by: str, now: dt.datetime) -> None:
    _update_alert(warehouse, alert_id, ack_by=by, ack_at=now)


def label_alert(warehouse: Warehouse, alert_id: int, label: str, by: str, now: dt.datetime) -> None:
    if label not in LABELS:
        raise ValueError(f"label {label!r}: expected one of {list(LABELS)}")
    # Labelling an alert acknowledges it, unless someone already has.
    _update_alert(
        warehouse,
        alert_id,
        label=label,
        ack_by=sa.func.coalesce(alerts.c.ack_by, by),
        ack_at=sa.func.coalesce(alerts.c.ack_at, now),
    )


def precision_by_rule(warehouse: Warehouse) -> pd.DataFrame:
    """Per rule: alerts fired, how many were labelled, each label, and precision.

    Precision is the share of labelled alerts that pointed at a real change (``confirmed`` or
    ``new_trend``); ``expected`` (a known event) and ``false_alarm`` count against the rule, as
    both cost leadership attention without telling them something new."""
    frame = warehouse.read_query(
        sa.select(alerts.c.rule_id, alerts.c.label).where(alerts.c.fired_at.is_not(None))
    )
    if frame.empty:
        return pd.DataFrame(columns=["rule_id", "fired", "labelled", *LABELS, "precision"])
    counts = pd.crosstab(frame["rule_id"], frame["label"].fillna("unlabelled"))
    out = pd.DataFrame({"fired": frame.groupby("rule_id").size()})
    for label in LABELS:
        out[label] = counts.get(label, 0)
    out["labelled"] = out[list(LABELS)].sum(axis=1)
    useful = out["confirmed"] + out["new_trend"]
    out["precision"] = (useful / out["labelled"]).where(out["labelled"] > 0).round(3)
    return out.reset_index()[["rule_id", "fired", "labelled", *LABELS, "precision"]]


def _update_alert(warehouse: Warehouse, alert_id: int, **values) -> None:
    with warehouse.engine.begin() as conn:
        updated = conn.execute(
            sa.update(alerts).where(alerts.c.alert_id == alert_id).values(**values)
        ).rowcount
    if not updated:
        raise ValueError(f"alert #{alert_id} does not exist")

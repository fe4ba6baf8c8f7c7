"""Alert tables in the warehouse as plain rows: open alerts in, alert rows, evaluations,
notifications and silences out. ``alerting.repository`` maps rows to alerting's objects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from risk_pipelines.warehouse.schema import (
    alert_evaluations,
    alert_incidents,
    alert_notifications,
    alert_silences,
    alerts,
)
from risk_pipelines.warehouse.store import Warehouse

OPEN_STATES = ("pending", "firing")


def open_alert_rows(conn: Connection) -> list[dict]:
    """Every pending or firing alert, one plain row each (alerting's repository maps them)."""
    query = sa.select(alerts).where(alerts.c.state.in_(OPEN_STATES))
    return [dict(row) for row in conn.execute(query).mappings()]


def alert_rows(conn: Connection, *, incident_id: int) -> list[dict]:
    """The alerts of one incident, oldest first."""
    query = sa.select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.alert_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def date_or_none(value) -> dt.date | None:
    return None if value is None else pd.Timestamp(value).date()


def evaluated_through(warehouse: Warehouse) -> dt.date | None:
    value = warehouse.scalar(sa.select(sa.func.max(alert_evaluations.c.ds)))
    return pd.Timestamp(value).date() if value is not None else None


def write_alert(conn: Connection, alert_id: int | None, values: dict) -> int:
    """Insert a new alert row (``alert_id`` None) or update one; returns its id."""
    if alert_id is None:
        return int(conn.execute(sa.insert(alerts).values(**values)).inserted_primary_key[0])
    conn.execute(sa.update(alerts).where(alerts.c.alert_id == alert_id).values(**values))
    return alert_id


def record_evaluation(conn: Connection, day: dt.date, now: dt.datetime, **counts: int) -> None:
    conn.execute(sa.delete(alert_evaluations).where(alert_evaluations.c.ds == day))
    conn.execute(sa.insert(alert_evaluations).values(ds=day, evaluated_at=now, **counts))


@dataclass(frozen=True)
class Notification:
    """The first row of a notification: ``queued`` for the dispatcher, or a final status
    (``silenced``, ``suppressed``, ``muted``, ``skipped``) with the reason in ``error``."""

    alert_id: int
    event: str
    route: str
    key: str
    severity: str
    message: str
    owners: tuple[str, ...]
    status: str = "queued"
    error: str | None = None


def queue_notification(conn: Connection, notification: Notification, now: dt.datetime) -> None:
    n = notification
    conn.execute(
        sa.insert(alert_notifications).values(
            alert_id=n.alert_id,
            event=n.event,
            channel=n.route,
            status=n.status,
            attempts=0,
            error=n.error,
            created_at=now,
            idempotency_key=n.key,
            severity=n.severity,
            message=n.message,
            owners=",".join(n.owners),
        )
    )


def undelivered(conn: Connection, max_attempts: int) -> pd.DataFrame:
    """Notifications whose newest row is queued or failed with attempts left, with their
    alert's dimensions: what the dispatcher sends next."""
    n = alert_notifications
    newest = (
        sa.select(sa.func.max(n.c.notification_id).label("notification_id"))
        .group_by(n.c.idempotency_key)
        .subquery()
    )
    query = (
        sa.select(
            n,
            alerts.c.rule_id,
            alerts.c.unique_id,
            alerts.c.metric,
            alerts.c.policy_category,
            alerts.c.region,
            alerts.c.contributors,
            alerts.c.annotation,
            alerts.c.incident_id,
            alerts.c.significance,
            alert_incidents.c.headline,
        )
        .join(newest, newest.c.notification_id == n.c.notification_id)
        .join(alerts, alerts.c.alert_id == n.c.alert_id)
        .outerjoin(alert_incidents, alert_incidents.c.incident_id == alerts.c.incident_id)
        .where(n.c.status.in_(("queued", "failed")), n.c.attempts < max_attempts)
        .order_by(n.c.notification_id)
    )
    return pd.DataFrame(conn.execute(query).mappings().all())


def record_attempt(
    conn: Connection,
    row: dict,
    *,
    status: str,
    error: str | None,
    digest_key: str,
    now: dt.datetime,
) -> None:
    """One more row per delivery attempt, so the audit trail keeps every try."""
    conn.execute(
        sa.insert(alert_notifications).values(
            alert_id=row["alert_id"],
            event=row["event"],
            channel=row["channel"],
            status=status,
            attempts=int(row["attempts"]) + 1,
            error=error,
            created_at=now,
            sent_at=now if status == "sent" else None,
            idempotency_key=row["idempotency_key"],
            digest_key=digest_key,
            severity=row["severity"],
            message=row["message"],
            owners=row["owners"],
        )
    )
    if status == "sent":
        conn.execute(
            sa.update(alerts)
            .where(alerts.c.alert_id == row["alert_id"])
            .values(last_notified_at=now)
        )


def set_alert_context(
    conn: Connection, alert_id: int, *, contributors: str | None, annotation: str | None
) -> None:
    conn.execute(
        sa.update(alerts)
        .where(alerts.c.alert_id == alert_id)
        .values(contributors=contributors, annotation=annotation)
    )


def muted_identities(conn: Connection, day: dt.date) -> frozenset[tuple[str, str]]:
    rows = conn.execute(
        sa.select(alerts.c.rule_id, alerts.c.unique_id).where(alerts.c.muted_until >= day)
    )
    return frozenset((r.rule_id, r.unique_id) for r in rows)


def unmute(conn: Connection, rule_id: str, unique_ids: list[str]) -> None:
    """A re-baselined series that comes back inside the rule's line is news again next time."""
    if unique_ids:
        conn.execute(
            sa.update(alerts)
            .where(
                alerts.c.rule_id == rule_id,
                alerts.c.unique_id.in_(unique_ids),
                alerts.c.muted_until.is_not(None),
            )
            .values(muted_until=None)
        )


def list_alerts(warehouse: Warehouse, state: str | None = None) -> pd.DataFrame:
    query = sa.select(alerts).order_by(alerts.c.last_evaluated_ds.desc(), alerts.c.alert_id)
    if state:
        query = query.where(alerts.c.state == state)
    return warehouse.read_query(query)


# -- silences, acknowledgements, labels ----------------------------------------------------------

LABELS = ("confirmed", "false_alarm", "expected", "new_trend")
REBASELINE_DAYS = 28


def insert_silence(warehouse: Warehouse, values: dict) -> int:
    """A silence row (matcher as JSON, author, comment, starts_at, expires_at); its id."""
    with warehouse.engine.begin() as conn:
        result = conn.execute(sa.insert(alert_silences).values(**values))
        return int(result.inserted_primary_key[0])


def silence_rows(conn: Connection, now: dt.datetime, *, active_only: bool = True) -> list[dict]:
    query = sa.select(alert_silences).order_by(alert_silences.c.silence_id)
    if active_only:
        query = query.where(alert_silences.c.expires_at > now, alert_silences.c.starts_at <= now)
    return [dict(row) for row in conn.execute(query).mappings()]


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


def label_alert(
    warehouse: Warehouse, alert_id: int, label: str, by: str, now: dt.datetime, comment: str = ""
) -> None:
    if label not in LABELS:
        raise ValueError(f"label {label!r}: expected one of {list(LABELS)}")
    # Labelling an alert acknowledges it, unless someone already has.
    values = dict(
        label=label,
        labelled_by=by,
        labelled_at=now,
        label_comment=comment.strip() or None,
        ack_by=sa.func.coalesce(alerts.c.ack_by, by),
        ack_at=sa.func.coalesce(alerts.c.ack_at, now),
    )
    if label == "new_trend":
        # The new level is the baseline now: close the alert and open no new one for the series
        # until it comes back inside the rule's line or REBASELINE_DAYS pass, by which time the
        # forecasts' level-shift trimming (forecasting/hygiene.py) has taken the new level in.
        values.update(
            state=sa.case((alerts.c.state.in_(OPEN_STATES), "resolved"), else_=alerts.c.state),
            resolved_at=sa.func.coalesce(alerts.c.resolved_at, now),
            muted_until=now.date() + dt.timedelta(days=REBASELINE_DAYS),
        )
    _update_alert(warehouse, alert_id, **values)


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

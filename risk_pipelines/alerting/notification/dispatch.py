"""Deliver queued notifications: one digest per route, at least once, never twice once sent.

Evaluation only *queues* notifications (a ``queued`` row per notification and route, keyed by
an idempotency key). This dispatcher sends whatever is queued or failed with attempts left,
grouped into one message per route, and adds a row per attempt. A route that is down now gets
its notifications on a later call, and only those: the ones a route has accepted have a ``sent``
row and are never picked again. A crash between sending and recording can repeat a message,
with the same ``Idempotency-Key``, so a receiver can drop the copy.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from risk_pipelines.alerting.notification.channels import Channel, DisabledChannel, build_channel
from risk_pipelines.alerting.notification.digest import Attachment, Digest, DigestItem
from risk_pipelines.alerting.notification.routes import RouteConfig
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse.store import Warehouse

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass
class DispatchReport:
    sent: int = 0  # notifications a route accepted
    failed: int = 0  # notifications whose send failed this time (retried later)
    skipped: int = 0  # notifications for a disabled route (recorded, not retried)
    messages: int = 0  # digests sent

    def summary(self) -> str:
        return (
            f"{self.sent} notification(s) delivered in {self.messages} message(s)"
            + (f", {self.failed} failed (retried on a later tick)" if self.failed else "")
            + (f", {self.skipped} for disabled routes" if self.skipped else "")
        )


ChartBuilder = Callable[[list[DigestItem]], bytes | None]
AttachmentBuilder = Callable[[list[DigestItem]], list[Attachment]]


def _no_chart(items: list[DigestItem]) -> bytes | None:
    return None


def _no_attachments(items: list[DigestItem]) -> list[Attachment]:
    return []


@dataclass(frozen=True)
class DeliveryTools:
    """What the caller hands the dispatcher, so notification depends on nothing above it:
    ``environ`` holds the channels' secrets (looked up when sending); an email digest carries
    ``chart_for``'s chart inline and ``attachments_for``'s files (the daily brief); ``channels``
    overrides the channel of a route by name (tests, benchmarks); routes not reached within
    ``budget_seconds`` wait for the next call (a sensor tick must end in time)."""

    environ: Mapping[str, str]
    chart_for: ChartBuilder = _no_chart
    attachments_for: AttachmentBuilder = _no_attachments
    channels: Mapping[str, Channel] = field(default_factory=dict)
    budget_seconds: float = 40.0
    console_url: str | None = None  # each digest links its alerts' pages there


def dispatch(
    warehouse: Warehouse, routes: RouteConfig, now: dt.datetime, tools: DeliveryTools
) -> DispatchReport:
    """Send every queued or retryable notification, one digest per route."""
    channels, budget_seconds = tools.channels, tools.budget_seconds
    started = time.monotonic()
    report = DispatchReport()
    with warehouse.engine.begin() as conn:
        pending = alert_store.undelivered(conn, MAX_ATTEMPTS)
    if pending.empty:
        return report
    for route_name, rows in pending.groupby("channel", sort=True):
        if time.monotonic() - started > budget_seconds:
            log.warning("dispatch budget spent; route %s waits for the next tick", route_name)
            break
        records = rows.to_dict("records")
        items = tuple(_item(r) for r in records)
        route = routes.routes.get(route_name)
        if channels and route_name in channels:
            channel = channels[route_name]
        elif route is None:
            channel = DisabledChannel(f"route {route_name} is no longer in channels.yaml")
        else:
            channel = build_channel(route, tools.environ)
        chart, attachments = None, []
        if route is not None and route.channel == "email":
            chart = tools.chart_for(list(items))
            attachments = tools.attachments_for(list(items))
        digest = Digest(route_name, now, items, chart, tuple(attachments), tools.console_url)
        delivery = channel.send(digest)
        with warehouse.engine.begin() as conn:
            for record in records:
                alert_store.record_attempt(
                    conn,
                    record,
                    status=delivery.status,
                    error=delivery.error,
                    digest_key=digest.key,
                    now=now,
                )
        count = len(records)
        if delivery.status == "sent":
            report.sent += count
            report.messages += 1
        elif delivery.status == "failed":
            report.failed += count
            log.warning("route %s failed (%s); will retry", route_name, delivery.error)
        else:
            report.skipped += count
    return report


def _item(row: dict) -> DigestItem:
    contributors = json.loads(row["contributors"]) if _present(row.get("contributors")) else []
    return DigestItem(
        idempotency_key=row["idempotency_key"],
        alert_id=int(row["alert_id"]),
        event=row["event"],
        severity=row["severity"],
        rule_id=row["rule_id"],
        unique_id=row["unique_id"],
        metric=row.get("metric"),
        policy_category=row.get("policy_category"),
        region=row.get("region"),
        message=row["message"],
        owners=tuple(o for o in (row.get("owners") or "").split(",") if o),
        contributors=tuple(contributors),
        annotation=row["annotation"] if _present(row.get("annotation")) else None,
        incident_id=int(row["incident_id"]) if _present(row.get("incident_id")) else None,
        incident_headline=row["headline"] if _present(row.get("headline")) else None,
        significance=float(row["significance"]) if _present(row.get("significance")) else None,
    )


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value))

"""Delivering queued notifications with everything notification must not import itself: the
channels' secrets from the live environment, and reporting's chart and brief for an email
digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from risk_pipelines.alerting.notification.channels import Channel
from risk_pipelines.alerting.notification.dispatch import DeliveryTools, DispatchReport, dispatch
from risk_pipelines.alerting.notification.routes import RouteConfig
from risk_pipelines.config import console_url, secret_environment
from risk_pipelines.reporting.publish import brief_attachments, digest_chart
from risk_pipelines.warehouse.store import Warehouse


def deliver(
    warehouse: Warehouse,
    routes: RouteConfig,
    now: dt.datetime,
    channels: Mapping[str, Channel] | None = None,
) -> DispatchReport:
    """Send what is queued or due a retry, one digest per route; ``channels`` overrides a
    route's channel by name (tests, benchmarks)."""
    link_base = console_url()
    tools = DeliveryTools(
        environ=secret_environment(),
        chart_for=lambda items: digest_chart(warehouse, items),
        attachments_for=lambda items: brief_attachments(warehouse, now, link_base),
        channels=dict(channels or {}),
        console_url=link_base,
    )
    return dispatch(warehouse, routes, now, tools)

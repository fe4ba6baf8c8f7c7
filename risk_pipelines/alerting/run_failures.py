"""A failed pipeline run becomes an alert for data engineers, once per run."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from risk_pipelines.alerting.notification.channels import Channel
from risk_pipelines.alerting.notification.dispatch import DispatchReport, dispatch
from risk_pipelines.alerting.notification.routes import RouteConfig
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse.schema import alerts
from risk_pipelines.warehouse.store import Warehouse

RULE_ID = "pipeline.run_failure"
OWNERS = ("team:risk-data-engineering",)


def record_run_failure(
    warehouse: Warehouse,
    routes: RouteConfig,
    *,
    job_name: str,
    run_id: str,
    error: str,
    now: dt.datetime,
    channels: dict[str, Channel] | None = None,
) -> DispatchReport | None:
    """Open a firing alert for the run and notify the data-quality routes; None when this run
    was already recorded (a sensor re-evaluating the same run repeats nothing)."""
    unique_id = f"{job_name}|{run_id}"
    message = f"run {run_id} of {job_name} failed: {error.strip().splitlines()[0][:300]}"
    with warehouse.engine.begin() as conn:
        seen = conn.execute(
            sa.select(alerts.c.alert_id).where(
                alerts.c.rule_id == RULE_ID, alerts.c.unique_id == unique_id
            )
        ).first()
        if seen is not None:
            return None
        alert_id = conn.execute(
            sa.insert(alerts).values(
                rule_id=RULE_ID, unique_id=unique_id, state="firing", severity="high",
                first_breach_ds=now.date(), last_evaluated_ds=now.date(), opened_at=now,
                fired_at=now, breach_count=1, clean_count=0, message=message,
            )
        ).inserted_primary_key[0]  # fmt: skip
        for route in routes.data_quality_routes:
            alert_store.queue_notification(
                conn, alert_id=alert_id, event="firing", route=route,
                key=f"{alert_id}:firing:{route}", severity="high", message=message,
                owners=OWNERS, now=now,
            )  # fmt: skip
    return dispatch(warehouse, routes, now, channels=channels)

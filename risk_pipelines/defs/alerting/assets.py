"""The alert tables as an asset the UI shows: written by the alert sensor, not materialised by
a run."""

import dagster as dg

from risk_pipelines.defs.shared import column_schema
from risk_pipelines.warehouse import schema

alerts = dg.AssetSpec(
    "alerts",
    metadata=column_schema(schema.alerts),
    group_name="alerting",
    owners=["team:risk-analysis"],
    kinds={"python", "sql"},
    deps=["risk_indicators", "metric_forecasts"],
    description="Alert state (pending -> firing -> resolved per rule and series) and every "
    "notification attempt, written by the risk_alerts_sensor from the YAML rules in "
    "RISK_PIPELINES_CONFIG/alert_rules.yaml. Tables: alerts, alert_notifications, "
    "alert_evaluations.",
)

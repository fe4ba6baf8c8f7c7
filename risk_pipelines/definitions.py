"""The Dagster code location (workspace.yaml loads this module)."""

from __future__ import annotations

import dagster as dg

from risk_pipelines.assets.forecasts import metric_forecasts
from risk_pipelines.assets.indicators import alerts, risk_indicators
from risk_pipelines.assets.ingest import incidents, moderation_decisions
from risk_pipelines.assets.metrics import daily_metrics
from risk_pipelines.resources import build_resources
from risk_pipelines.sensors.alerts import risk_alerts_sensor
from risk_pipelines.sensors.data_quality import data_quality_sensor

PIPELINE_ASSETS = [
    moderation_decisions,
    incidents,
    daily_metrics,
    metric_forecasts,
    risk_indicators,
]

# One mechanism for the daily cadence: a single partitioned job runs ingest -> metrics ->
# forecasts -> indicators for yesterday (UTC); the alert sensor reacts to its indicators.
daily_risk_job = dg.define_asset_job(
    "daily_risk_job",
    selection=dg.AssetSelection.assets(*PIPELINE_ASSETS),
    description="Ingest, metrics, forecasts and indicators for a day or a range of days.",
)
daily_risk_schedule = dg.build_schedule_from_partitioned_job(
    daily_risk_job,
    name="daily_risk_schedule",
    hour_of_day=2,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 02:00 UTC, the previous UTC day's partition.",
)

defs = dg.Definitions(
    assets=[*PIPELINE_ASSETS, alerts],
    jobs=[daily_risk_job],
    schedules=[daily_risk_schedule],
    sensors=[risk_alerts_sensor, data_quality_sensor],
    resources=build_resources(),
)

"""The Dagster code location (workspace.yaml loads this module)."""

from __future__ import annotations

import dagster as dg

from risk_pipelines.assets.brief import risk_brief, risk_brief_job
from risk_pipelines.assets.common import POLICY_AREA_PARTITIONS
from risk_pipelines.assets.dsa import dsa_statements, dsa_statements_job
from risk_pipelines.assets.forecasts import (
    forecast_accuracy,
    forecast_model_selection,
    metric_forecasts,
)
from risk_pipelines.assets.indicators import alerts, risk_indicators
from risk_pipelines.assets.ingest import incidents, moderation_decisions
from risk_pipelines.assets.metrics import daily_metrics
from risk_pipelines.execution import executor_from_environment
from risk_pipelines.resources import build_resources
from risk_pipelines.sensors.alerts import pipeline_run_failure_sensor, risk_alerts_sensor
from risk_pipelines.sensors.data_quality import data_quality_sensor
from risk_pipelines.sensors.dsa import dsa_dump_sensor
from risk_pipelines.sensors.landing import make_landing_sensor

PIPELINE_ASSETS = [
    moderation_decisions,
    incidents,
    daily_metrics,
    metric_forecasts,
    forecast_accuracy,
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

# Weekly: backtest every candidate model per series and keep the winner's spec; the daily
# forecasts reuse it, so the costly part runs once a week. One run per policy area: under the
# run queue and a distributed executor (deploy/), the areas spread over the workers.
model_selection_job = dg.define_asset_job(
    "weekly_model_selection_job",
    selection=dg.AssetSelection.assets(forecast_model_selection),
    description="Backtest, select and calibrate a forecast model per series, one policy area "
    "per run.",
)


@dg.schedule(
    name="weekly_model_selection_schedule",
    job=model_selection_job,
    cron_schedule="0 4 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Mondays at 04:00 UTC, after the daily run of Sunday's partition: one run per "
    "policy area.",
)
def model_selection_schedule(context: dg.ScheduleEvaluationContext):
    week = context.scheduled_execution_time.date().isoformat()
    for area in POLICY_AREA_PARTITIONS.get_partition_keys():
        yield dg.RunRequest(run_key=f"{week}:{area}", partition_key=area)


defs = dg.Definitions(
    assets=[*PIPELINE_ASSETS, forecast_model_selection, alerts, risk_brief, dsa_statements],
    jobs=[daily_risk_job, model_selection_job, risk_brief_job, dsa_statements_job],
    schedules=[daily_risk_schedule, model_selection_schedule],
    sensors=[
        make_landing_sensor(daily_risk_job.name),
        risk_alerts_sensor,
        pipeline_run_failure_sensor,
        data_quality_sensor,
        dsa_dump_sensor,
    ],
    resources=build_resources(),
    executor=executor_from_environment(),
)

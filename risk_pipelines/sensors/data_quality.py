"""The data-quality sensor: tells data engineers about blocked days, late or missing
deliveries and changed headers, through the alert channels. A plain sensor: failed asset
checks do not fail runs, so no run-failure sensor would ever see them."""

from pathlib import Path

import dagster as dg

from risk_pipelines.domain.clock import utc_now
from risk_pipelines.quality.suite import load_suite
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.stages.ingest import KNOWN_COLUMNS
from risk_pipelines.stages.quality_alerts import evaluate_data_quality


@dg.sensor(
    name="data_quality_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 5 minutes: opens a data-quality alert (owners team:risk-data-"
    "engineering) for each day of the last week that a suite blocked, that landed late or "
    "not at all by its deadline, or whose header changed; resolves it when the day passes.",
)
def data_quality_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.SkipReason:
    deadlines = {
        dataset: load_suite(dataset).settings.freshness_deadline_hours for dataset in KNOWN_COLUMNS
    }
    report = evaluate_data_quality(
        warehouse.get(),
        pipeline_config.alert_config().routes,
        landing_dir=Path(pipeline_config.landing_dir),
        deadlines=deadlines,
        now=utc_now(),
    )
    context.log.info(report.summary())
    return dg.SkipReason(report.summary())

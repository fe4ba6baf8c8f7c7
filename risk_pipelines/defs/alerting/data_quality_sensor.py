"""The data-quality sensor: tells data engineers about blocked days, late or missing
deliveries and changed headers, through the alert channels. A plain sensor: failed asset
checks do not fail runs, so no run-failure sensor would ever see them."""

import dagster as dg

from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.stages.quality_alerts import check_deliveries


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
    run = pipeline_config.stage_run("data_quality_sensor", context.log)
    report = check_deliveries(warehouse.get(), run)
    context.log.info(report.summary())
    return dg.SkipReason(report.summary())

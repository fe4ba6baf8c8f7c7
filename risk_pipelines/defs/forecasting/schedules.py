"""The weekly model selection: one run per policy area every Monday, and the very first
selection as soon as there are forecasts to improve."""

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from risk_pipelines.defs.resources import WarehouseResource
from risk_pipelines.defs.shared import MODEL_SELECTION_JOB, POLICY_AREA_PARTITIONS

# Weekly: backtest every candidate model per series and keep the winner's spec; the daily
# forecasts reuse it, so the costly part runs once a week. One run per policy area: under the
# run queue and a distributed executor (deploy/), the areas spread over the workers.
model_selection_job = dg.define_asset_job(
    MODEL_SELECTION_JOB,
    selection=dg.AssetSelection.groups("model_selection"),
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


@dg.sensor(
    name="first_model_selection_sensor",
    job=model_selection_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Once the warehouse holds forecasts but no model has ever been selected (a new "
    "deployment, or make run's demo), runs the model selection for every policy area at once, "
    "so the next daily run forecasts with selected models and calibrated bands without waiting "
    "for Monday. The UI is up meanwhile: the run shows here, queued or running.",
)
def first_model_selection_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.RunRequest | dg.SkipReason:
    db = warehouse.get()
    if not db.has_rows("metric_forecasts"):
        return dg.SkipReason("no forecasts yet: the first selection waits for the first run")
    if db.has_rows("forecast_model_selection"):
        return dg.SkipReason("models have been selected before: the Monday schedule keeps them")
    areas = POLICY_AREA_PARTITIONS.get_partition_keys()
    # One run over the areas' range (as risk-pipelines select-models does), once per instance.
    return dg.RunRequest(
        run_key="first-model-selection",
        tags={ASSET_PARTITION_RANGE_START_TAG: areas[0], ASSET_PARTITION_RANGE_END_TAG: areas[-1]},
    )

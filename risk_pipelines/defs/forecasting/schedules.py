"""The weekly model selection: one run per policy area every Monday."""

import dagster as dg

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

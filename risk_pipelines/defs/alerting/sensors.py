"""The alert sensors.

``risk_alerts_sensor`` is a plain sensor with its own JSON cursor (an asset sensor would
overwrite it). It evaluates the rules when risk_indicators has a new materialisation from a
run that is not part of a backfill, and on every tick delivers what is still queued.

Delivery happens here, in the sensor, rather than in a dispatch job requested with a run key
per notification: a digest per route is a handful of HTTP or SMTP calls, each bounded by a 10 s
timeout, while a run per notification would add a run launch (seconds to tens of seconds) to
every alert's latency and fill the run history with bookkeeping. Exactly-once bookkeeping lives
in the warehouse outbox (one idempotency key per notification and route, a row per attempt),
which a run key could not give us anyway: a run key dedupes launches, not deliveries. A route
that is down is retried on the next tick; the sensor's time budget stops dispatching early so
a slow channel cannot make the tick time out.
"""

import json

import dagster as dg

from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import BRIEF_JOB, bar_chart
from risk_pipelines.domain.clock import utc_now
from risk_pipelines.stages.alerts import evaluate_with_config
from risk_pipelines.stages.delivery import deliver
from risk_pipelines.stages.quality_alerts import record_run_failure
from risk_pipelines.warehouse.alerts import list_alerts

INDICATORS_KEY = dg.AssetKey("risk_indicators")
BACKFILL_TAG = "dagster/backfill"
WILL_RETRY_TAG = "dagster/will_retry"


def _from_backfill(instance: dg.DagsterInstance, record) -> bool:
    run_id = record.event_log_entry.run_id
    run = instance.get_run_by_id(run_id) if run_id else None
    return run is not None and BACKFILL_TAG in run.tags


@dg.sensor(
    name="risk_alerts_sensor",
    job_name=BRIEF_JOB,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the alert rules for every day of risk indicators not yet evaluated "
    "(skipping materialisations from backfills), writes alert state edge-triggered, queues one "
    "notification per route and delivers each route one digest; retries failed deliveries on "
    "later ticks without repeating delivered ones. Then requests the daily risk brief of the "
    "newest evaluated day.",
)
def risk_alerts_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {}
    after = cursor.get("indicators_storage_id")
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=INDICATORS_KEY, after_storage_id=after),
        limit=1000,
    ).records
    config = pipeline_config.config().alerts
    db = warehouse.get()
    fresh = [r for r in records if not _from_backfill(context.instance, r)]
    newest_storage_id = max((r.storage_id for r in records), default=after)
    new_cursor = json.dumps({"indicators_storage_id": newest_storage_id})
    if not fresh:
        # Nothing new to evaluate: still deliver whatever earlier ticks could not.
        delivery = deliver(db, config.routes, utc_now())
        context.update_cursor(new_cursor)
        skipped = len(records) - len(fresh)
        why = "no new risk_indicators materialisation" + (
            f" ({skipped} from backfills, skipped)" if skipped else ""
        )
        return dg.SkipReason(f"{why}; {delivery.summary()}")
    report = evaluate_with_config(db, config)
    context.log.info(report.summary())
    if not report.days:
        context.update_cursor(new_cursor)
        return dg.SkipReason(f"indicators re-materialised, {report.summary()}")
    newest = report.days[-1].isoformat()
    return dg.SensorResult(
        cursor=new_cursor,
        # The brief shows this evaluation's alert state; one per evaluation that reached a day.
        run_requests=[
            dg.RunRequest(partition_key=newest, run_key=f"brief:{newest}:{newest_storage_id}")
        ],
        asset_events=[
            dg.AssetMaterialization(
                asset_key="alerts",
                metadata={
                    "dagster/row_count": db.count("alerts"),
                    "chart": _firing_by_rule(db),
                    "days_evaluated": len(report.days),
                    "through": str(report.days[-1]),
                    "fired": report.fired,
                    "resolved": report.resolved,
                    "firing_now": report.firing_now,
                    "notifications_sent": report.delivery.sent,
                    "notifications_failed": report.delivery.failed,
                    "history_not_sent": report.suppressed_history,
                    "silenced": report.silenced,
                    "suppressed_by_known_events": report.suppressed,
                },
            )
        ],
    )


def _firing_by_rule(db) -> dg.MetadataValue:
    firing = list_alerts(db, "firing")
    counts = firing.groupby(["rule_id", "severity"]).size().unstack(fill_value=0)
    return bar_chart(counts, "alerts firing, by rule and severity")


@dg.run_failure_sensor(
    name="pipeline_run_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=True,
    description="Tells data engineers (data_quality_routes in channels.yaml) when a pipeline run "
    "fails, once per run; runs that Dagster will retry are skipped until the last attempt.",
)
def pipeline_run_failure_sensor(
    context: dg.RunFailureSensorContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.SkipReason | None:
    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        return dg.SkipReason(f"run {run.run_id} will be retried")
    error = context.failure_event.message or "no error message"
    delivery = record_run_failure(
        warehouse.get(),
        pipeline_config.config().alerts.routes,
        job_name=run.job_name,
        run_id=run.run_id,
        error=error,
        now=utc_now(),
    )
    context.log.info(delivery.summary() if delivery else "already recorded")
    return None

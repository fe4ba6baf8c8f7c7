"""The alert sensor: a plain sensor with its own JSON cursor (not an asset sensor, which would
overwrite it). It evaluates the rules when risk_indicators has a new materialisation."""

import json

import dagster as dg

from risk_pipelines.alerting.service import evaluate_pending_days
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource

INDICATORS_KEY = dg.AssetKey("risk_indicators")


@dg.sensor(
    name="risk_alerts_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the alert rules for every day of risk indicators not yet evaluated, "
    "writes alert state edge-triggered (new alert when a condition starts, resolved when it "
    "ends, nothing on a quiet tick) and delivers changes to the rule's channels.",
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
    if not records:
        return dg.SkipReason("no new risk_indicators materialisation")
    newest = max(r.storage_id for r in records)
    report = evaluate_pending_days(warehouse.get(), pipeline_config.alert_rules())
    context.log.info(report.summary())
    new_cursor = json.dumps({"indicators_storage_id": newest})
    if not report.days:
        context.update_cursor(new_cursor)
        return dg.SkipReason(f"indicators re-materialised, {report.summary()}")
    return dg.SensorResult(
        cursor=new_cursor,
        asset_events=[
            dg.AssetMaterialization(
                asset_key="alerts",
                metadata={
                    "days_evaluated": len(report.days),
                    "through": str(report.days[-1]),
                    "fired": report.fired,
                    "resolved": report.resolved,
                    "firing_now": report.firing_now,
                    "notifications_sent": report.notifications,
                    "history_not_sent": report.suppressed_history,
                },
            )
        ],
    )

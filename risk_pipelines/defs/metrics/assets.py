"""Daily metric series: derived from the raw tables plus pre-aggregated landed metrics."""

import dagster as dg
import pandas as pd

from risk_pipelines.defs.quality_checks import (
    ingest_check_results,
    ingest_check_specs,
    not_deployed_results,
)
from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import (
    DAILY_PARTITIONS,
    DATABASE_RETRY,
    OWNERS_ENGINEERING,
    SINGLE_RUN,
    bar_chart,
    column_schema,
    partition_days,
    preview,
    retry_only_database_errors,
    span,
)
from risk_pipelines.stages.metrics import run_metrics
from risk_pipelines.warehouse import schema


@dg.asset(
    retry_policy=DATABASE_RETRY,
    metadata=column_schema(schema.daily_metrics),
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="metrics",
    owners=OWNERS_ENGINEERING,
    kinds={"python", "pandas", "sql"},
    deps=["moderation_decisions", "incidents"],
    check_specs=ingest_check_specs("daily_metrics", "daily_metrics"),
    description="Daily metric series in long format (one row per series per day; key "
    "metric|platform|policy_category|region|surface): decisions, user reports and proactive "
    "rate by category and region; removals, appeals, overturn rate, zero-view removal rate and "
    "median hours to action by category; volumes by surface, action and detection source; "
    "incidents by severity. Pre-aggregated metrics from <landing>/daily_metrics/<day>/ join "
    "the same table after the quality suite defaults/suites/daily_metrics.yaml: a day whose "
    "landed metrics are blocked is not written at all.",
)
@retry_only_database_errors
def daily_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    run = pipeline_config.stage_run(context.run.run_id, context.log)
    report = run_metrics(warehouse.get(), days, run)
    if report.landed is not None:
        checks = ingest_check_results("daily_metrics", report.landed)
    else:
        checks = not_deployed_results("daily_metrics", "no pre-aggregated metrics deployed")
    metrics, written = report.metrics, report.written
    per_metric = metrics["metric"].value_counts().sort_index().to_dict() if written else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "partitions": span(days),
            "days_blocked": report.days_blocked,
            "blocked_days": dg.MetadataValue.json(
                {str(d): r for d, r in sorted(report.blocked.items())[:20]}
            ),
            "series": int(metrics["unique_id"].nunique()) if written else 0,
            "derived_rows": report.build.derived_rows,
            "landed_rows": report.build.landed_rows,
            "rows_quarantined": report.landed.rows_quarantined if report.landed else 0,
            "rows_per_metric": dg.MetadataValue.json({k: int(v) for k, v in per_metric.items()}),
            "chart": _summary_chart(metrics),
            "preview": preview(
                metrics.sort_values("value", ascending=False) if written else metrics
            ),
        },
        check_results=checks,
    )


def _summary_chart(metrics: pd.DataFrame) -> dg.MetadataValue:
    """Decisions by policy category over the partition(s); for a deployment that only lands
    pre-aggregated metrics, rows per metric instead."""
    if metrics.empty:
        return bar_chart(metrics, "decisions by policy category")
    per_region = metrics[
        (metrics["metric"] == "decisions")
        & (metrics["policy_category"] != "all")
        & (metrics["region"] != "all")
    ]
    if per_region.empty:
        rows = metrics["metric"].value_counts().nlargest(10).rename("rows").to_frame()
        return bar_chart(rows, "rows per metric")
    totals = per_region.groupby("policy_category")["value"].sum().nlargest(10)
    return bar_chart(totals.rename("decisions").to_frame(), "decisions by policy category")

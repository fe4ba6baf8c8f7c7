"""Daily metric series: derived from the raw tables plus pre-aggregated landed metrics."""

from pathlib import Path

import dagster as dg

from risk_pipelines.assets.common import (
    DAILY_PARTITIONS,
    OWNERS_ENGINEERING,
    SINGLE_RUN,
    partition_days,
    preview,
    span,
)
from risk_pipelines.assets.ingest import incidents, moderation_decisions
from risk_pipelines.pipeline import build_daily_metrics, write_partitions, write_rejects
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource


@dg.asset(
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="metrics",
    owners=OWNERS_ENGINEERING,
    kinds={"python", "pandas", "sql"},
    deps=[moderation_decisions, incidents],
    description="Daily metric series in long format (one row per series per day; key "
    "metric|platform|policy_category|region|surface): decisions, user reports and proactive "
    "rate by category and region; removals, appeals, overturn rate, zero-view removal rate and "
    "median hours to action by category; volumes by surface, action and detection source; "
    "incidents by severity. Pre-aggregated metrics from <landing>/daily_metrics/<day>/ join "
    "the same table.",
)
def daily_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    db = warehouse.get()
    build = build_daily_metrics(
        db, Path(pipeline_config.landing_dir), days, pipeline_config.platform
    )
    written = write_partitions(db, "daily_metrics", build.metrics, days)
    quarantined = write_rejects(db, "daily_metrics", build.rejects, days, context.run.run_id)
    metrics = build.metrics
    per_metric = metrics["metric"].value_counts().sort_index().to_dict() if written else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "partitions": span(days),
            "series": int(metrics["unique_id"].nunique()) if written else 0,
            "derived_rows": build.derived_rows,
            "landed_rows": build.landed_rows,
            "rows_quarantined": quarantined,
            "rows_per_metric": dg.MetadataValue.json({k: int(v) for k, v in per_metric.items()}),
            "preview": preview(
                metrics.sort_values("value", ascending=False) if written else metrics
            ),
        }
    )

"""Daily metric series: derived from the raw tables plus pre-aggregated landed metrics."""

from pathlib import Path

import dagster as dg
import pandas as pd

from risk_pipelines.assets.common import (
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
from risk_pipelines.assets.ingest import incidents, moderation_decisions
from risk_pipelines.domain.clock import utc_now
from risk_pipelines.quality.checks import (
    ingest_check_results,
    ingest_check_specs,
    not_deployed_results,
)
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.sources import landing
from risk_pipelines.stages.ingest import ingest_dataset
from risk_pipelines.stages.metrics import build_daily_metrics
from risk_pipelines.warehouse import schema


@dg.asset(
    retry_policy=DATABASE_RETRY,
    metadata=column_schema(schema.daily_metrics),
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="metrics",
    owners=OWNERS_ENGINEERING,
    kinds={"python", "pandas", "sql"},
    deps=[moderation_decisions, incidents],
    check_specs=ingest_check_specs("daily_metrics", "daily_metrics"),
    description="Daily metric series in long format (one row per series per day; key "
    "metric|platform|policy_category|region|surface): decisions, user reports and proactive "
    "rate by category and region; removals, appeals, overturn rate, zero-view removal rate and "
    "median hours to action by category; volumes by surface, action and detection source; "
    "incidents by severity. Pre-aggregated metrics from <landing>/daily_metrics/<day>/ join "
    "the same table after the quality suite quality/suites/daily_metrics.yaml: a day whose "
    "landed metrics are blocked is not written at all.",
)
@retry_only_database_errors
def daily_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    db = warehouse.get()
    landing_dir = Path(pipeline_config.landing_dir)
    landed, report = None, None
    if landing.dataset_deployed(landing_dir, "daily_metrics"):
        report = ingest_dataset(
            db,
            "daily_metrics",
            landing_dir,
            days,
            platform=pipeline_config.platform,
            run_id=context.run.run_id,
            now=utc_now(),
            docs_dir=Path(pipeline_config.data_docs_dir),
            store_rows=False,
        )
        landed = report.batch.rows[report.batch.rows["ds"].isin(report.passed_days)]
        checks = ingest_check_results("daily_metrics", report)
    else:
        checks = not_deployed_results("daily_metrics", "no pre-aggregated metrics deployed")
    writable = report.passed_days if report else days
    build = build_daily_metrics(db, landing_dir, days, pipeline_config.platform, landed)
    metrics = build.metrics
    if not metrics.empty:
        metrics = metrics[metrics["ds"].isin(writable)]
    # Series the DSA source writes (source "dsa") share these partitions: leave them be.
    written = (
        db.replace_rows(
            "daily_metrics", metrics, where={"ds": writable, "source": ["derived", "landed"]}
        )
        if writable
        else 0
    )
    per_metric = metrics["metric"].value_counts().sort_index().to_dict() if written else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "partitions": span(days),
            "days_blocked": len(days) - len(writable),
            "series": int(metrics["unique_id"].nunique()) if written else 0,
            "derived_rows": build.derived_rows,
            "landed_rows": build.landed_rows,
            "rows_quarantined": report.rows_quarantined if report else 0,
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

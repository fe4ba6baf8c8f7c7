"""The daily risk brief as an asset: requested by the alert sensor once a day's alerts are
evaluated, so the page shows the alert state of that day and not the one before."""

import datetime as dt
from pathlib import Path

import dagster as dg

from risk_pipelines.config import console_url
from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import (
    BRIEF_JOB,
    DAILY_PARTITIONS,
    DATABASE_RETRY,
    OWNERS_ANALYSIS,
    retry_only_database_errors,
)
from risk_pipelines.reporting.brief import build_brief
from risk_pipelines.reporting.charts import png_markdown
from risk_pipelines.reporting.publish import publish_brief


@dg.asset(
    retry_policy=DATABASE_RETRY,
    partitions_def=DAILY_PARTITIONS,
    deps=["risk_indicators", "alerts"],
    group_name="reporting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "html", "chromium"},
    tags={"audience": "leadership"},
    description="The daily risk brief for leadership: the top risks by policy area, the alerts "
    "firing and what changed since yesterday, each with a chart. One self-contained HTML page "
    "and a PNG of it (headless Chromium) per day in RISK_BRIEFS_DIR; the leadership email "
    "digest carries both.",
)
@retry_only_database_errors
def risk_brief(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    day = dt.date.fromisoformat(context.partition_key)
    brief = build_brief(warehouse.get(), day, console_url=console_url())
    published = publish_brief(brief, Path(pipeline_config.briefs_dir))
    context.log.info(f"{published.html_path}: {brief.headline()}; PNG: {published.png_note}")
    top = brief.top_risks[0] if brief.top_risks else None
    metadata = {
        "dagster/row_count": len(brief.top_risks) + len(brief.firing),
        "headline": brief.headline(),
        "html": dg.MetadataValue.path(str(published.html_path)),
        "png_rendering": published.png_note,
        "top_risks": dg.MetadataValue.md(
            "\n".join(
                f"- **{r.level}** {r.policy_category} ({r.change}): {r.why}"
                for r in brief.top_risks
            )
            or "_every policy area is ok_"
        ),
        "alerts_firing": len(brief.firing),
        "chart": dg.MetadataValue.md(
            png_markdown(top.chart_png, top.driver or top.policy_category)
            if top is not None and top.chart_png
            else "_no chart: every policy area is ok_"
        ),
    }
    if published.png_path is not None:
        metadata["png"] = dg.MetadataValue.path(str(published.png_path))
    return dg.MaterializeResult(metadata=metadata)


risk_brief_job = dg.define_asset_job(
    BRIEF_JOB,
    selection=dg.AssetSelection.assets(risk_brief),
    description="Write the daily risk brief of a day (requested by risk_alerts_sensor).",
)

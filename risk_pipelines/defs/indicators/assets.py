"""Risk indicators: every series' actual against the forecast made the day before."""

import dagster as dg
import pandas as pd

from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import (
    DAILY_PARTITIONS,
    DATABASE_RETRY,
    OWNERS_ANALYSIS,
    SINGLE_RUN,
    bar_chart,
    column_schema,
    partition_days,
    preview,
    retry_only_database_errors,
    span,
)
from risk_pipelines.indicators.surprise import LEVELS
from risk_pipelines.stages.indicators import run_indicators
from risk_pipelines.warehouse import schema


@dg.asset(
    retry_policy=DATABASE_RETRY,
    metadata=column_schema(schema.risk_indicators),
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="indicators",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "pandas", "sql"},
    deps=["daily_metrics", "metric_forecasts"],
    description="One indicator per series and day: the actual, the primary forecast made "
    "before that day with its 95% band, the surprise score (signed so positive is the risky "
    "direction: more reports, lower proactive detection rate, higher overturn rate, ...) and "
    "a level: ok < 1.96 <= elevated < 3 <= high < 5 <= critical. Rates such as proactive "
    "detection and appeal overturn carry numerator and denominator and are not scored below "
    "a denominator of 30.",
)
@retry_only_database_errors
def risk_indicators(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    db = warehouse.get()
    frame = run_indicators(db, days, pipeline_config.config().capacities)
    written = len(frame)
    last = frame[frame["ds"] == days[-1]]
    levels = last["level"].value_counts().reindex(list(LEVELS), fill_value=0).to_dict()
    top = last.dropna(subset=["score"]).nlargest(10, "score")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "partitions": span(days),
            "levels_on_last_day": dg.MetadataValue.json({k: int(v) for k, v in levels.items()}),
            "scored_on_last_day": int(last["score"].notna().sum()),
            "chart": bar_chart(
                pd.crosstab(last["policy_category"], last["level"]).reindex(
                    columns=["elevated", "high", "critical"], fill_value=0
                )
                if len(last)
                else last,
                f"indicators above ok on {days[-1]}, by policy area",
            ),
            "top_risks_on_last_day": preview(
                top[
                    [
                        "indicator",
                        "policy_category",
                        "region",
                        "surface",
                        "value",
                        "expected",
                        "upper",
                        "score",
                        "level",
                    ]
                ].round(3),
                rows=10,
            ),
        }
    )

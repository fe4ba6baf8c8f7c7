"""Forecasts for every daily metric series, with 80/95 % intervals."""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipelines.assets.common import (
    DAILY_PARTITIONS,
    OWNERS_ANALYSIS,
    SINGLE_RUN,
    partition_days,
    preview,
    span,
)
from risk_pipelines.assets.metrics import daily_metrics
from risk_pipelines.charts import forecast_chart_png, png_markdown
from risk_pipelines.pipeline import read_history, run_forecasts
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.warehouse.store import Warehouse

CHART_SERIES = 3


@dg.asset(
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="forecasting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "statsmodels", "sql"},
    deps=[daily_metrics],
    description="Forecasts of every daily metric series as of each partition day, from two "
    "models: seasonal naive (weekly) and ETS (statsmodels; damped trend, weekly seasonality, "
    "on log scale for counts and logit scale for rates), each with 80% and 95% intervals. ETS "
    "is the primary model; seasonal naive takes over, with a note, where ETS cannot fit. The "
    "newest day gets the full horizon; earlier days of a backfilled range get the one-step "
    "forecast the model would have made that day. History is read through SQL.",
)
def metric_forecasts(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    config = pipeline_config.forecast_config()
    db = warehouse.get()

    def progress(done: int, total: int) -> None:
        context.log.info(f"forecast {done}/{total} series")

    run = run_forecasts(db, days, config, progress, run_id=context.run.run_id)
    db.replace_rows("metric_forecasts", run.rows, between=("as_of", days[0], days[-1]))
    per_model = pd.Series(run.primary_models).value_counts().to_dict()
    skipped = [{"series": k, "reason": v} for k, v in sorted(run.skipped.items())]
    for uid, reason in list(run.skipped.items())[:20]:
        context.log.warning(f"no forecast for {uid}: {reason}")
    latest = run.rows[run.rows["as_of"] == days[-1]] if not run.rows.empty else run.rows
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(run.rows),
            "partitions": span(days),
            "series_in_history": run.series,
            "series_forecast": len(run.primary_models),
            "series_skipped": len(run.skipped),
            "skipped": dg.MetadataValue.json(skipped[:50]),
            "primary_model_counts": dg.MetadataValue.json(
                {k: int(v) for k, v in per_model.items()}
            ),
            "horizon_days": config.horizon,
            "chart": dg.MetadataValue.md(_charts(db, latest, days[-1])),
            "preview": preview(latest[latest["is_primary"]] if not latest.empty else latest),
        }
    )


def _charts(db: Warehouse, latest: pd.DataFrame, as_of: dt.date) -> str:
    """The largest report-volume series, with 90 days of history and the forecast bands."""
    if latest.empty:
        return "_no forecast_"
    primary = latest[latest["is_primary"]]
    candidates = primary[primary["metric"] == "user_reports"]
    if candidates.empty:
        candidates = primary
    top = candidates.groupby("unique_id")["yhat"].mean().nlargest(CHART_SERIES).index
    history = read_history(db, as_of, 90)
    parts = []
    for uid in top:
        h = history[history["unique_id"] == uid]
        f = primary[primary["unique_id"] == uid].sort_values("ds")
        f = f.assign(ds=pd.to_datetime(f["ds"]))
        parts.append(png_markdown(forecast_chart_png(h, f, uid), uid))
    return "\n\n".join(parts)

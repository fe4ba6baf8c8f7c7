"""Forecasting assets: the weekly model selection, the daily forecasts that reuse it, and the
accuracy of past forecasts as actuals arrive."""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import (
    DAILY_PARTITIONS,
    DATABASE_RETRY,
    ONE_AREA_PER_RUN,
    OWNERS_ANALYSIS,
    POLICY_AREA_PARTITIONS,
    SINGLE_RUN,
    bar_chart,
    column_schema,
    executed_by,
    partition_days,
    preview,
    retry_only_database_errors,
    span,
)
from risk_pipelines.forecasting.backtest import score_summary
from risk_pipelines.forecasting.calibration import calibration_report
from risk_pipelines.reporting.charts import forecast_chart_png, png_markdown
from risk_pipelines.stages.forecasts import (
    NoMetricsYet,
    coverage_summary,
    kind_of,
    next_day_accuracy,
    read_history,
    refresh_forecasts,
    score_forecasts,
    select_models,
)
from risk_pipelines.warehouse import schema
from risk_pipelines.warehouse.store import Warehouse

CHART_SERIES = 3


@dg.asset(
    metadata=column_schema(schema.forecast_model_selection),
    partitions_def=POLICY_AREA_PARTITIONS,
    backfill_policy=ONE_AREA_PER_RUN,
    retry_policy=DATABASE_RETRY,
    group_name="model_selection",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "statsmodels", "prophet", "sql"},
    # Each area's selection reads the whole metric history, not a matching partition.
    deps=[dg.AssetDep("daily_metrics", partition_mapping=dg.AllPartitionMapping())],
    description="Weekly per-series model selection, partitioned by policy area (the policy "
    "category; `all` holds the platform-wide series) so that each area is its own run and a "
    "distributed executor spreads them over its workers. Every live series is backtested at three "
    "rolling origins (28-day horizon) with each candidate model (seasonal naive, ETS, Prophet; "
    "SARIMAX when added to selection_models); scores (MASE, sMAPE, 80/95 % coverage, Winkler) "
    "go to forecast_backtests. Each series keeps the model with the lowest mean MASE (near-ties "
    "to the better interval score; Prophet or SARIMAX only when more than 5 % better than the "
    "best cheap model), its band calibration factors from the same backtests (conformal), and "
    "its estimated parameters, in forecast_model_selection. The daily metric_forecasts reuse "
    "each series' newest selection.",
)
@retry_only_database_errors
def forecast_model_selection(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    areas = list(context.partition_keys)

    def progress(done: int, total: int) -> None:
        context.log.info(f"backtested {done}/{total} series")

    try:
        build = select_models(
            warehouse.get(),
            pipeline_config.backtest_config(),
            pipeline_config.forecast_workers,
            context.run.run_id,
            policy_areas=areas,
            progress=progress,
        )
    except NoMetricsYet as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    as_of = build.as_of
    specs = build.rows
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(specs),
            "as_of": str(as_of),
            "policy_areas": ", ".join(areas),
            "executed_by": executed_by(),
            "series_selected": len(specs),
            "series_skipped": len(build.skipped),
            "series_per_model": dg.MetadataValue.json(
                {k: int(v) for k, v in specs["model"].value_counts().items()}
            ),
            "chart": bar_chart(
                specs["model"].value_counts().rename("series").to_frame(), "series per model"
            ),
            "backtest_scores": _markdown(
                score_summary(build.selection.scores), "_no series long enough to backtest_"
            ),
            "calibration": _markdown(
                calibration_report(build.selection.backtests, build.selection.specs, kind_of),
                "_no backtests_",
            ),
            "selection_preview": preview(
                specs[["unique_id", "model", "mase", "factor_80", "factor_95", "reason"]], 12
            ),
        }
    )


@dg.asset(
    retry_policy=DATABASE_RETRY,
    metadata=column_schema(schema.metric_forecasts),
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="forecasting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "statsmodels", "prophet", "sql"},
    deps=["daily_metrics"],
    description="Forecasts of every daily metric series as of each partition day, 28 days "
    "ahead with 80 % and 95 % intervals, on log scale for counts and logit scale for rates. "
    "Each series runs the model the newest forecast_model_selection chose, with its stored "
    "parameters and calibrated bands, beside a seasonal-naive baseline; before any selection, "
    "ETS is primary. Low-volume series use their recent level; level shifts trim history. "
    "Earlier days of a backfilled range get that day's one-step forecast, its band sized from "
    "the errors before it. Every run is kept (run_id); readers use the newest run of each as_of.",
)
@retry_only_database_errors
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

    run = refresh_forecasts(db, days, config, context.run.run_id, progress)
    context.log.info(f"specs: {run.selection}")
    per_model = pd.Series(run.primary_models).value_counts().to_dict()
    skipped = [{"series": k, "reason": v} for k, v in sorted(run.skipped.items())]
    for uid, reason in list(run.skipped.items())[:20]:
        context.log.warning(f"no forecast for {uid}: {reason}")
    latest = run.rows[run.rows["as_of"] == days[-1]] if not run.rows.empty else run.rows
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(run.rows),
            "run_id": run.run_id,
            "partitions": span(days),
            "specs_from": run.selection,
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


@dg.asset(
    retry_policy=DATABASE_RETRY,
    metadata=column_schema(schema.forecast_accuracy),
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="forecasting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "sql"},
    deps=["daily_metrics", "metric_forecasts"],
    description="How the forecasts made before each partition day did against its actuals: "
    "one row per series, model and as_of (newest run of each), with the scaled error and "
    "whether the 80 % and 95 % bands covered the actual. Coverage over time shows whether the "
    "calibrated bands stay honest: near 80 % and 95 %.",
)
@retry_only_database_errors
def forecast_accuracy(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    days = partition_days(context)
    db = warehouse.get()
    rows = score_forecasts(db, days)
    metadata = {
        "dagster/row_count": len(rows),
        "partitions": span(days),
        "coverage_by_model_and_horizon": _markdown(coverage_summary(rows), "_no forecasts yet_"),
        "chart": bar_chart(
            rows.groupby("model")[["covered_80", "covered_95"]].mean() if len(rows) else rows,
            "share of actuals inside the 80 % and 95 % bands, by model",
            stacked=False,
        ),
        **next_day_accuracy(rows),
    }
    return dg.MaterializeResult(metadata=metadata)


def _markdown(frame: pd.DataFrame, empty: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.to_markdown(index=False) if not frame.empty else empty)


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

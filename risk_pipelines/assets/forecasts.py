"""Forecasting assets: the weekly model selection, the daily forecasts that reuse it, and the
accuracy of past forecasts as actuals arrive."""

import datetime as dt

import dagster as dg
import pandas as pd
import sqlalchemy as sa

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
from risk_pipelines.forecast_stages import (
    build_forecast_accuracy,
    coverage_summary,
    kind_of,
    read_history,
    run_forecasts,
    run_model_selection,
    store_selection,
)
from risk_pipelines.forecasting.calibration import apply_calibration
from risk_pipelines.forecasting.scoring import coverage
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.warehouse.schema import daily_metrics as daily_metrics_table
from risk_pipelines.warehouse.store import Warehouse

CHART_SERIES = 3


@dg.asset(
    group_name="forecasting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "statsmodels", "prophet", "sql"},
    deps=[daily_metrics],
    description="Weekly per-series model selection. Every live series is backtested at three "
    "rolling origins (28-day horizon) with each candidate model (seasonal naive, ETS, Prophet; "
    "SARIMAX when added to selection_models); scores (MASE, sMAPE, 80/95 % coverage, Winkler) "
    "go to forecast_backtests. Each series keeps the model with the lowest mean MASE (near-ties "
    "to the better interval score; Prophet or SARIMAX only when more than 5 % better than the "
    "best cheap model), its band calibration factors from the same backtests (conformal), and "
    "its estimated parameters, in forecast_model_selection. The daily metric_forecasts reuse "
    "the newest selection.",
)
def forecast_model_selection(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    db = warehouse.get()
    as_of = db.scalar(sa.select(sa.func.max(daily_metrics_table.c.ds)))
    if as_of is None:
        raise dg.Failure("daily_metrics is empty: materialise the daily job first")
    as_of = pd.Timestamp(as_of).date()

    def progress(done: int, total: int) -> None:
        context.log.info(f"backtested {done}/{total} series")

    build = run_model_selection(
        db,
        as_of,
        pipeline_config.backtest_config(),
        pipeline_config.forecast_workers,
        progress,
        run_id=context.run.run_id,
    )
    store_selection(db, build)
    specs = build.rows
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(specs),
            "as_of": str(as_of),
            "series_selected": len(specs),
            "series_skipped": len(build.skipped),
            "series_per_model": dg.MetadataValue.json(
                {k: int(v) for k, v in specs["model"].value_counts().items()}
            ),
            "backtest_scores": dg.MetadataValue.md(_score_table(build.selection.scores)),
            "calibration": dg.MetadataValue.md(_calibration_table(build)),
            "selection_preview": preview(
                specs[["unique_id", "model", "mase", "factor_80", "factor_95", "reason"]], 12
            ),
        }
    )


@dg.asset(
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="forecasting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "statsmodels", "prophet", "sql"},
    deps=[daily_metrics],
    description="Forecasts of every daily metric series as of each partition day, 28 days "
    "ahead with 80 % and 95 % intervals, on log scale for counts and logit scale for rates. "
    "Each series runs the model the newest forecast_model_selection chose, with its stored "
    "parameters and calibrated bands, beside a seasonal-naive baseline; before any selection, "
    "ETS is primary. Low-volume series use their recent level; level shifts trim history. "
    "Earlier days of a backfilled range get the one-step forecast made that day. Every run is "
    "kept (run_id); readers use the newest run of each as_of.",
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
    context.log.info(f"specs: {run.selection}")
    db.append_rows("metric_forecasts", run.rows)
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
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="forecasting",
    owners=OWNERS_ANALYSIS,
    kinds={"python", "sql"},
    deps=[daily_metrics, metric_forecasts],
    description="How the forecasts made before each partition day did against its actuals: "
    "one row per series, model and as_of (newest run of each), with the scaled error and "
    "whether the 80 % and 95 % bands covered the actual. Coverage over time shows whether the "
    "calibrated bands stay honest: near 80 % and 95 %.",
)
def forecast_accuracy(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    days = partition_days(context)
    db = warehouse.get()
    rows = build_forecast_accuracy(db, days)
    db.replace_rows("forecast_accuracy", rows, between=("ds", days[0], days[-1]))
    summary = coverage_summary(rows)
    primary = rows[rows["is_primary"]] if not rows.empty else rows
    next_day = primary[primary["horizon"] == 1] if not primary.empty else primary
    metadata = {
        "dagster/row_count": len(rows),
        "partitions": span(days),
        "coverage_by_model_and_horizon": dg.MetadataValue.md(
            summary.to_markdown(index=False) if not summary.empty else "_no forecasts yet_"
        ),
    }
    if not next_day.empty:
        metadata["next_day_coverage_80"] = float(next_day["covered_80"].mean())
        metadata["next_day_coverage_95"] = float(next_day["covered_95"].mean())
        metadata["next_day_mase"] = float(next_day["scaled_error"].mean())
    return dg.MaterializeResult(metadata=metadata)


def _score_table(scores: pd.DataFrame) -> str:
    if scores.empty:
        return "_no series long enough to backtest_"
    table = (
        scores.groupby("model")
        .agg(
            series=("unique_id", "nunique"),
            mase=("mase", "mean"),
            smape=("smape", "mean"),
            coverage_80=("coverage_80", "mean"),
            coverage_95=("coverage_95", "mean"),
            winkler_95=("winkler_95", "median"),
        )
        .round(3)
        .reset_index()
    )
    return table.to_markdown(index=False)


def _calibration_table(build) -> str:
    """Per chosen model: the median factors, and the backtest coverage before and after them
    (on the backtests the factors came from, so 'after' is optimistic)."""
    backtests, specs = build.selection.backtests, build.selection.specs
    if backtests.empty:
        return "_no backtests_"
    chosen = backtests.merge(specs[["unique_id", "model"]], on=["unique_id", "model"])
    factors = specs[["unique_id", "model", "factor_80", "factor_95", "basis"]]
    after = apply_calibration(chosen, factors, kind_of)
    rows = []
    for model, group in chosen.groupby("model"):
        a = after[after["model"] == model]
        f = specs[specs["model"] == model]
        rows.append(
            {
                "model": model,
                "series": len(f),
                "factor_80": round(float(f["factor_80"].median()), 3),
                "factor_95": round(float(f["factor_95"].median()), 3),
                "coverage_80_before": _cover(group, "80"),
                "coverage_80_after": _cover(a, "80"),
                "coverage_95_before": _cover(group, "95"),
                "coverage_95_after": _cover(a, "95"),
            }
        )
    return pd.DataFrame(rows).to_markdown(index=False)


def _cover(frame: pd.DataFrame, level: str) -> float:
    return round(coverage(frame["actual"], frame[f"yhat_lo_{level}"], frame[f"yhat_hi_{level}"]), 3)


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

"""The forecasting stages over a Warehouse (no dagster import): the weekly model selection,
the daily forecast refresh that reuses it, and forecast accuracy as actuals arrive.

The Dagster assets, the command line and the benchmarks call these.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.domain.clock import utc_now
from risk_pipelines.domain.series import split_series_id, to_long
from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame
from risk_pipelines.forecasting.backtest import BacktestConfig, backtest_rows
from risk_pipelines.forecasting.scoring import naive_scale
from risk_pipelines.forecasting.selection import SelectionRun, run_selection, specs_by_series
from risk_pipelines.indicators.surprise import MIN_DENOMINATOR
from risk_pipelines.warehouse.forecast_runs import newest_runs
from risk_pipelines.warehouse.schema import (
    daily_metrics,
    forecast_model_selection,
    metric_forecasts,
)
from risk_pipelines.warehouse.store import Warehouse

# A series with no actual for this long has stopped: it is neither selected nor forecast.
STALE_AFTER_DAYS = ForecastConfig.stale_after_days


class NoMetricsYet(RuntimeError):
    """Model selection needs daily metrics: the daily job has not run yet."""


def kind_of(unique_id: str) -> str:
    return spec_for(split_series_id(unique_id)["metric"]).kind


def region_of(unique_id: str) -> str:
    return split_series_id(unique_id)["region"]


def policy_area_of(unique_id: str) -> str:
    """The policy area a series belongs to: its policy category (``all`` when platform-wide)."""
    return split_series_id(unique_id)["policy_category"]


def read_history(
    warehouse: Warehouse,
    last: dt.date,
    days_back: int,
    policy_areas: Collection[str] | None = None,
) -> pd.DataFrame:
    """Daily metric history through SQL (not through an IO manager's all-partitions dict),
    of every series or only of the given policy areas' (filtered in the database: an area's
    run reads its own slice, not every area's history)."""
    first = last - dt.timedelta(days=days_back)
    t = daily_metrics
    query = sa.select(t.c.unique_id, t.c.ds, t.c.value).where(t.c.ds.between(first, last))
    if policy_areas is not None:
        query = query.where(t.c.policy_category.in_(sorted(policy_areas)))
    return to_long(warehouse.read_query(query))


def thin_rate_series(
    warehouse: Warehouse,
    last: dt.date,
    min_denominator: int = MIN_DENOMINATOR,
    days: int = 28,
    policy_areas: Collection[str] | None = None,
) -> dict[str, str]:
    """Rate series whose median daily denominator is too small to forecast: a rate of 2 out
    of 5 one day and 0 out of 4 the next is noise, and its logit explodes at 0 and 1."""
    t = daily_metrics
    query = sa.select(t.c.unique_id, t.c.denominator).where(
        t.c.ds.between(last - dt.timedelta(days=days - 1), last), t.c.denominator.is_not(None)
    )
    if policy_areas is not None:
        query = query.where(t.c.policy_category.in_(sorted(policy_areas)))
    frame = warehouse.read_query(query)
    if frame.empty:
        return {}
    medians = frame.groupby("unique_id")["denominator"].median()
    thin = medians[medians < min_denominator]
    return {
        uid: f"median daily denominator {m:g} < {min_denominator}: too thin to forecast"
        for uid, m in thin.items()
    }


@dataclass
class ForecastRun:
    rows: pd.DataFrame
    series: int
    skipped: dict[str, str]
    primary_models: dict[str, str]
    run_id: str
    selection: str  # which weekly selection the specs came from, or why there were none


def run_forecasts(
    warehouse: Warehouse,
    days: Sequence[dt.date],
    config: ForecastConfig,
    progress: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
) -> ForecastRun:
    """Forecast every series as of each day, with the newest weekly selection's specs."""
    run_id = run_id or uuid.uuid4().hex
    last = max(days)
    history = read_history(warehouse, last, config.history_days + (last - min(days)).days + 1)
    thin = thin_rate_series(warehouse, last)
    series_total = history["unique_id"].nunique()
    history = history[~history["unique_id"].isin(list(thin))]
    selection = latest_selection(warehouse)
    specs = specs_by_series(selection) if not selection.empty else {}
    described = describe_selection(selection)
    result = forecast_series_frame(
        history, days, kind_of, config, progress, specs=specs, region_of=region_of
    )
    rows = result.forecasts
    if not rows.empty:
        dims = pd.DataFrame([split_series_id(u) for u in rows["unique_id"].unique()])
        dims["unique_id"] = rows["unique_id"].unique()
        rows = rows.merge(dims, on="unique_id", how="left")
        rows["as_of"] = pd.to_datetime(rows["as_of"]).dt.date
        rows["ds"] = pd.to_datetime(rows["ds"]).dt.date
        rows["run_id"] = run_id
        rows["created_at"] = utc_now()
    return ForecastRun(
        rows, series_total, {**thin, **result.skipped}, result.primary_models, run_id, described
    )


# -- weekly model selection --------------------------------------------------------------------


@dataclass
class SelectionBuild:
    selection: SelectionRun
    rows: pd.DataFrame  # forecast_model_selection rows
    backtest_rows: pd.DataFrame  # forecast_backtests rows
    run_id: str
    as_of: dt.date
    skipped: dict[str, str]


def run_model_selection(
    warehouse: Warehouse,
    as_of: dt.date,
    config: BacktestConfig | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
    policy_areas: Collection[str] | None = None,
) -> SelectionBuild:
    """Backtest every live series up to ``as_of``, choose its model and calibrate its bands.

    ``policy_areas`` limits the run to the series of those policy categories (``all`` being
    the platform-wide series), so that areas can be selected in separate runs on separate
    workers; the daily forecasts take each series' newest selection, whichever run made it.
    """
    config = config or BacktestConfig()
    run_id = run_id or uuid.uuid4().hex
    needed = config.history_days + config.horizon + (config.windows - 1) * config.step
    history = read_history(warehouse, as_of, needed, policy_areas)
    skipped = thin_rate_series(warehouse, as_of, policy_areas=policy_areas)
    last_actual = history.groupby("unique_id")["ds"].max()
    stale = last_actual[last_actual < pd.Timestamp(as_of) - pd.Timedelta(days=STALE_AFTER_DAYS)]
    skipped |= {uid: f"series stopped: last actual {ts.date()}" for uid, ts in stale.items()}
    history = history[~history["unique_id"].isin(list(skipped))]
    selection = run_selection(history, kind_of, config, region_of, workers, progress)
    now = utc_now()
    rows = selection.specs.rename(columns={"basis": "calibration_basis"}).assign(
        run_id=run_id, selected_at=now, as_of=as_of
    )
    rows["params"] = [json.dumps(p, sort_keys=True) if p else None for p in rows["params"]]
    scores = (
        backtest_rows(selection.scores, run_id, now)
        if not selection.scores.empty
        else pd.DataFrame()
    )
    return SelectionBuild(selection, rows, scores, run_id, as_of, skipped)


def store_selection(warehouse: Warehouse, build: SelectionBuild) -> None:
    """Both tables of one selection run; a rerun of the same run_id replaces its rows."""
    warehouse.replace_rows(
        "forecast_backtests", build.backtest_rows, where={"run_id": build.run_id}
    )
    warehouse.replace_rows("forecast_model_selection", build.rows, where={"run_id": build.run_id})


def latest_selection(warehouse: Warehouse) -> pd.DataFrame:
    """Each series' newest selected spec (empty before the first selection).

    Per series rather than per run: the weekly selection runs once per policy area, and an
    area re-run alone supersedes only its own series."""
    t = forecast_model_selection
    newest = (
        sa.select(t.c.unique_id, sa.func.max(t.c.selected_at).label("selected_at"))
        .group_by(t.c.unique_id)
        .subquery()
    )
    query = sa.select(t).join(
        newest,
        sa.and_(t.c.unique_id == newest.c.unique_id, t.c.selected_at == newest.c.selected_at),
    )
    return warehouse.read_query(query)


def describe_selection(selection: pd.DataFrame) -> str:
    """Which weekly selection runs the specs came from, for the forecast run's metadata."""
    if selection.empty:
        return "no weekly selection yet: default models"
    runs = selection["run_id"].nunique()
    first, last = selection["selected_at"].min(), selection["selected_at"].max()
    made = f"{last:%Y-%m-%d %H:%M}" if first == last else f"{first:%Y-%m-%d}..{last:%Y-%m-%d %H:%M}"
    origin = f"weekly selection {selection['run_id'].iloc[0]}" if runs == 1 else f"{runs} runs"
    return f"{origin} of {made} UTC ({len(selection)} series)"


# -- accuracy as actuals arrive ------------------------------------------------------------------

ACCURACY_COLUMNS = [
    "ds", "unique_id", "model", "as_of", "run_id", "is_primary", "horizon",
    "actual", "yhat", "scaled_error", "covered_80", "covered_95",
]  # fmt: skip


def build_forecast_accuracy(warehouse: Warehouse, days: Sequence[dt.date]) -> pd.DataFrame:
    """Every earlier forecast for these days scored against the actual: one row per series,
    day, model and as_of, from the newest run of each as_of."""
    first, last = min(days), max(days)
    t = metric_forecasts
    query = sa.select(
        t.c.run_id, t.c.as_of, t.c.unique_id, t.c.ds, t.c.model, t.c.horizon, t.c.is_primary,
        t.c.yhat, t.c.yhat_lo_80, t.c.yhat_hi_80, t.c.yhat_lo_95, t.c.yhat_hi_95, t.c.created_at,
    ).where(t.c.ds.between(first, last), t.c.as_of < t.c.ds)  # fmt: skip
    forecasts = newest_runs(warehouse.read_query(query))
    if forecasts.empty:
        return pd.DataFrame(columns=[*ACCURACY_COLUMNS, "created_at"])
    history = read_history(warehouse, last, (last - first).days + 364)
    scale = history.groupby("unique_id")["y"].apply(lambda y: naive_scale(y.to_numpy()))
    actuals = history[history["ds"] >= pd.Timestamp(first)].rename(columns={"y": "actual"})
    frame = forecasts.merge(actuals, on=["unique_id", "ds"], how="inner")
    actual, yhat = frame["actual"], frame["yhat"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["scaled_error"] = (actual - yhat).abs() / frame["unique_id"].map(scale)
    frame["scaled_error"] = frame["scaled_error"].where(np.isfinite(frame["scaled_error"]))
    for level in ("80", "95"):
        frame[f"covered_{level}"] = (actual >= frame[f"yhat_lo_{level}"]) & (
            actual <= frame[f"yhat_hi_{level}"]
        )
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame[ACCURACY_COLUMNS].assign(created_at=utc_now())


def coverage_summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Coverage and mean scaled error of the primary forecasts by model and horizon bucket."""
    primary = accuracy[accuracy["is_primary"]]
    if primary.empty:
        return pd.DataFrame(columns=["model", "horizon", "forecasts", "coverage_80",
                                     "coverage_95", "mase"])  # fmt: skip
    buckets = pd.cut(primary["horizon"], [0, 1, 7, 14, 28, 10_000],
                     labels=["1", "2-7", "8-14", "15-28", ">28"])  # fmt: skip
    return (
        primary.assign(horizon=buckets.astype(str))
        .groupby(["model", "horizon"], observed=True)
        .agg(
            forecasts=("actual", "size"),
            coverage_80=("covered_80", "mean"),
            coverage_95=("covered_95", "mean"),
            mase=("scaled_error", "mean"),
        )
        .reset_index()
        .round(3)
    )


def next_day_accuracy(accuracy: pd.DataFrame) -> dict[str, float]:
    """Coverage and mean scaled error of the primary forecasts made the day before."""
    if accuracy.empty:
        return {}
    next_day = accuracy[accuracy["is_primary"] & (accuracy["horizon"] == 1)]
    if next_day.empty:
        return {}
    return {
        "next_day_coverage_80": float(next_day["covered_80"].mean()),
        "next_day_coverage_95": float(next_day["covered_95"].mean()),
        "next_day_mase": float(next_day["scaled_error"].mean()),
    }


def select_models(
    warehouse: Warehouse,
    config: BacktestConfig,
    workers: int,
    run_id: str,
    policy_areas: Collection[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SelectionBuild:
    """The weekly selection stage, as of the newest day with metrics: backtest, choose and
    calibrate every live series of ``policy_areas`` (every area when None), and store it."""
    newest = warehouse.scalar(sa.select(sa.func.max(daily_metrics.c.ds)))
    if newest is None:
        raise NoMetricsYet("daily_metrics is empty: materialise the daily job first")
    as_of = pd.Timestamp(newest).date()
    build = run_model_selection(
        warehouse, as_of, config, workers, progress, run_id=run_id, policy_areas=policy_areas
    )
    store_selection(warehouse, build)
    return build


def refresh_forecasts(
    warehouse: Warehouse,
    days: Sequence[dt.date],
    config: ForecastConfig,
    run_id: str,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastRun:
    """The daily forecast stage: every series forecast as of each day with its selected spec,
    appended as one run (readers take the newest run of each as_of)."""
    run = run_forecasts(warehouse, days, config, progress, run_id=run_id)
    warehouse.append_rows("metric_forecasts", run.rows)
    return run


def score_forecasts(warehouse: Warehouse, days: Sequence[dt.date]) -> pd.DataFrame:
    """The accuracy stage: how the forecasts made before each day did against its actuals,
    rewritten for the days' range."""
    rows = build_forecast_accuracy(warehouse, days)
    warehouse.replace_rows("forecast_accuracy", rows, between=("ds", min(days), max(days)))
    return rows

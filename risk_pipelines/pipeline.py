"""The pipeline's stages as plain functions over a Warehouse (no dagster import).

The Dagster assets, the command line and the benchmarks all call these, so each stage's logic
lives in one place and the Dagster shell only wires it and describes what happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame
from risk_pipelines.indicators.surprise import (
    MIN_DENOMINATOR,
    latest_prior_forecasts,
    surprise_indicators,
)
from risk_pipelines.metrics.aggregate import derive_decision_metrics, derive_incident_metrics
from risk_pipelines.metrics.catalog import spec_for
from risk_pipelines.metrics.series import split_series_id, to_long
from risk_pipelines.sources import landing
from risk_pipelines.warehouse.aggregates import decision_aggregates, incident_counts
from risk_pipelines.warehouse.schema import daily_metrics, metric_forecasts
from risk_pipelines.warehouse.store import Warehouse


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def write_partitions(
    warehouse: Warehouse,
    table: str,
    frame: pd.DataFrame,
    days: Sequence[dt.date],
    column: str = "ds",
) -> int:
    """Replace the rows of exactly these partitions with ``frame``, in one transaction."""
    if not days:
        return 0
    return warehouse.replace_rows(table, frame, where={column: sorted(set(days))})


@dataclass
class MetricsBuild:
    metrics: pd.DataFrame
    derived_rows: int
    landed_rows: int


def build_daily_metrics(
    warehouse: Warehouse,
    landing_dir: Path,
    days: Sequence[dt.date],
    platform: str,
    landed: pd.DataFrame | None = None,
) -> MetricsBuild:
    """Derive metrics from the raw tables and add ``landed`` pre-aggregated metrics (already
    validated by the daily_metrics suite), if that source is deployed."""
    if not any(landing.dataset_deployed(landing_dir, d) for d in landing.DATASETS):
        raise landing.LandingError(
            f"no source is deployed under {landing_dir}: expected at least one of "
            f"{', '.join(d + '/' for d in landing.DATASETS)} (check RISK_LANDING_DIR)"
        )
    first, last = min(days), max(days)
    derived = [derive_decision_metrics(decision_aggregates(warehouse, first, last), days)]
    if landing.dataset_deployed(landing_dir, "incidents"):
        derived.append(
            derive_incident_metrics(incident_counts(warehouse, first, last), days, platform)
        )
    frames = [f for f in derived if not f.empty]
    derived_rows = sum(len(f) for f in frames)
    if landed is not None and not landed.empty:
        frames.append(landed[[c for c in landed.columns if c in daily_metrics.c]])
    if not frames:
        return MetricsBuild(pd.DataFrame(), 0, 0)
    metrics = pd.concat(frames, ignore_index=True)
    duplicated = metrics[metrics.duplicated(["ds", "unique_id"], keep=False)]
    if not duplicated.empty:
        example = duplicated.iloc[0]
        raise landing.LandingError(
            f"daily_metrics: series {example['unique_id']} on {example['ds']} is both derived "
            f"from the raw tables and landed pre-aggregated ({len(duplicated)} rows); drop "
            "it from the landed files"
        )
    landed_rows = 0 if landed is None else len(landed)
    return MetricsBuild(metrics, derived_rows, landed_rows)


def read_history(warehouse: Warehouse, last: dt.date, days_back: int) -> pd.DataFrame:
    """Daily metric history through SQL (not through an IO manager's all-partitions dict)."""
    first = last - dt.timedelta(days=days_back)
    t = daily_metrics
    query = sa.select(t.c.unique_id, t.c.ds, t.c.value).where(t.c.ds.between(first, last))
    return to_long(warehouse.read_query(query))


def thin_rate_series(
    warehouse: Warehouse, last: dt.date, min_denominator: int = MIN_DENOMINATOR, days: int = 28
) -> dict[str, str]:
    """Rate series whose median daily denominator is too small to forecast: a rate of 2 out
    of 5 one day and 0 out of 4 the next is noise, and its logit explodes at 0 and 1."""
    t = daily_metrics
    query = sa.select(t.c.unique_id, t.c.denominator).where(
        t.c.ds.between(last - dt.timedelta(days=days - 1), last), t.c.denominator.is_not(None)
    )
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


def run_forecasts(
    warehouse: Warehouse,
    days: Sequence[dt.date],
    config: ForecastConfig,
    progress: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
) -> ForecastRun:
    run_id = run_id or uuid.uuid4().hex
    last = max(days)
    history = read_history(warehouse, last, config.history_days + (last - min(days)).days + 1)
    thin = thin_rate_series(warehouse, last)
    series_total = history["unique_id"].nunique()
    history = history[~history["unique_id"].isin(list(thin))]
    result = forecast_series_frame(
        history, days, lambda uid: spec_for(split_series_id(uid)["metric"]).kind, config, progress
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
        rows, series_total, {**thin, **result.skipped}, result.primary_models, run_id
    )


def build_indicators(warehouse: Warehouse, days: Sequence[dt.date]) -> pd.DataFrame:
    first, last = min(days), max(days)
    actuals = warehouse.read_range("daily_metrics", "ds", first, last)
    t = metric_forecasts
    # The forecasts made before each day: as_of from the day before the range to the last day.
    query = sa.select(
        t.c.unique_id,
        t.c.ds,
        t.c.as_of,
        t.c.model,
        t.c.is_primary,
        t.c.yhat,
        t.c.yhat_lo_95,
        t.c.yhat_hi_95,
    ).where(
        t.c.ds.between(first, last),
        t.c.is_primary.is_(True),
        t.c.as_of < last,
        t.c.as_of >= first - dt.timedelta(days=35),
    )
    forecasts = latest_prior_forecasts(warehouse.read_query(query))
    frame = surprise_indicators(actuals, forecasts, spec_for)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame

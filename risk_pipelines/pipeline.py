"""The pipeline's stages as plain functions over a Warehouse (no dagster import).

The Dagster assets, the command line and the benchmarks all call these, so each stage's logic
lives in one place and the Dagster shell only wires it and describes what happened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.indicators.derived import (
    ReviewQueue,
    capacity_risk,
    category_mix_shift,
    composite_risk,
    week_over_week,
)
from risk_pipelines.indicators.surprise import (
    latest_prior_forecasts,
    surprise_indicators,
    typed_indicators,
)
from risk_pipelines.metrics.aggregate import (
    derive_decision_metrics,
    derive_incident_metrics,
    derive_incident_outcomes,
)
from risk_pipelines.metrics.catalog import spec_for
from risk_pipelines.sources import landing
from risk_pipelines.warehouse.aggregates import (
    decision_aggregates,
    incident_counts,
    incident_details,
)
from risk_pipelines.warehouse.forecast_runs import newest_runs
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
    sources = (*landing.DATASETS, "dsa")  # the DSA dumps feed decisions and series too
    if not any(landing.dataset_deployed(landing_dir, d) for d in sources):
        raise landing.LandingError(
            f"no source is deployed under {landing_dir}: expected at least one of "
            f"{', '.join(d + '/' for d in sources)} (check RISK_LANDING_DIR)"
        )
    first, last = min(days), max(days)
    derived = [derive_decision_metrics(decision_aggregates(warehouse, first, last), days)]
    if landing.dataset_deployed(landing_dir, "incidents"):
        derived.append(
            derive_incident_metrics(incident_counts(warehouse, first, last), days, platform)
        )
        details = incident_details(warehouse, first, last)
        derived.append(derive_incident_outcomes(details, days, platform))
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


def build_indicators(
    warehouse: Warehouse,
    days: Sequence[dt.date],
    capacities: Sequence[ReviewQueue] = (),
) -> pd.DataFrame:
    """Every series' surprise against its forecast, then the indicators derived from several
    days or series (indicators/derived.py): week over week, category mix shift, capacity risk
    for each review queue, and a composite level per policy area."""
    first, last = min(days), max(days)
    # The derived indicators look back: 13 days for week over week, 35 for the mix baseline.
    history = warehouse.read_range("daily_metrics", "ds", first - dt.timedelta(days=35), last)
    history["ds"] = pd.to_datetime(history["ds"])
    actuals = history[history["ds"] >= pd.Timestamp(first)]
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
        t.c.created_at,
    ).where(
        t.c.ds.between(first, last),
        t.c.is_primary.is_(True),
        t.c.as_of < last,
        t.c.as_of >= first - dt.timedelta(days=35),
    )
    forecasts = latest_prior_forecasts(warehouse.read_query(query))
    surprises = surprise_indicators(actuals, forecasts, spec_for)
    surprises["ds"] = pd.to_datetime(surprises["ds"]).dt.date
    frames = [
        surprises,
        week_over_week(history, list(days), spec_for),
        category_mix_shift(history, list(days)),
    ]
    if capacities:
        frames += [capacity_risk(f, capacities, d) for d, f in _forecasts_as_of(warehouse, days)]
    per_series = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    frame = pd.concat([per_series, composite_risk(per_series)], ignore_index=True)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return typed_indicators(frame).sort_values(["ds", "indicator", "unique_id"], ignore_index=True)


def _forecasts_as_of(warehouse: Warehouse, days: Sequence[dt.date]):
    """(day, the newest primary full-horizon forecast run made as of that day) per day."""
    t = metric_forecasts
    query = sa.select(t).where(t.c.as_of.in_(sorted(days)), t.c.is_primary.is_(True))
    frame = newest_runs(warehouse.read_query(query))
    if frame.empty:
        return []
    frame = frame[frame.groupby("as_of")["horizon"].transform("max") > 1]
    return [(ts.date(), group) for ts, group in frame.groupby("as_of")]

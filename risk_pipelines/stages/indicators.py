"""The indicators stage: every series' surprise against the forecast made before each day, and
the indicators derived from several days or series."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.indicators.derived import (
    ReviewQueue,
    capacity_risk,
    category_mix_shift,
    composite_risk,
    week_over_week,
)
from risk_pipelines.indicators.peers import peer_divergence
from risk_pipelines.indicators.surprise import (
    latest_prior_forecasts,
    surprise_indicators,
    typed_indicators,
)
from risk_pipelines.warehouse.forecast_runs import newest_runs
from risk_pipelines.warehouse.schema import metric_forecasts
from risk_pipelines.warehouse.store import Warehouse


def build_indicators(
    warehouse: Warehouse,
    days: Sequence[dt.date],
    capacities: Sequence[ReviewQueue] = (),
) -> pd.DataFrame:
    """Every series' surprise against its forecast, then the indicators derived from several
    days or series (indicators/derived.py): week over week, category mix shift, the divergence
    from the DSA peers (indicators/peers.py), capacity risk for each review queue, and a
    composite level per policy area."""
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
        peer_divergence(history, list(days)),
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


def run_indicators(
    warehouse: Warehouse, days: Sequence[dt.date], capacities: Sequence[ReviewQueue] = ()
) -> pd.DataFrame:
    """The indicators stage: build every indicator of ``days`` and rewrite those partitions."""
    frame = build_indicators(warehouse, days, capacities)
    warehouse.replace_rows("risk_indicators", frame, where={"ds": sorted(set(days))})
    return frame

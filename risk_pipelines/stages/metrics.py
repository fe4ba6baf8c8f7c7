"""The metrics stage: daily metric series derived from the raw tables, plus the landed
pre-aggregated metrics that passed their suite, in long format (one row per series per day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from risk_pipelines.metrics.aggregate import (
    derive_decision_metrics,
    derive_incident_metrics,
    derive_incident_outcomes,
)
from risk_pipelines.sources import landing
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.ingest import IngestReport, blocked_days, ingest_dataset
from risk_pipelines.stages.shared_partitions import own_feed_scope
from risk_pipelines.warehouse.aggregates import (
    decision_aggregates,
    incident_counts,
    incident_details,
)
from risk_pipelines.warehouse.schema import daily_metrics
from risk_pipelines.warehouse.store import Warehouse


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


RAW_DATASETS = ("moderation_decisions", "incidents")


@dataclass
class MetricsReport:
    """The metrics stage's outcome: what was written, and the landed metrics' own verdicts."""

    days: list[dt.date]
    writable: list[dt.date]
    blocked: dict[dt.date, list[str]]  # days not written, with why
    metrics: pd.DataFrame
    written: int
    build: MetricsBuild
    landed: IngestReport | None  # None: no pre-aggregated metrics deployed

    @property
    def days_blocked(self) -> int:
        return len(self.days) - len(self.writable)


def run_metrics(warehouse: Warehouse, days: Sequence[dt.date], run: StageRun) -> MetricsReport:
    """Validate the landed pre-aggregated metrics (if deployed), derive the rest from the raw
    tables, and rewrite our own feed's series of every day the landed suite did not block."""
    days = sorted(set(days))
    report = None
    landed = None
    if landing.dataset_deployed(run.landing_dir, "daily_metrics"):
        report = ingest_dataset(warehouse, "daily_metrics", days, run, store_rows=False)
        landed = report.batch.rows[report.batch.rows["ds"].isin(report.passed_days)]
    # A day a raw source blocked holds no rows: derived from it, every count would read zero.
    raw = [d for d in RAW_DATASETS if landing.dataset_deployed(run.landing_dir, d)]
    blocked = blocked_days(warehouse, raw, days)
    if report is not None:
        for day, reasons in report.blocked.items():
            blocked.setdefault(day, []).extend(f"daily_metrics: {r}" for r in reasons)
    writable = [d for d in days if d not in blocked]
    build = build_daily_metrics(warehouse, run.landing_dir, days, run.platform, landed)
    metrics = build.metrics
    if not metrics.empty:
        metrics = metrics[metrics["ds"].isin(writable)]
    written = (
        warehouse.replace_rows(
            "daily_metrics", metrics, **own_feed_scope("daily_metrics", writable)
        )
        if writable
        else 0
    )
    return MetricsReport(days, writable, blocked, metrics, written, build, report)

"""What every domain of the Dagster shell shares: the partitions, owners, the database retry,
and the helpers that turn a stage's report into metadata the UI shows."""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import warnings
from collections.abc import Callable

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from risk_pipelines.config import load_settings
from risk_pipelines.domain.taxonomy import ALL, POLICY_CATEGORIES

OWNERS_ENGINEERING = ["team:risk-data-engineering"]
OWNERS_ANALYSIS = ["team:risk-analysis"]

# Job names, referenced across domains by name rather than by importing each other's modules.
DAILY_JOB = "daily_risk_job"
MODEL_SELECTION_JOB = "weekly_model_selection_job"
DSA_JOB = "dsa_statements_job"
BRIEF_JOB = "daily_risk_brief_job"

# Daily partitions in UTC. The start is configurable so a deployment can backfill its history.
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=load_settings().partitions_start, timezone="UTC"
)
# The weekly model selection runs one policy area per run (``all`` holds the platform-wide
# series), so a distributed executor spreads the areas over its workers and an area that failed
# is re-run alone.
POLICY_AREA_PARTITIONS = dg.StaticPartitionsDefinition([*POLICY_CATEGORIES, ALL])
ONE_AREA_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

# backfill_policy is marked beta, but it is the documented way to get single-run backfills.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
# A range of partitions is materialised in one run: two years in minutes, not 730 runs.
SINGLE_RUN = dg.BackfillPolicy.single_run()


# A database that restarts or drops a connection mid-run (failover, a restart for a minor
# upgrade, a killed backend) costs a step a few seconds, not the run: the step is retried after
# 5, 10 and 20 s (+/- jitter). Each write is one transaction, so a retried step starts from the
# rows as they were. Every other error fails at once (see retry_only_database_errors).
DATABASE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
# Transient by nature: connection lost or refused, server shutting down, deadlock or
# serialisation failure, SQLite's "database is locked".
TRANSIENT_DATABASE_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError)


def retry_only_database_errors(compute: Callable) -> Callable:
    """Let DATABASE_RETRY retry a lost database, and nothing else: a bad file or a broken
    config fails the same way every time, so it fails at once with the error it raised."""

    @functools.wraps(compute)
    def guarded(*args, **kwargs):
        try:
            return compute(*args, **kwargs)
        except (*TRANSIENT_DATABASE_ERRORS, dg.Failure, dg.RetryRequested):
            raise
        except Exception as exc:
            raise dg.Failure(
                description=f"{type(exc).__name__}: {exc}", allow_retries=False
            ) from exc

    return guarded


def executed_by() -> str:
    """Host and process that ran the step: which worker took which slice under Celery."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    window = context.partition_time_window
    first = window.start.date()
    last = (window.end - dt.timedelta(days=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def preview(frame: pd.DataFrame, rows: int = 8) -> dg.MetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def span(days: list[dt.date]) -> str:
    return f"{days[0]}" if len(days) == 1 else f"{days[0]} .. {days[-1]} ({len(days)} days)"


def bar_chart(frame: pd.DataFrame, title: str, *, stacked: bool = True) -> dg.MetadataValue:
    """A bar chart for the asset's page in the UI (rows of ``frame`` are the bars)."""
    from risk_pipelines.reporting.charts import bar_chart_png, png_markdown

    if frame.empty:
        return dg.MetadataValue.md(f"_{title}: nothing to chart_")
    return dg.MetadataValue.md(png_markdown(bar_chart_png(frame, title, stacked), title))


def column_schema(table: sa.Table) -> dict[str, dg.TableSchema]:
    """Definition metadata naming the warehouse table's columns, types and meanings, so the
    asset's page in the UI documents what analysts will find in SQL."""
    columns = [
        dg.TableColumn(
            name=column.name,
            type=str(column.type),
            description=column.comment,
            constraints=dg.TableColumnConstraints(nullable=bool(column.nullable)),
        )
        for column in table.columns
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns)}

"""Ingest one day of the EU DSA Transparency Database: find its dump, read it in one pass,
check it with its quality suite, and write it in one transaction (counts for every platform,
dsa_* series in daily_metrics, followed platforms' statements in moderation_decisions)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from risk_pipelines.quality.dsa_validation import SUITE, validate_dsa_day
from risk_pipelines.quality.suite import load_suite
from risk_pipelines.sources.dsa import DSA_SOURCE_PREFIX, DsaDay, read_dump
from risk_pipelines.sources.dsa_config import DsaConfig
from risk_pipelines.sources.dsa_dump import DumpError, find_dump
from risk_pipelines.sources.dsa_metrics import SOURCE, dsa_daily_metrics
from risk_pipelines.warehouse import schema
from risk_pipelines.warehouse.store import Warehouse


@dataclass
class LoadedDay:
    day: dt.date
    path: Path
    read: DsaDay
    written: dict


def ingest_dsa_day(
    db: Warehouse, dsa_dir: Path, day: dt.date, config: DsaConfig, hash_key: str
) -> LoadedDay | str:
    """Read, check and write one day: the day written, or why it was not (nothing of it is
    then written)."""
    path = find_dump(dsa_dir, day, config.variant)
    if path is None:
        return f"no dump for {day}: {dsa_dir}/sor-global-{day}-full.zip"
    try:
        read = read_dump(path, hash_key=hash_key, follow=config.follow,
                         platforms=config.platforms)  # fmt: skip
    except DumpError as exc:
        return str(exc)
    suite = load_suite(SUITE)
    history = recent_totals(db, day, suite.settings.lookback_days)
    verdict = validate_dsa_day(read, history, suite)
    if verdict.blocked:
        return f"{path.name}: {verdict.describe()}"
    written = db.replace_together(
        [
            ("dsa_statement_counts", read.aggregates.assign(ds=day), {"where": {"ds": day}}),
            ("daily_metrics", dsa_daily_metrics(read.aggregates, day),
             {"where": {"ds": day, "source": SOURCE}}),
            ("moderation_decisions", read.rows.assign(ds=day) if len(read.rows) else read.rows,
             {"where": {"ds": day}, "like": {"source_file": f"{DSA_SOURCE_PREFIX}%"}}),
        ]
    )  # fmt: skip
    return LoadedDay(day, path, read, written)


def recent_totals(db: Warehouse, day: dt.date, lookback: int) -> list[int]:
    """Statements per earlier day within ``lookback`` days (the volume band's history)."""
    t = schema.dsa_statement_counts
    frame = db.read_query(
        sa.select(t.c.ds, sa.func.sum(t.c.statements).label("statements"))
        .where(t.c.ds.between(day - dt.timedelta(days=lookback), day - dt.timedelta(days=1)))
        .group_by(t.c.ds)
    )
    return [int(v) for v in frame["statements"]]

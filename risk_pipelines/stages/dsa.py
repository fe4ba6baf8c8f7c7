"""Ingest one day of the EU DSA Transparency Database: find its dump, read it in one pass,
check it with its quality suite, and write it in one transaction (counts for every platform,
dsa_* series in daily_metrics, followed platforms' statements in moderation_decisions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.quality.dsa_validation import SUITE, validate_dsa_day
from risk_pipelines.sources.dsa import DsaDay, read_dump
from risk_pipelines.sources.dsa_dump import DumpError, find_dump
from risk_pipelines.sources.dsa_metrics import dsa_daily_metrics
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.dsa_records import DayRecord, write_day_record
from risk_pipelines.stages.shared_partitions import dsa_scope
from risk_pipelines.warehouse import schema
from risk_pipelines.warehouse.store import Warehouse


@dataclass
class LoadedDay:
    day: dt.date
    path: Path
    read: DsaDay
    written: dict


@dataclass
class DsaReport:
    """What a range of DSA days came to: the days written, and why each other day was not."""

    dsa_dir: Path
    deployed: bool
    loaded: list[LoadedDay] = field(default_factory=list)
    blocked: dict[dt.date, str] = field(default_factory=dict)

    @property
    def reads(self) -> list[DsaDay]:
        return [d.read for d in self.loaded]

    def by_category(self) -> pd.DataFrame:
        """Statements per policy category over the loaded days, the ten largest."""
        if not self.loaded:
            return pd.DataFrame()
        totals = pd.concat([r.aggregates for r in self.reads], ignore_index=True)
        return totals.groupby("policy_category")["statements"].sum().nlargest(10).to_frame()


def ingest_dsa_days(db: Warehouse, days: Sequence[dt.date], run: StageRun) -> DsaReport:
    """The DSA stage: each day read, checked and written on its own, so one bad day blocks
    only itself."""
    dsa_dir = run.landing_dir / "dsa"
    report = DsaReport(dsa_dir, deployed=dsa_dir.is_dir())
    if not report.deployed:
        return report
    for day in days:
        record = ingest_dsa_day(db, day, run)
        write_day_record(db, record, run)
        if record.read is not None and record.read.followed is not None:
            record.read.followed.discard()  # written or blocked: the spill is done with
        if record.blocked is not None:
            report.blocked[day] = record.blocked
            run.log.error(f"dsa {day}: {record.blocked}; nothing written")
        else:
            report.loaded.append(record.loaded)
    return report


@dataclass
class _Outcome(DayRecord):
    loaded: LoadedDay | None = None


def ingest_dsa_day(db: Warehouse, day: dt.date, run: StageRun) -> _Outcome:
    """Read, check and write one day: what it came to, the day written (``loaded``) or why it
    was not (``blocked``; nothing of it is then written)."""
    dsa_dir = run.landing_dir / "dsa"
    config = run.config.dsa
    path = find_dump(dsa_dir, day, config.variant)
    if path is None:
        reason = f"no dump for {day}: {dsa_dir}/sor-global-{day}-full.zip"
        return _Outcome(day, None, None, reason, reason)
    try:
        read = read_dump(path, hash_key=run.hash_key, follow=config.follow,
                         platforms=config.platforms)  # fmt: skip
    except DumpError as exc:
        return _Outcome(day, path, None, str(exc), str(exc))
    suite = run.config.suite(SUITE)
    history = recent_totals(db, day, suite.settings.lookback_days)
    verdict = validate_dsa_day(read, history, suite)
    if verdict.blocked:
        return _Outcome(day, path, read, f"{path.name}: {verdict.describe()}", verdict.describe())
    written = db.replace_together(
        [
            ("dsa_statement_counts", read.aggregates.assign(ds=day),
             dsa_scope("dsa_statement_counts", day)),
            ("dsa_country_counts", read.countries.assign(ds=day),
             dsa_scope("dsa_country_counts", day)),
            ("dsa_facet_counts", read.facets.assign(ds=day), dsa_scope("dsa_facet_counts", day)),
            ("daily_metrics", dsa_daily_metrics(read.aggregates, day, delays=read.delays,
                                                countries=read.countries, follow=config.follow),
             dsa_scope("daily_metrics", day)),
            ("moderation_decisions", (rows.assign(ds=day) for rows in read.followed.chunks()),
             dsa_scope("moderation_decisions", day)),
        ]
    )  # fmt: skip
    loaded = LoadedDay(day, path, read, written)
    return _Outcome(day, path, read, None, verdict.describe(), loaded)


def recent_totals(db: Warehouse, day: dt.date, lookback: int) -> list[int]:
    """Statements per earlier day within ``lookback`` days (the volume band's history)."""
    t = schema.dsa_statement_counts
    frame = db.read_query(
        sa.select(t.c.ds, sa.func.sum(t.c.statements).label("statements"))
        .where(t.c.ds.between(day - dt.timedelta(days=lookback), day - dt.timedelta(days=1)))
        .group_by(t.c.ds)
    )
    return [int(v) for v in frame["statements"]]

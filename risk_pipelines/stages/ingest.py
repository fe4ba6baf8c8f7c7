"""Load a range of landing days into the warehouse through the source's quality suite.

For each day: read every file (parse-level faults become quarantine rows or a blocked day),
validate with Great Expectations (failing rows quarantined, failing days blocked), write the
days that pass in one transaction, record every file in ``landing_files``, every rejected row
in ``quarantined_rows`` and every check verdict in ``data_quality_results``. A blocked day
keeps whatever it held before. No dagster import: the assets, the CLI and the benchmarks call
this.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.quality.gx_runner import BatchVerdict, validate_batch
from risk_pipelines.quality.series_checks import (
    SERIES_COLUMNS,
    SeriesCheckSettings,
    series_findings,
)
from risk_pipelines.sources import landing
from risk_pipelines.sources.delivery import DeliveryFinding, assess_freshness, assess_schema
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.shared_partitions import landed_history, own_feed_scope
from risk_pipelines.warehouse.schema import TABLES, data_quality_results, landing_files
from risk_pipelines.warehouse.store import Warehouse

KNOWN_COLUMNS = {
    "moderation_decisions": (*landing.DECISION_REQUIRED, *landing.DECISION_OPTIONAL),
    "incidents": (*landing.INCIDENT_REQUIRED, *landing.INCIDENT_OPTIONAL),
    "daily_metrics": (*landing.METRIC_REQUIRED, *landing.METRIC_OPTIONAL),
}
SUITE_CHECK = "suite"
# Landed pre-aggregated series are judged one by one (quality/series_checks.py), warn only.
SERIES_CHECKS = SeriesCheckSettings()


@dataclass
class IngestReport:
    dataset: str
    days: list[dt.date]
    batch: landing.LandingBatch
    verdict: BatchVerdict
    passed_days: list[dt.date]
    rows_written: int
    rows_quarantined: int
    findings: list[DeliveryFinding] = field(default_factory=list)

    @property
    def blocked(self) -> dict[dt.date, list[str]]:
        return self.verdict.blocked

    def accounting(self) -> pd.DataFrame:
        """Per day: read, accepted, quarantined, written, and the day's status with reasons."""
        frame = self.batch.accounting()
        rows = self.batch.rows
        written = rows["ds"].value_counts() if not rows.empty else {}
        frame["rows_written"] = [
            int(written.get(d, 0)) if d in self.passed_days else 0 for d in frame["ds"]
        ]
        frame["status"] = ["loaded" if d in self.passed_days else "blocked" for d in frame["ds"]]
        frame["reasons"] = ["; ".join(self.blocked.get(d, [])) for d in frame["ds"]]
        return frame

    def warnings(self) -> list[DeliveryFinding]:
        return [f for f in self.findings if not f.passed]


def ingest_source(
    warehouse: Warehouse, dataset: str, days: Sequence[dt.date], run: StageRun
) -> IngestReport | None:
    """The ingest stage of one landing dataset: None when the deployment does not feed it
    (no ``<landing>/<dataset>/`` folder), else what was loaded, quarantined and blocked."""
    if not landing.dataset_deployed(run.landing_dir, dataset):
        return None
    return ingest_dataset(warehouse, dataset, days, run)


def ingest_dataset(
    warehouse: Warehouse,
    dataset: str,
    days: Sequence[dt.date],
    run: StageRun,
    *,
    store_rows: bool = True,
) -> IngestReport:
    """``store_rows=False`` validates and quarantines but leaves writing the accepted rows to
    the caller (landed metrics are written together with the derived ones)."""
    days = sorted(set(days))
    suite = run.config.suite(dataset)
    batch = read_batch(warehouse, dataset, days, run, suite)
    history = mix_history(warehouse, dataset, suite.mix_column, days[0], suite.settings)
    now = run.now
    verdict = validate_batch(
        batch, suite, history, now=now, docs_dir=run.docs_dir,
        label=f"{_stamp(now)}-{run.run_id[:8]}",
    )  # fmt: skip
    passed = [d for d in days if d not in verdict.blocked]
    rows = batch.rows[batch.rows["ds"].isin(passed)] if not batch.rows.empty else batch.rows
    written = write_dataset(warehouse, dataset, rows, passed) if store_rows else 0
    quarantined = write_quarantine(warehouse, dataset, batch.rejects, days, run)
    previous = previous_header(warehouse, dataset, days[0])
    findings = assess_freshness(
        batch.files, days, deadline_hours=suite.settings.freshness_deadline_hours, now=now
    ) + assess_schema(
        batch.files, days, known_columns=KNOWN_COLUMNS[dataset], previous_header=previous
    )
    if dataset == "daily_metrics":
        history = landed_series_history(warehouse, days[0], SERIES_CHECKS.lookback_days)
        findings += series_findings(batch.rows, history, days, SERIES_CHECKS)
    report = IngestReport(dataset, days, batch, verdict, passed, written, quarantined, findings)
    write_manifest(warehouse, report, run.run_id, now)
    write_results(warehouse, report, run.run_id, now)
    return report


def landed_series_history(warehouse: Warehouse, first: dt.date, lookback: int) -> pd.DataFrame:
    """The landed series' values of the ``lookback`` days before ``first``: what each series
    is judged against."""
    t = TABLES["daily_metrics"]
    query = sa.select(
        t.c.unique_id, t.c.ds, t.c.value, t.c.metric, t.c.platform, t.c.policy_category
    ).where(
        t.c.ds.between(first - dt.timedelta(days=lookback), first - dt.timedelta(days=1)),
        landed_history("daily_metrics"),
    )
    frame = warehouse.read_query(query)
    if frame.empty:
        return pd.DataFrame(columns=SERIES_COLUMNS)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    kinds = {m: spec_for(m).kind for m in frame["metric"].unique()}
    return frame.assign(kind=frame["metric"].map(kinds))[SERIES_COLUMNS]


def blocked_days(
    warehouse: Warehouse, datasets: Sequence[str], days: Sequence[dt.date]
) -> dict[dt.date, list[str]]:
    """The per-day gate of every stage after ingest: the days whose newest suite verdict for
    any of ``datasets`` blocked them, each with its reasons. Such a day was not written, so a
    stage that derives from it would see an empty day: it must treat it as missing."""
    if not datasets or not days:
        return {}
    t = data_quality_results
    query = sa.select(t.c.dataset, t.c.ds, t.c.message).where(
        t.c.check_name == SUITE_CHECK,
        t.c.passed.is_(False),
        t.c.dataset.in_(list(datasets)),
        t.c.ds.in_(sorted(set(days))),
    )
    blocked: dict[dt.date, list[str]] = {}
    for row in warehouse.read_query(query).itertuples(index=False):
        day = pd.Timestamp(row.ds).date()
        blocked.setdefault(day, []).append(f"{row.dataset}: {row.message}")
    return blocked


def read_batch(warehouse, dataset, days, run: StageRun, suite):
    loaded = loaded_ids(warehouse, dataset, suite.key, days, suite.settings.duplicate_lookback_days)
    landing_dir, platform = run.landing_dir, run.platform
    if dataset == "moderation_decisions":
        return landing.read_moderation_decisions(
            landing_dir, days, platform=platform, hash_key=run.hash_key, loaded_ids=loaded
        )
    if dataset == "incidents":
        return landing.read_incidents(landing_dir, days, platform=platform, loaded_ids=loaded)
    if dataset == "daily_metrics":
        return landing.read_daily_metrics(landing_dir, days, platform=platform)
    raise ValueError(f"no reader for dataset {dataset!r}")


def loaded_ids(
    warehouse: Warehouse, dataset: str, key: str | None, days: list[dt.date], lookback: int
) -> pd.Series | None:
    """Keys held by the days just before (and between) this batch's days: a key arriving
    again is a re-delivery. The batch's own days are about to be replaced, so they don't count."""
    if not key or dataset not in ("moderation_decisions", "incidents") or lookback <= 0:
        return None
    table = TABLES[dataset]
    first = days[0] - dt.timedelta(days=lookback)
    query = sa.select(table.c[key], table.c.ds).where(
        table.c.ds.between(first, days[-1]), table.c.ds.not_in(days)
    )
    frame = warehouse.read_query(query)
    if frame.empty:
        return None
    return pd.Series(pd.to_datetime(frame["ds"]).dt.date.to_numpy(), index=frame[key])


def mix_history(warehouse, dataset, mix_column, first_day, settings) -> pd.DataFrame:
    """Rows per day and mix value for the look-back window before the batch."""
    table = TABLES[dataset]
    start = first_day - dt.timedelta(days=settings.lookback_days)
    # Without a mix column every row counts as "all" (PostgreSQL cannot group by a constant).
    keys = [table.c.ds, table.c[mix_column].label("mix_value")] if mix_column else [table.c.ds]
    query = (
        sa.select(*keys, sa.func.count().label("rows"))
        .where(table.c.ds.between(start, first_day - dt.timedelta(days=1)))
        .group_by(*keys)
    )
    history_filter = landed_history(dataset)
    if history_filter is not None:
        query = query.where(history_filter)
    frame = warehouse.read_query(query)
    if not mix_column:
        frame["mix_value"] = "all"
    if not frame.empty:
        frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    return frame


def write_dataset(warehouse, dataset, rows, days) -> int:
    columns = [c for c in rows.columns if c in TABLES[dataset].c]
    if not days:
        return 0
    return warehouse.replace_rows(dataset, rows[columns], **own_feed_scope(dataset, days))


def write_quarantine(warehouse, dataset, rejects, days, run: StageRun) -> int:
    frame = rejects.assign(dataset=dataset, run_id=run.run_id, quarantined_at=run.now)
    return warehouse.replace_rows(
        "quarantined_rows", frame, where={"dataset": dataset, "ds": list(days)}
    )


def previous_header(warehouse: Warehouse, dataset: str, before: dt.date) -> list[str] | None:
    t = landing_files
    query = (
        sa.select(t.c.header)
        .where(t.c.dataset == dataset, t.c.ds < before, t.c.header.is_not(None))
        .order_by(t.c.ds.desc(), t.c.source_file.desc())
        .limit(1)
    )
    value = warehouse.scalar(query)
    return json.loads(value) if value else None


def write_manifest(warehouse: Warehouse, report: IngestReport, run_id: str, now) -> None:
    blocked = report.blocked
    frame = pd.DataFrame(
        [
            {
                "dataset": r.dataset,
                "ds": r.ds,
                "source_file": r.source_file,
                "size_bytes": r.size_bytes,
                "sha256": r.sha256,
                "header": json.dumps(r.header) if r.header else None,
                "rows_read": r.rows_read,
                "landed_at": r.landed_at,
                "loaded_at": now,
                "status": "unreadable" if r.problem else "blocked" if r.ds in blocked else "loaded",
                "problem": r.problem or ("; ".join(blocked[r.ds]) if r.ds in blocked else None),
                "run_id": run_id,
            }
            for r in report.batch.files
        ]
    )
    warehouse.replace_rows(
        "landing_files", frame, where={"dataset": report.dataset, "ds": report.days}
    )


def write_results(warehouse: Warehouse, report: IngestReport, run_id: str, now) -> None:
    accounting = report.accounting().set_index("ds")
    records = []
    for day in report.days:
        counts = accounting.loc[day]
        reasons = report.blocked.get(day)
        records.append(
            {
                "check_name": SUITE_CHECK,
                "ds": day,
                "passed": not reasons,
                "severity": "error",
                "message": "; ".join(reasons) if reasons else "passed",
                "rows_read": int(counts["rows_read"]),
                "rows_accepted": int(counts["rows_accepted"]),
                "rows_quarantined": int(counts["rows_quarantined"]),
            }
        )
    for finding in report.findings:
        records.append(
            {
                "check_name": finding.check,
                "ds": finding.ds,
                "passed": finding.passed,
                "severity": "warn",
                "message": finding.message,
            }
        )
    frame = pd.DataFrame(records).assign(dataset=report.dataset, run_id=run_id, evaluated_at=now)
    warehouse.replace_rows(
        "data_quality_results", frame, where={"dataset": report.dataset, "ds": report.days}
    )


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S")

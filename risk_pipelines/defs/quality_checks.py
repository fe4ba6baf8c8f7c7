"""Dagster wiring for the data-quality verdicts of an ingest: check specs, results, metadata.

Each ingested source has three checks on its asset: the suite (blocking: a blocked day fails
it and stops everything downstream), freshness and schema (warnings: the data still loads).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipelines.defs.shared import bar_chart, preview, span
from risk_pipelines.stages.ingest import IngestReport

_SHOWN = 20


# The warn-only checks of each ingest, beside its blocking suite check.
WARN_CHECKS = {"daily_metrics": ("freshness", "schema", "series", "category_set")}
DEFAULT_WARN_CHECKS = ("freshness", "schema")


def ingest_check_specs(asset: str, label: str) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            f"{asset}_suite",
            asset=asset,
            blocking=True,
            description=f"Great Expectations suite defaults/suites/{label}.yaml: table, row and "
            "partition expectations. Fails when any day is blocked (unreadable file, missing "
            "day, too many quarantined rows, volume or category mix out of band); blocked "
            "days are not written and are missing days downstream. With WARN severity while "
            "other days of the run loaded (they go on); with ERROR, stopping downstream, when "
            "every day of the run is blocked.",
        ),
        dg.AssetCheckSpec(
            f"{asset}_freshness",
            asset=asset,
            description=f"Each day of {label} landed by its deadline (settings."
            "freshness_deadline_hours of the suite, from 00:00 UTC of the day). Warns only.",
        ),
        dg.AssetCheckSpec(
            f"{asset}_schema",
            asset=asset,
            description=f"The {label} file headers match the canonical columns and the "
            "previous delivery. Warns only: unknown columns are reported, not loaded.",
        ),
    ]
    if "series" in WARN_CHECKS.get(label, ()):
        specs += [
            dg.AssetCheckSpec(
                f"{asset}_series",
                asset=asset,
                description="Each landed series against the median of its own recent days with "
                "data: a series that went quiet, dropped below 0.2x or jumped above 5x is named "
                "(quality/series_checks.py). Warns only: every other series flows on.",
            ),
            dg.AssetCheckSpec(
                f"{asset}_category_set",
                asset=asset,
                description="Within each metric, the policy categories and platforms present "
                "today against recent days, naming those that appeared or vanished (a "
                "taxonomy change). Warns only.",
            ),
        ]
    return specs


def day_verdict_severity(days_blocked: int, days: int) -> dg.AssetCheckSeverity:
    """How a failed suite check stops the run, and why so.

    A blocked day is never written and is a missing day to every stage after it: the stages
    gate on the day's verdict in ``data_quality_results``, so a range run (a backfill, ``make
    run``, ``risk-pipelines run``) goes on for its good days, and the check fails with WARN
    severity naming the blocked days. Only when every day of the run is blocked (the scheduled
    one-day run of a bad day) is there nothing to go on with: the check fails with ERROR and,
    being blocking, stops the run's downstream steps as before. Per-partition checks would have
    said the same day by day, but would cost a run per day on a two-year backfill."""
    if days_blocked and days_blocked >= days:
        return dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckSeverity.WARN


def not_deployed_results(asset: str, note: str) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(check_name=spec.key.name, passed=True, metadata={"status": note})
        for spec in ingest_check_specs(asset, asset)
    ]


def ingest_check_results(asset: str, report: IngestReport) -> list[dg.AssetCheckResult]:
    verdict = report.verdict
    blocked = {d.isoformat(): reasons for d, reasons in sorted(report.blocked.items())}
    docs = [str(p) for p in verdict.data_docs]
    suite_metadata = {
        "days_checked": len(report.days),
        "days_blocked": len(blocked),
        "blocked_days": dg.MetadataValue.json(dict(list(blocked.items())[:_SHOWN])),
        "failed_expectations": dg.MetadataValue.json([o.as_metadata() for o in verdict.failures]),
        "rows_quarantined": report.rows_quarantined,
        "row_accounting": dg.MetadataValue.md(_accounting_markdown(report)),
        "accounting_balanced": bool(report.accounting()["balanced"].all()),
    }
    if docs:
        suite_metadata["data_docs"] = dg.MetadataValue.path(_first_failing_page(verdict, docs))
        suite_metadata["data_docs_pages"] = dg.MetadataValue.json(docs)
    results = [
        dg.AssetCheckResult(
            check_name=f"{asset}_suite",
            passed=not blocked,
            severity=day_verdict_severity(len(blocked), len(report.days)),
            description=verdict.describe(),
            metadata=suite_metadata,
        )
    ]
    for check in WARN_CHECKS.get(asset, DEFAULT_WARN_CHECKS):
        findings = [f for f in report.findings if f.check == check]
        failing = [f for f in findings if not f.passed]
        results.append(
            dg.AssetCheckResult(
                check_name=f"{asset}_{check}",
                passed=not failing,
                severity=dg.AssetCheckSeverity.WARN,
                description=failing[0].message if failing else f"{len(findings)} day(s) fine",
                metadata={
                    "days_failing": len(failing),
                    "findings": dg.MetadataValue.json(
                        {f.ds.isoformat(): f.message for f in failing[:_SHOWN]}
                    ),
                },
            )
        )
    return results


def _first_failing_page(verdict, pages: list[str]) -> str:
    """The Data Docs page an engineer should open first: the first validation that failed."""
    failed = [p for p, ok in zip(pages, verdict.data_docs_passed, strict=True) if not ok]
    return (failed or pages)[0]


def ingest_metadata(report: IngestReport, preview_rows: pd.DataFrame) -> dict:
    accounting = report.accounting()
    return {
        "dagster/row_count": report.rows_written,
        "partitions": span(report.days),
        "files": len(report.batch.files),
        "rows_read": int(accounting["rows_read"].sum()),
        "rows_accepted": int(accounting["rows_accepted"].sum()),
        "rows_quarantined": int(accounting["rows_quarantined"].sum()),
        "rows_written": report.rows_written,
        "days_blocked": len(report.blocked),
        # Rows read = rows accepted + rows quarantined, for every day; false would be a bug.
        "accounting_balanced": bool(accounting["balanced"].all()),
        "row_accounting": dg.MetadataValue.md(_accounting_markdown(report)),
        "chart": bar_chart(
            accounting.set_index("ds")[["rows_accepted", "rows_quarantined"]].sort_index(),
            "rows accepted and quarantined per day",
        ),
        "preview": preview(preview_rows),
    }


def _accounting_markdown(report: IngestReport) -> str:
    frame = report.accounting()
    # Blocked days first: they are what an engineer opens this for.
    frame = pd.concat([frame[frame["status"] == "blocked"], frame[frame["status"] != "blocked"]])
    shown = frame.head(_SHOWN)
    lines = [
        "| day | read | accepted | quarantined | written | status |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in shown.itertuples(index=False):
        status = row.status if not row.reasons else f"{row.status}: {row.reasons[:200]}"
        lines.append(
            f"| {_day(row.ds)} | {row.rows_read} | {row.rows_accepted} | "
            f"{row.rows_quarantined} | {row.rows_written} | {status.replace('|', '/')} |"
        )
    if len(frame) > _SHOWN:
        lines.append(f"| … {len(frame) - _SHOWN} more day(s) | | | | | |")
    return "\n".join(lines)


def _day(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)

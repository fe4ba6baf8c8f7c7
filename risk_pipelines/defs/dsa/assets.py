"""The EU DSA Transparency Database as a source: one daily dump per partition, read in one
streaming pass, checked by its quality suite, then written in one transaction: counts for every
platform, dsa_* series in daily_metrics, and the statements of followed platforms row by row."""

import dagster as dg
import pandas as pd

from risk_pipelines.defs.quality_checks import day_verdict_severity
from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import (
    DAILY_PARTITIONS,
    DATABASE_RETRY,
    DSA_JOB,
    OWNERS_ENGINEERING,
    SINGLE_RUN,
    bar_chart,
    column_schema,
    partition_days,
    retry_only_database_errors,
)
from risk_pipelines.quality.dsa_validation import SUITE
from risk_pipelines.sources.dsa import DsaDay
from risk_pipelines.stages.dsa import DsaReport, ingest_dsa_days
from risk_pipelines.warehouse import schema

CHECK = f"{SUITE}_suite"


@dg.asset(
    retry_policy=DATABASE_RETRY,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="dsa",
    owners=OWNERS_ENGINEERING,
    kinds={"python", "pyarrow", "sql"},
    tags={"source": "eu-dsa-transparency-database"},
    metadata=column_schema(schema.dsa_statement_counts),
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset="dsa_statements",
            blocking=True,
            description="Great Expectations suite defaults/suites/dsa_statements.yaml on the "
            "day's counts (canonical values, counts >= 1) and on the read's profile (at most "
            "1 % unmappable rows, at most 5 % repeated uuids, 0.2x-5x the recent daily "
            "volume). A failure, a missing or an unreadable dump blocks the day: nothing of "
            "it is written.",
        )
    ],
    description="Statements of reasons from the EU DSA Transparency Database daily dump "
    "<landing>/dsa/sor-global-<day>-full.zip (or -light), read as a stream (never a whole day "
    "in memory), mapped to the canonical schema (v1 -> v2 categories tabled in "
    "sources/dsa_mapping.py) and de-duplicated by uuid across the whole day. Every platform "
    "in dsa.yaml's 'platforms' is counted into dsa_statement_counts (platform x category x "
    "detection source x automation x action, with the automated-detection, own-initiative "
    "and illegal-content counts), dsa_country_counts, dsa_facet_counts and the dsa_* series "
    "of daily_metrics; the platforms in 'follow' are also kept row by row in "
    "moderation_decisions. The dump, its rejected rows and the verdict go to landing_files, "
    "quarantined_rows and data_quality_results.",
)
@retry_only_database_errors
def dsa_statements(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    run = pipeline_config.stage_run(context.run.run_id, context.log)
    report = ingest_dsa_days(warehouse.get(), partition_days(context), run)
    return _result(report)


def _result(report: DsaReport) -> dg.MaterializeResult:
    loaded, blocked, reads = report.loaded, report.blocked, report.reads
    not_deployed = (
        None if report.deployed else f"source not deployed: {report.dsa_dir} does not exist"
    )
    accounting = pd.DataFrame(
        [
            {
                "day": str(d.day), "dump": d.path.name, "parts": len(d.read.parts),
                "rows_read": d.read.rows_read, "statements": d.read.statements,
                "duplicates": d.read.duplicates_dropped, "rejected": d.read.rows_rejected,
                "outside_filter": d.read.rows_outside_filter,
                "followed_rows": d.written["moderation_decisions"],
                "balanced": d.read.balanced(),
            }
            for d in loaded
        ]
    )  # fmt: skip
    if not_deployed:
        description, passed = not_deployed, True
    elif blocked:
        first = min(blocked)
        description = f"{len(blocked)} day(s) blocked, first {first}: {blocked[first]}"
        passed = False
    else:
        description, passed = f"{len(loaded)} day(s) loaded, none blocked", True
    check = dg.AssetCheckResult(
        check_name=CHECK,
        passed=passed,
        severity=day_verdict_severity(len(blocked), len(blocked) + len(loaded)),
        description=description,
        metadata={
            "days_loaded": len(loaded),
            "days_blocked": len(blocked),
            "blocked_days": dg.MetadataValue.json({str(k): v for k, v in sorted(blocked.items())}),
        },
    )
    metadata = {
        "dagster/row_count": sum(d.written["dsa_statement_counts"] for d in loaded),
        "status": description,
        "statements": sum(r.statements for r in reads),
        "rows_read": sum(r.rows_read for r in reads),
        "duplicates_dropped": sum(r.duplicates_dropped for r in reads),
        "rows_rejected": sum(r.rows_rejected for r in reads),
        "accounting_balanced": all(r.balanced() for r in reads),
        "series_written": sum(d.written["daily_metrics"] for d in loaded),
        "followed_rows_written": sum(d.written["moderation_decisions"] for d in loaded),
        "day_accounting": dg.MetadataValue.md(
            accounting.to_markdown(index=False) if len(accounting) else "_no day loaded_"
        ),
        "rejections": dg.MetadataValue.md(_records_markdown(reads, "rejected")),
        "warnings": dg.MetadataValue.md(_records_markdown(reads, "warnings")),
        "rows_with_warnings": sum(r.count for read in reads for r in read.warnings.values()),
        "chart": bar_chart(report.by_category(), "DSA statements by policy category"),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


def _records_markdown(reads: list[DsaDay], kind: str) -> str:
    """The day's rejections (``kind`` "rejected") or warnings, largest first."""
    rejected = [(read.day, r) for read in reads for r in getattr(read, kind).values()]
    if not rejected:
        return "_none_"
    lines = ["| day | reason | rows | first part | first row |", "|---|---|---:|---|---:|"]
    for day, r in sorted(rejected, key=lambda x: -x[1].count)[:20]:
        reason = r.reason.replace("|", "/")
        lines.append(f"| {day} | {reason} | {r.count} | {r.first_part} | {r.first_row} |")
    return "\n".join(lines)


dsa_statements_job = dg.define_asset_job(
    DSA_JOB,
    selection=dg.AssetSelection.assets(dsa_statements),
    description="Ingest the DSA Transparency Database dump of a day (dsa_dump_sensor asks).",
)

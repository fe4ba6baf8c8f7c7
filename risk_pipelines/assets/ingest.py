"""Raw ingest: landing files -> moderation_decisions and incidents, one partition per day."""

from pathlib import Path

import dagster as dg

from risk_pipelines.assets.common import (
    DAILY_PARTITIONS,
    OWNERS_ENGINEERING,
    SINGLE_RUN,
    partition_days,
    preview,
    span,
)
from risk_pipelines.pipeline import write_partitions, write_rejects
from risk_pipelines.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.sources import landing

# A day whose unparseable rows exceed this share is blocked rather than written.
MAX_REJECTED_SHARE = 0.01

DECISIONS_SUITE = dg.AssetCheckSpec(
    "moderation_decisions_suite",
    asset="moderation_decisions",
    blocking=True,
    description="Great Expectations suite quality/suites/moderation_decisions.yaml (columns, "
    "not-null keys, value sets) plus at most 1% unparseable rows per day. Blocks downstream.",
)


@dg.asset(
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="ingest",
    owners=OWNERS_ENGINEERING,
    kinds={"python", "pandas", "sql"},
    check_specs=[DECISIONS_SUITE],
    description="Moderation decisions from <landing>/moderation_decisions/<day>/ (CSV or "
    "Parquet), normalised to the canonical schema; user and content ids kept only as keyed "
    "hashes. Validated by Great Expectations before it is written: a failing day is not "
    "written and blocks everything downstream. Unparseable rows go to quarantined_rows.",
)
def moderation_decisions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    from risk_pipelines.quality.gx_runner import validate_frame

    days = partition_days(context)
    landing_dir = Path(pipeline_config.landing_dir)
    if not landing.dataset_deployed(landing_dir, "moderation_decisions"):
        note = f"source not deployed: {landing_dir / 'moderation_decisions'} does not exist"
        context.log.info(note)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "status": note},
            check_results=[dg.AssetCheckResult(passed=True, metadata={"status": note})],
        )
    batch = landing.read_moderation_decisions(
        landing_dir,
        days,
        platform=pipeline_config.platform,
        hash_key=pipeline_config.id_hash_key,
    )
    report = validate_frame(batch.rows, "moderation_decisions")
    rejected_share = batch.rejected_share_by_day()
    blocked = set(report.failed_partitions) | {
        d for d, share in rejected_share.items() if share > MAX_REJECTED_SHARE
    }
    passing = [d for d in days if d.isoformat() not in blocked]
    rows = batch.rows[batch.rows["ds"].isin(passing)]
    db = warehouse.get()
    written = write_partitions(db, "moderation_decisions", rows, passing)
    quarantined = write_rejects(db, "moderation_decisions", batch.rejects, days, context.run.run_id)
    if blocked:
        context.log.error(
            f"blocked {len(blocked)} day(s): {sorted(blocked)[:10]}; {report.describe()}"
        )
    failures = [
        {
            "expectation": o.expectation,
            "column": o.column,
            "unexpected": o.unexpected_count,
            "percent": round(o.unexpected_percent, 3),
            "sample": o.sample,
        }
        for o in report.failures
    ]
    check = dg.AssetCheckResult(
        passed=not blocked,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.describe(),
        metadata={
            "rows_validated": report.rows,
            "expectations": len(report.outcomes),
            "failed_expectations": dg.MetadataValue.json(failures),
            "blocked_partitions": dg.MetadataValue.json(sorted(blocked)),
            "max_rejected_share_per_day": max(rejected_share.values(), default=0.0),
        },
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "partitions": span(days),
            "rows_read": batch.rows_read,
            "rows_written": written,
            "rows_quarantined": quarantined,
            "rows_blocked": len(batch.rows) - len(rows),
            "files": len(batch.files),
            "preview": preview(rows.drop(columns=["user_id_hash", "content_id_hash"])),
        },
        check_results=[check],
    )


@dg.asset(
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    group_name="ingest",
    owners=OWNERS_ENGINEERING,
    kinds={"python", "pandas", "sql"},
    description="Incidents from <landing>/incidents/<day>/ (the day an incident was detected), "
    "normalised to the canonical incident schema. Unparseable rows go to quarantined_rows.",
)
def incidents(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    pipeline_config: PipelineConfigResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    landing_dir = Path(pipeline_config.landing_dir)
    if not landing.dataset_deployed(landing_dir, "incidents"):
        note = f"source not deployed: {landing_dir / 'incidents'} does not exist"
        context.log.info(note)
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "status": note})
    batch = landing.read_incidents(landing_dir, days, platform=pipeline_config.platform)
    db = warehouse.get()
    written = write_partitions(db, "incidents", batch.rows, days)
    quarantined = write_rejects(db, "incidents", batch.rejects, days, context.run.run_id)
    by_severity = batch.rows["severity"].value_counts().sort_index().to_dict() if written else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "partitions": span(days),
            "rows_read": batch.rows_read,
            "rows_quarantined": quarantined,
            "by_severity": dg.MetadataValue.json({k: int(v) for k, v in by_severity.items()}),
            "preview": preview(batch.rows),
        }
    )

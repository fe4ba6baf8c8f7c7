"""Raw ingest: landing files -> moderation_decisions and incidents, one partition per day.

Both load through the ingest stage (parse, Great Expectations suite, quarantine, write) and
report through ``defs.quality_checks``; the assets only wire the two.
"""

import dagster as dg

from risk_pipelines.defs.quality_checks import (
    ingest_check_results,
    ingest_check_specs,
    ingest_metadata,
    not_deployed_results,
)
from risk_pipelines.defs.resources import PipelineConfigResource, WarehouseResource
from risk_pipelines.defs.shared import (
    DAILY_PARTITIONS,
    DATABASE_RETRY,
    OWNERS_ENGINEERING,
    SINGLE_RUN,
    column_schema,
    partition_days,
    retry_only_database_errors,
)
from risk_pipelines.stages.ingest import ingest_source
from risk_pipelines.warehouse.schema import TABLES

_LOADING = (
    "Validated by the Great Expectations suite defaults/suites/{name}.yaml before it is "
    "written: rows failing a row expectation go to quarantined_rows with file, row, column "
    "and reason; a day that cannot be read, lands no rows, or quarantines more than 1% of its "
    "rows is blocked: not written, and nothing downstream runs. Every file is recorded in "
    "landing_files and every verdict in data_quality_results."
)


def _ingest(context, warehouse, pipeline_config, dataset: str) -> dg.MaterializeResult:
    run = pipeline_config.stage_run(context.run.run_id, context.log)
    report = ingest_source(warehouse.get(), dataset, partition_days(context), run)
    if report is None:
        note = f"source not deployed: {run.landing_dir / dataset} does not exist"
        context.log.info(note)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "status": note},
            check_results=not_deployed_results(dataset, note),
        )
    if report.blocked:
        first = min(report.blocked)
        context.log.error(
            f"{dataset}: blocked {len(report.blocked)} day(s), not written; first {first}: "
            + "; ".join(report.blocked[first])
        )
    for finding in report.warnings()[:10]:
        context.log.warning(f"{dataset} {finding.ds} {finding.check}: {finding.message}")
    rows = report.batch.rows
    shown = rows.drop(columns=[c for c in rows.columns if c.endswith("_hash")])
    return dg.MaterializeResult(
        metadata=ingest_metadata(report, shown),
        check_results=ingest_check_results(dataset, report),
    )


def _ingest_asset(dataset: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        retry_policy=DATABASE_RETRY,
        metadata=column_schema(TABLES[dataset]),
        name=dataset,
        partitions_def=DAILY_PARTITIONS,
        backfill_policy=SINGLE_RUN,
        group_name="ingest",
        owners=OWNERS_ENGINEERING,
        kinds={"python", "pandas", "sql"},
        check_specs=ingest_check_specs(dataset, dataset),
        description=f"{description} {_LOADING.format(name=dataset)}",
    )
    @retry_only_database_errors
    def ingest_asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        pipeline_config: PipelineConfigResource,
    ) -> dg.MaterializeResult:
        return _ingest(context, warehouse, pipeline_config, dataset)

    return ingest_asset


moderation_decisions = _ingest_asset(
    "moderation_decisions",
    "Moderation decisions from <landing>/moderation_decisions/<day>/ (CSV or Parquet), "
    "normalised to the canonical schema; user and content ids kept only as keyed hashes.",
)
incidents = _ingest_asset(
    "incidents",
    "Incidents from <landing>/incidents/<day>/ (the UTC day an incident was detected), "
    "normalised to the canonical incident schema.",
)

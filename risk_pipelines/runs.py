"""Materialise a range of daily partitions headlessly, as one run (used by the CLI and tests)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from risk_pipelines.config import load_settings
from risk_pipelines.defs.shared import (
    BRIEF_JOB,
    DAILY_JOB,
    DAILY_PARTITIONS,
    DSA_JOB,
    MODEL_SELECTION_JOB,
    POLICY_AREA_PARTITIONS,
)
from risk_pipelines.run_output import RunOutput
from risk_pipelines.sources.landing import dataset_deployed
from risk_pipelines.stages.metrics import RAW_DATASETS

# A range run announces each asset's planned partitions as one event, not one per partition:
# 4,380 of them (about 15 ms each on a SQLite instance) were a fifth of seeding two years. The
# cost, as Dagster documents it: a range run that fails leaves its partitions unmarked rather
# than failed (the run itself shows failed, and the command names the failed days).
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")

# Written when the project creates DAGSTER_HOME: without it Dagster warns on every command that
# it found none, and prints its telemetry notice, neither of which a new user can act on.
INSTANCE_YAML = """\
# The Dagster instance of risk_pipelines (written by risk-pipelines when it created this folder).
# Runs, event logs and schedules are kept in SQLite files here; see docs/operations.md for
# PostgreSQL. Dagster's usage statistics are off; set enabled: true to send them.
telemetry:
  enabled: false
"""


class RangeError(ValueError):
    pass


def instance_from_environment() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance (runs then show in the UI), else a throwaway one."""
    home = load_settings().dagster_home
    if home is not None:
        ensure_dagster_home(Path(home))
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def ensure_dagster_home(home: Path) -> Path:
    """Create ``home`` with an instance configuration, keeping one that is already there."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    return config


def run_log_dir() -> Path:
    """Where headless runs write their event logs: under DAGSTER_HOME, else beside the data."""
    settings = load_settings()
    return (settings.dagster_home or settings.data_dir) / "logs"


def check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise RangeError(f"end {end} is before start {start}")
    keys = DAILY_PARTITIONS.get_partition_keys()
    if start.isoformat() not in keys or end.isoformat() not in keys:
        raise RangeError(
            f"range {start}..{end} is outside the daily partitions {keys[0]}..{keys[-1]} "
            "(set RISK_PARTITIONS_START for earlier days; today is not complete yet)"
        )


def materialise_range(
    start: dt.date,
    end: dt.date,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
    output: RunOutput | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``daily_risk_job`` over [start, end] in a single run (a single-run backfill). The
    ingest of a source with no landing folder is left out of the run rather than materialised
    empty: 839 empty partitions of each cost a metrics-only deployment 38 s."""
    check_range(start, end)
    landing_dir = Path(
        resources["pipeline_config"].landing_dir if resources else load_settings().landing_dir
    )
    undeployed = {d for d in RAW_DATASETS if not dataset_deployed(landing_dir, d)}
    return _execute(
        DAILY_JOB, instance, resources, output,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
        },
        leave_out=undeployed,
    )  # fmt: skip


def materialise_dsa(
    start: dt.date,
    end: dt.date,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
    output: RunOutput | None = None,
) -> dg.ExecuteInProcessResult:
    """Ingest the DSA dumps of [start, end] in one run (the sensor asks for one day at a time as
    dumps arrive); each day is read, checked and written on its own."""
    check_range(start, end)
    return _execute(
        DSA_JOB, instance, resources, output,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
        },
    )  # fmt: skip


def materialise_selection(
    area: str | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
    output: RunOutput | None = None,
) -> dg.ExecuteInProcessResult:
    """Run the weekly model selection now: for one policy area, or for all of them in one run
    (its Monday schedule makes one run per area instead, for the run queue to spread)."""
    if area is not None:
        return _execute(MODEL_SELECTION_JOB, instance, resources, output, partition_key=area)
    areas = POLICY_AREA_PARTITIONS.get_partition_keys()
    return _execute(
        MODEL_SELECTION_JOB, instance, resources, output,
        tags={ASSET_PARTITION_RANGE_START_TAG: areas[0], ASSET_PARTITION_RANGE_END_TAG: areas[-1]},
    )  # fmt: skip


def materialise_brief(
    day: dt.date,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
    output: RunOutput | None = None,
) -> dg.ExecuteInProcessResult:
    """Write the daily risk brief of ``day`` (what the alert sensor requests after evaluating)."""
    check_range(day, day)
    return _execute(BRIEF_JOB, instance, resources, output, partition_key=day.isoformat())


@cache
def _definitions() -> dg.Definitions:
    """The code location's assets and jobs, found in the defs folder as the UI finds them."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def _execute(
    job_name: str,
    instance: dg.DagsterInstance | None,
    resources: Mapping[str, object] | None,
    output: RunOutput | None,
    leave_out: Collection[str] = (),
    **options,
) -> dg.ExecuteInProcessResult:
    """One in-process run of ``job_name``, with the resources of the environment as it is now
    (not as it was when the code location was first loaded). With ``output``, the event log goes
    to a file and the terminal gets one line per step; without it, Dagster's console logger."""
    from risk_pipelines.defs.resources import build_resources

    loaded = _definitions()
    defs = dg.Definitions(
        assets=list(loaded.assets or []),
        asset_checks=list(loaded.asset_checks or []),
        jobs=list(loaded.jobs or []),
        resources=resources if resources is not None else build_resources(),
        loggers=output.loggers() if output is not None else None,
    )
    job = defs.resolve_job_def(job_name)
    keys = job.asset_layer.selected_asset_keys
    selection = [k for k in keys if k.to_user_string() not in leave_out] if leave_out else None
    return job.execute_in_process(
        run_config=output.run_config() if output is not None else None,
        asset_selection=selection,
        instance=instance or instance_from_environment(),
        raise_on_error=False,
        **options,
    )

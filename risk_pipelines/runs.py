"""Materialise a range of daily partitions headlessly, as one run (used by the CLI and tests)."""

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from risk_pipelines.assets.common import DAILY_PARTITIONS


class RangeError(ValueError):
    pass


def instance_from_environment() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance (runs then show in the UI), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


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
) -> dg.ExecuteInProcessResult:
    """Run ``daily_risk_job`` over [start, end] in a single run (a single-run backfill)."""
    from risk_pipelines.definitions import PIPELINE_ASSETS, daily_risk_job
    from risk_pipelines.resources import build_resources

    check_range(start, end)
    # Resources from the environment as it is now, not as it was when definitions imported.
    resources = resources if resources is not None else build_resources()
    defs = dg.Definitions(assets=PIPELINE_ASSETS, jobs=[daily_risk_job], resources=resources)
    job = defs.resolve_job_def("daily_risk_job")
    return job.execute_in_process(
        instance=instance or instance_from_environment(),
        tags={
            ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
        },
        raise_on_error=False,
    )


def materialise_selection(
    areas: Sequence[str] | None = None,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run the weekly model selection now for ``areas`` (a contiguous run of policy areas,
    default all of them) in one run; its Monday schedule makes one run per area instead, for
    the run queue to spread over workers."""
    from risk_pipelines.assets.common import POLICY_AREA_PARTITIONS
    from risk_pipelines.definitions import forecast_model_selection, model_selection_job
    from risk_pipelines.resources import build_resources

    resources = resources if resources is not None else build_resources()
    defs = dg.Definitions(
        assets=[forecast_model_selection], jobs=[model_selection_job], resources=resources
    )
    job = defs.resolve_job_def(model_selection_job.name)
    areas = list(areas or POLICY_AREA_PARTITIONS.get_partition_keys())
    return job.execute_in_process(
        instance=instance or instance_from_environment(),
        tags={ASSET_PARTITION_RANGE_START_TAG: areas[0], ASSET_PARTITION_RANGE_END_TAG: areas[-1]},
        raise_on_error=False,
    )


def materialise_brief(
    day: dt.date,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
) -> dg.ExecuteInProcessResult:
    """Write the daily risk brief of ``day`` (what the alert sensor requests after evaluating)."""
    from risk_pipelines.assets.brief import risk_brief, risk_brief_job
    from risk_pipelines.resources import build_resources

    check_range(day, day)
    resources = resources if resources is not None else build_resources()
    defs = dg.Definitions(assets=[risk_brief], jobs=[risk_brief_job], resources=resources)
    job = defs.resolve_job_def(risk_brief_job.name)
    return job.execute_in_process(
        instance=instance or instance_from_environment(),
        partition_key=day.isoformat(),
        raise_on_error=False,
    )

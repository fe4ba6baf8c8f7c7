"""Materialise a range of daily partitions headlessly, as one run (used by the CLI and tests)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from risk_pipelines.assets.common import DAILY_PARTITIONS

if TYPE_CHECKING:  # what define_asset_job returns; dagster does not export the name
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


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

    check_range(start, end)
    return _execute(
        PIPELINE_ASSETS, daily_risk_job, instance, resources,
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
) -> dg.ExecuteInProcessResult:
    """Run the weekly model selection now: for one policy area, or for all of them in one run
    (its Monday schedule makes one run per area instead, for the run queue to spread)."""
    from risk_pipelines.assets.common import POLICY_AREA_PARTITIONS
    from risk_pipelines.definitions import forecast_model_selection, model_selection_job

    if area is not None:
        return _execute([forecast_model_selection], model_selection_job, instance, resources,
                        partition_key=area)  # fmt: skip
    areas = POLICY_AREA_PARTITIONS.get_partition_keys()
    return _execute(
        [forecast_model_selection], model_selection_job, instance, resources,
        tags={ASSET_PARTITION_RANGE_START_TAG: areas[0], ASSET_PARTITION_RANGE_END_TAG: areas[-1]},
    )  # fmt: skip


def materialise_brief(
    day: dt.date,
    *,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
) -> dg.ExecuteInProcessResult:
    """Write the daily risk brief of ``day`` (what the alert sensor requests after evaluating)."""
    from risk_pipelines.assets.brief import risk_brief, risk_brief_job

    check_range(day, day)
    return _execute([risk_brief], risk_brief_job, instance, resources,
                    partition_key=day.isoformat())  # fmt: skip


def _execute(
    assets: Sequence[dg.AssetsDefinition],
    job: UnresolvedAssetJobDefinition,
    instance: dg.DagsterInstance | None,
    resources: Mapping[str, object] | None,
    **options,
) -> dg.ExecuteInProcessResult:
    """One in-process run of ``job`` over ``assets``, with the resources of the environment as
    it is now (not as it was when the definitions module was imported)."""
    from risk_pipelines.resources import build_resources

    resources = resources if resources is not None else build_resources()
    defs = dg.Definitions(assets=assets, jobs=[job], resources=resources)
    return defs.resolve_job_def(job.name).execute_in_process(
        instance=instance or instance_from_environment(), raise_on_error=False, **options
    )

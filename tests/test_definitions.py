"""The code location loads and every asset tells an engineer what it is."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from risk_pipelines.definitions import defs
from risk_pipelines.defs.shared import POLICY_AREA_PARTITIONS
from risk_pipelines.domain.taxonomy import ALL, POLICY_CATEGORIES
from risk_pipelines.warehouse.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {
    "ingest", "dsa", "metrics", "forecasting", "model_selection", "indicators", "alerting",
    "reporting",
}  # fmt: skip
# Assets that are not a warehouse table, and what they are instead.
NON_TABULAR = {"risk_brief": "an HTML page and its PNG per day"}
# Assets whose warehouse table has another name.
TABLE_OF = {"dsa_statements": "dsa_statement_counts"}


def test_definitions_load_with_jobs_schedules_and_sensors():
    assert defs.resolve_job_def("daily_risk_job")
    assert defs.resolve_schedule_def("daily_risk_schedule").default_status == (
        dg.DefaultScheduleStatus.RUNNING
    )
    assert defs.resolve_sensor_def("risk_alerts_sensor")
    weekly = defs.resolve_schedule_def("weekly_model_selection_schedule")
    assert weekly.cron_schedule == "0 4 * * 1" and weekly.execution_timezone == "UTC"
    assert defs.resolve_job_def("weekly_model_selection_job")


def test_the_weekly_selection_makes_one_run_per_policy_area_each_week():
    schedule = defs.resolve_schedule_def("weekly_model_selection_schedule")
    monday = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 23, 4),
        repository_def=defs.get_repository_def(),
    )
    requests = list(schedule.evaluate_tick(monday).run_requests)
    areas = [request.partition_key for request in requests]
    assert areas == [*POLICY_CATEGORIES, ALL]
    assert len({request.run_key for request in requests}) == len(areas)
    assert requests[0].run_key == "2026-11-23:animal_welfare"


def test_the_first_selection_runs_once_there_are_forecasts_and_never_again(tmp_path):
    """make run brings the UI up right after the seed; the first selection is then a run the UI
    shows, requested by a sensor, instead of minutes the user waits before the UI."""
    from risk_pipelines.defs.resources import explicit_resources
    from risk_pipelines.warehouse import Warehouse

    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    resources = explicit_resources(url, tmp_path / "landing", id_hash_key="k")
    sensor = defs.resolve_sensor_def("first_model_selection_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    def tick():
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(instance=instance, resources=resources)
            return sensor(context)

    warehouse = Warehouse(url)
    assert "no forecasts yet" in tick().skip_message
    _insert_one_row(warehouse, "metric_forecasts")
    request = tick()
    areas = POLICY_AREA_PARTITIONS.get_partition_keys()
    assert request.run_key == "first-model-selection"
    assert request.partition_key_range == dg.PartitionKeyRange(areas[0], areas[-1])
    _insert_one_row(warehouse, "forecast_model_selection")
    assert "selected before" in tick().skip_message


def _insert_one_row(warehouse, table_name: str) -> None:
    """A row whose every column holds a value of its type: what the sensor asks is whether any
    row is there, not what it says."""
    import sqlalchemy as sa

    values = {"Date": dt.date(2026, 3, 2), "DateTime": dt.datetime(2026, 3, 2), "Boolean": True}
    table = TABLES[table_name]
    row = {
        c.name: values.get(type(c.type).__name__, 1 if c.type.python_type in (int, float) else "x")
        for c in table.columns
    }
    with warehouse.engine.begin() as conn:
        conn.execute(sa.insert(table), [row])


def test_every_asset_has_a_description_group_owner_kinds_and_its_tables_column_schema():
    problems, groups = [], set()
    for spec in defs.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        groups.add(spec.group_name)
        if not spec.description or len(spec.description) < 40:
            problems.append(f"{name}: no description worth reading")
        if not spec.owners:
            problems.append(f"{name}: no owner")
        if not spec.kinds:
            problems.append(f"{name}: no kind tags")
        if name in NON_TABULAR:
            continue
        schema = spec.metadata.get("dagster/column_schema")
        if schema is None:
            problems.append(f"{name}: no dagster/column_schema")
        elif [c.name for c in schema.columns] != TABLES[TABLE_OF.get(name, name)].c.keys():
            problems.append(f"{name}: column schema differs from its warehouse table")
    assert not problems, "\n".join(problems)
    assert groups == GROUPS


def test_importing_the_code_location_does_not_import_great_expectations():
    code = "import sys, risk_pipelines.definitions; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # GX takes seconds to import: only a load pays it


def test_dagster_validates_the_workspace():
    dagster = Path(sys.executable).with_name("dagster")
    # Validation needs no instance; an inherited DAGSTER_HOME that does not exist yet would fail it.
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_dg_finds_every_definition_in_the_defs_folder():
    dg_cli = Path(sys.executable).with_name("dg")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    result = subprocess.run(
        [str(dg_cli), "check", "defs"], cwd=ROOT, capture_output=True, text=True,
        timeout=180, env=env,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_the_daily_job_runs_its_groups_and_nothing_else():
    """The daily job selects by group: ingest, metrics, forecasting and indicators, without
    the weekly selection (its own partitions) or the DSA dumps (their own sensor)."""
    job = defs.resolve_job_def("daily_risk_job")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert keys == {
        "moderation_decisions", "incidents", "daily_metrics", "metric_forecasts",
        "forecast_accuracy", "risk_indicators",
    }  # fmt: skip

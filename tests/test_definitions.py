"""The code location loads and every asset tells an engineer what it is."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from risk_pipelines.definitions import defs

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"ingest", "metrics", "forecasting", "indicators", "alerting"}


def test_definitions_load_with_jobs_schedules_and_sensors():
    assert defs.resolve_job_def("daily_risk_job")
    assert defs.resolve_schedule_def("daily_risk_schedule").default_status == (
        dg.DefaultScheduleStatus.RUNNING
    )
    assert defs.resolve_sensor_def("risk_alerts_sensor")
    weekly = defs.resolve_schedule_def("weekly_model_selection_schedule")
    assert weekly.cron_schedule == "0 4 * * 1" and weekly.execution_timezone == "UTC"
    assert defs.resolve_job_def("weekly_model_selection_job")


def test_every_asset_has_a_description_group_owner_and_kind():
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {k.to_user_string() for k in keys} >= {
        "moderation_decisions",
        "incidents",
        "daily_metrics",
        "metric_forecasts",
        "forecast_model_selection",
        "forecast_accuracy",
        "risk_indicators",
        "alerts",
    }
    seen_groups = set()
    for key in keys:
        node = graph.get(key)
        assert node.description and len(node.description) > 40, key
        assert node.owners, key
        assert any(t.startswith("dagster/kind/") for t in node.tags), key
        seen_groups.add(node.group_name)
    assert seen_groups == GROUPS


def test_the_core_never_imports_dagster():
    core = ["sources", "warehouse", "metrics", "forecasting", "indicators", "alerting"]
    package_root = ROOT / "risk_pipelines"
    modules = [p for package in core for p in (package_root / package).rglob("*.py")]
    modules += [
        package_root / name
        for name in ("pipeline.py", "forecast_stages.py", "ingestion.py", "settings.py")
    ]
    # The quality suites and their GX runner are core too; only quality/checks.py wires Dagster.
    modules += [package_root / "quality" / name for name in ("suite.py", "gx_runner.py")]
    for path in modules:
        text = path.read_text()
        assert "import dagster" not in text and "from dagster" not in text, path


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

"""Scale-out on an existing distributed executor: with RISK_EXECUTOR=celery, the weekly model
selection's policy areas, one run each, spread over Celery workers on the real Redis broker,
and the daily job's steps run as Celery tasks, with the Dagster instance and the warehouse on
the real PostgreSQL."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from risk_pipelines.defs.resources import ExecutorConfigError, executor_from_settings
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
from risk_pipelines.stages.forecasts import policy_area_of
from risk_pipelines.warehouse import Warehouse
from tests.celery_cluster import (
    celery_workers,
    deployment_environment,
    run_selection_per_area,
    seed_series,
    start_run,
    steps_by_worker,
)
from tests.conftest import throwaway_postgres_database

AREAS = ["scams_and_fraud", "self_harm", "violence", "all"]


@pytest.mark.postgres
def test_policy_area_runs_spread_over_two_celery_workers(
    postgres_server_url, redis_server_url, tmp_path, monkeypatch
):
    with (
        throwaway_postgres_database(postgres_server_url) as instance_url,
        throwaway_postgres_database(postgres_server_url) as warehouse_url,
    ):
        env = deployment_environment(
            tmp_path / "home", instance_url, warehouse_url, redis_db=11, redis_url=redis_server_url
        )
        series = seed_series(warehouse_url, dict.fromkeys(AREAS, 6), dt.date(2026, 10, 31), 200)
        with celery_workers(env, ["worker1", "worker2"], tmp_path / "logs") as workers:
            exit_codes = run_selection_per_area(env, AREAS, tmp_path / "logs")
        assert exit_codes == [0] * len(AREAS), _logs(tmp_path / "logs")

        for name in [n for n in env if n.startswith("DAGSTER_PG_")]:
            monkeypatch.setenv(name, env[name])
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            runs = instance.get_run_records()
            assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
            assert sorted(r.dagster_run.tags["dagster/partition"] for r in runs) == sorted(AREAS)
            taken = {run: worker for (run, _), worker in steps_by_worker(instance).items()}
            run_of_area = {r.dagster_run.tags["dagster/partition"]: r.dagster_run.run_id
                           for r in runs}  # fmt: skip
        # Every run's step went to a worker, and both workers took a share.
        assert set(taken) == set(run_of_area.values())
        assert set(taken.values()) == set(workers)

        # Each run selected the models of its own area's series, and only those.
        selected = Warehouse(warehouse_url).read_sql(
            "SELECT unique_id, run_id FROM forecast_model_selection"
        )
        assert len(selected) == series
        for area, run_id in run_of_area.items():
            own = selected[selected["run_id"] == run_id]["unique_id"]
            assert len(own) == 6 and {policy_area_of(uid) for uid in own} == {area}


@pytest.mark.postgres
def test_the_daily_job_runs_its_steps_across_two_celery_workers(
    postgres_server_url, redis_server_url, tmp_path, monkeypatch
):
    first, last = dt.date(2026, 6, 1), dt.date(2026, 7, 10)
    with (
        throwaway_postgres_database(postgres_server_url) as instance_url,
        throwaway_postgres_database(postgres_server_url) as warehouse_url,
    ):
        env = deployment_environment(
            tmp_path / "home", instance_url, warehouse_url, redis_db=11, redis_url=redis_server_url
        )
        generate_demo_data(DemoSpec(first, last, seed=5, scale=0.3), Path(env["RISK_LANDING_DIR"]))
        with celery_workers(env, ["worker1", "worker2"], tmp_path / "logs") as workers:
            run = start_run(env, "daily_risk_job", {
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            }, tmp_path / "logs" / "run.log")  # fmt: skip
            assert run.wait(900) == 0, _logs(tmp_path / "logs")

        for name in [n for n in env if n.startswith("DAGSTER_PG_")]:
            monkeypatch.setenv(name, env[name])
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            (record,) = instance.get_run_records()
            assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
            taken = {step: worker for (_, step), worker in steps_by_worker(instance).items()}
        # Every step of the pipeline was a Celery task; the two ingest steps, which need not
        # wait for each other, went to the two workers at once.
        assert set(taken) == {
            "moderation_decisions", "incidents", "daily_metrics", "metric_forecasts",
            "forecast_accuracy", "risk_indicators",
        }  # fmt: skip
        assert {taken["moderation_decisions"], taken["incidents"]} == set(workers)
        warehouse = Warehouse(warehouse_url)
        newest = warehouse.read_sql("SELECT MAX(as_of) AS d FROM metric_forecasts")["d"].iat[0]
        assert str(newest) == last.isoformat()
        assert warehouse.count("risk_indicators") > 0


def test_the_executor_is_the_deployments_choice(monkeypatch):
    monkeypatch.delenv("RISK_EXECUTOR", raising=False)
    assert executor_from_settings() is None  # Dagster's multiprocess default
    monkeypatch.setenv("RISK_EXECUTOR", "in_process")
    assert executor_from_settings() is dg.in_process_executor
    monkeypatch.setenv("RISK_EXECUTOR", "celery")
    monkeypatch.delenv("RISK_CELERY_BROKER", raising=False)
    monkeypatch.setenv("RISK_CELERY_BACKEND", "redis://127.0.0.1:6379/1")
    with pytest.raises(ExecutorConfigError, match="RISK_CELERY_BROKER"):
        executor_from_settings()
    monkeypatch.setenv("RISK_CELERY_BROKER", "redis://:secret@127.0.0.1:6379/0")
    assert executor_from_settings().name == "celery"
    monkeypatch.setenv("RISK_EXECUTOR", "kubernetes")
    with pytest.raises(ExecutorConfigError, match="multiprocess, in_process, celery"):
        executor_from_settings()


def _logs(folder) -> str:
    return "\n".join(f"== {p.name}\n{p.read_text()[-2500:]}" for p in sorted(folder.glob("*.log")))

"""deploy/dagster.yaml gives a Dagster instance whose runs, event log and schedules live in
PostgreSQL: a run executed on it can be read back, with its materialisations, from the server."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from risk_pipelines.defs.dsa.assets import dsa_statements
from tests.conftest import make_resources, throwaway_postgres_database
from tests.dsa_dumps import V2_SAMPLE, sample_dump

DEPLOY = Path(__file__).parents[1] / "deploy" / "dagster.yaml"


@pytest.mark.postgres
def test_the_production_instance_keeps_runs_and_materialisations_in_postgres(
    postgres_server_url, tmp_path, monkeypatch
):
    with throwaway_postgres_database(postgres_server_url) as url:
        server = sa.engine.make_url(url)
        for name, value in {
            "DAGSTER_PG_USER": server.username,
            "DAGSTER_PG_PASSWORD": server.password or "",
            "DAGSTER_PG_HOST": server.host,
            "DAGSTER_PG_PORT": str(server.port or 5432),
            "DAGSTER_PG_DB": server.database,
        }.items():
            monkeypatch.setenv(name, value)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(DEPLOY, home / "dagster.yaml")
        landing = tmp_path / "landing"
        (landing / "dsa").mkdir(parents=True)
        sample_dump(landing / "dsa", V2_SAMPLE, split=9)
        resources = make_resources(f"sqlite:///{tmp_path / 'w.sqlite'}", landing)

        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
            result = dg.materialize(
                [dsa_statements], partition_key="2025-07-01", instance=instance,
                resources=resources,
            )  # fmt: skip
            assert result.success
            run = instance.get_run_by_id(result.run_id)
            assert run.status == dg.DagsterRunStatus.SUCCESS
            (record,) = instance.fetch_materializations(
                dg.AssetKey("dsa_statements"), limit=1
            ).records
            metadata = record.asset_materialization.metadata
            assert record.run_id == result.run_id and metadata["statements"].value == 20

        engine = sa.create_engine(url)
        with engine.connect() as conn:  # the run is in the server's tables, not on disk
            stored = conn.execute(sa.text("SELECT run_id FROM runs")).scalars().all()
        engine.dispose()
        assert result.run_id in stored

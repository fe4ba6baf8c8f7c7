"""Security: analysts read and cannot write; secrets and raw user or content ids reach no run
log, no metadata and no table."""

import datetime as dt
import re
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_pipelines.alerting.evaluation.rules import parse_rules
from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_alert_config
from risk_pipelines.defs.resources import explicit_resources
from risk_pipelines.runs import materialise_range
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
from risk_pipelines.stages.alerts import evaluate_pending_days
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse.schema import TABLES
from tests.conftest import throwaway_postgres_database

ANALYST_SQL = Path(__file__).parents[1] / "deploy" / "analyst_role.sql"


@pytest.mark.postgres
def test_the_analyst_role_reads_every_table_and_view_and_writes_nothing(postgres_server_url):
    login = f"analyst_{uuid.uuid4().hex[:8]}"
    with throwaway_postgres_database(postgres_server_url) as url:
        Warehouse(url).dispose()  # tables and views, as the pipeline's own role creates them
        owner = sa.create_engine(url)
        with owner.begin() as conn:
            cursor = conn.connection.cursor()  # the file as psql would send it (no parameters)
            cursor.execute(ANALYST_SQL.read_text())
            cursor.execute(ANALYST_SQL.read_text())  # idempotent
            cursor.execute(f"CREATE ROLE {login} LOGIN IN ROLE risk_analyst")
        Warehouse(url).ensure_schema()  # a later start-up rebuilds the views: still readable
        analyst = sa.create_engine(sa.engine.make_url(url).set(username=login))
        try:
            with analyst.connect() as conn:
                for name in [*TABLES, "v_latest_forecast", "v_alert_history"]:
                    conn.exec_driver_sql(f"SELECT * FROM {name} LIMIT 1").all()
            for statement in (
                "INSERT INTO alert_silences (matcher) VALUES ('{}')",
                "DELETE FROM alerts",
                "UPDATE daily_metrics SET value = 0",
                "TRUNCATE risk_indicators",
                "CREATE TABLE mine (x int)",
                "DROP VIEW v_latest_forecast",
            ):
                with analyst.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as denied:
                    conn.exec_driver_sql(statement)
                assert "permission denied" in str(denied.value) or "must be owner" in str(
                    denied.value
                ), statement
        finally:
            analyst.dispose()
            owner.dispose()
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {login}")
    admin.dispose()


SECRETS = {
    "RISK_ALERT_WEBHOOK_SECRET": "whsec-S3CRET-7f1e2d",
    "RISK_SMTP_PASSWORD": "smtp-S3CRET-90ab",
    "RISK_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T000/B000/slack-S3CRET-token",
}
HASH_KEY = "hashkey-S3CRET-4c4d"
RAW_ID = re.compile(r"\b[uc]\d{6,}\b")  # the demo's raw user and content ids


def test_secrets_and_raw_ids_reach_no_run_log_metadata_or_table(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    first, last = dt.date(2026, 3, 1), dt.date(2026, 4, 4)
    generate_demo_data(DemoSpec(first, last, seed=5, scale=0.2), landing)
    bad_row = landing / "moderation_decisions" / str(last) / "late-fix.csv"
    header = next((landing / "moderation_decisions" / str(last)).glob("*.csv")).open().readline()
    bad_row.write_text(
        header + "md-bad-1,yesterday,,,violence,DE,video,automated,removed,fully,1,false,,"
        "u98765432,c12345678901\n"
    )  # a quarantined row carries ids too
    raw_ids = _raw_ids(landing) | {"u98765432", "c12345678901"}
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RISK_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("RISK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RISK_SMTP_PORT", "9")
    monkeypatch.setenv("RISK_LEADERSHIP_EMAILS", "head@risk.test")
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    resources = explicit_resources(url, landing, id_hash_key=HASH_KEY,
                                   data_docs_dir=tmp_path / "docs")  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        result = materialise_range(first, last, instance=instance, resources=resources)
        assert result.success
        warehouse = Warehouse(url)
        packaged = load_alert_config(PACKAGED_CONFIG_DIR)
        # A rule that fires whatever the demo's noise, on every route that leaves the machine.
        always = parse_rules({"rules": [{
            "id": "always", "type": "threshold", "match": {"metric": "decisions"},
            "threshold": 0, "severity": "critical", "renotify_days": 1,
            "routes": ["risk-slack", "leadership-email", "incident-webhook"],
        }]}, known_routes=list(packaged.routes.routes))  # fmt: skip
        report = evaluate_pending_days(warehouse, always, routes=packaged.routes)
        assert report.delivery.failed > 0  # the routes were tried (and are down)
        logs = [
            dg.serialize_value(record.event_log_entry)
            for record in instance.get_records_for_run(result.run_id, limit=100_000).records
        ]
    texts = {"run log and metadata": "\n".join(logs), "warehouse": _warehouse_text(warehouse)}
    texts["files"] = "\n".join(
        p.read_text(errors="ignore")
        for p in [*home.rglob("*"), *(tmp_path / "docs").rglob("*")]
        if p.is_file() and p.stat().st_size < 50_000_000
    )  # compute logs, data docs
    assert warehouse.count("quarantined_rows") >= 1
    for where, text in texts.items():
        for secret in [*SECRETS.values(), HASH_KEY, "slack-S3CRET"]:
            assert secret not in text, f"{secret!r} found in the {where}"
        leaked = set(RAW_ID.findall(text)) & raw_ids
        assert not leaked, f"raw ids in the {where}: {sorted(leaked)[:5]}"


def _raw_ids(landing: Path) -> set[str]:
    ids = set()
    for path in (landing / "moderation_decisions").rglob("*.csv"):
        frame = pd.read_csv(path, usecols=["user_id", "content_id"], dtype=str)
        ids |= set(frame["user_id"].dropna()) | set(frame["content_id"].dropna())
    return ids


def _warehouse_text(warehouse: Warehouse) -> str:
    parts = []
    for name in TABLES:
        frame = warehouse.read_sql(f"SELECT * FROM {name}")
        parts.append(frame.to_csv(index=False))
    return "\n".join(parts)

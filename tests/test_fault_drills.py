"""Fault drills against the real services: a write whose connection is killed leaves the
previous rows, two writers of one day take turns, a PostgreSQL restart mid-run costs a step
retry and no half-written day, and a mail server that is down gets its digest later, once."""

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_pipelines.alerting.notification.routes import load_routes
from risk_pipelines.config import PACKAGED_CONFIG_DIR
from risk_pipelines.defs.shared import retry_only_database_errors
from risk_pipelines.runs import materialise_range
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
from risk_pipelines.stages.delivery import deliver
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse.schema import alerts
from tests.conftest import make_resources, throwaway_postgres_database
from tests.receivers import free_port, http_receiver, queue_leadership_email, smtp_receiver
from tests.test_alert_lifecycle import indicator_rows

DAY = dt.date(2026, 3, 2)


def _metrics(values) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "ds": DAY, "unique_id": [f"m|own|c{i}|DE|all" for i in range(n)], "metric": "m",
            "platform": "own", "policy_category": [f"c{i}" for i in range(n)], "region": "DE",
            "surface": "all", "value": values, "numerator": None, "denominator": None,
            "source": "derived",
        }
    )  # fmt: skip


@pytest.mark.postgres
def test_a_write_whose_connection_is_killed_rolls_back_and_the_day_keeps_its_rows(
    postgres_server_url,
):
    with throwaway_postgres_database(postgres_server_url) as url:
        before = _metrics([1.0] * 1_000)
        Warehouse(url).replace_rows("daily_metrics", before, where={"ds": DAY})
        writer = Warehouse(f"{url}?application_name=drill-writer")
        failure: list[Exception] = []

        def rewrite() -> None:
            try:  # a big rewrite of the same day, killed half-way
                writer.replace_rows("daily_metrics", _metrics([2.0] * 1_000_000), where={"ds": DAY})
            except Exception as exc:  # noqa: BLE001 - the drill wants whatever the driver raises
                failure.append(exc)

        thread = threading.Thread(target=rewrite)
        thread.start()
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        killed = 0
        with admin.connect() as conn:
            deadline = time.monotonic() + 60
            while not killed and thread.is_alive() and time.monotonic() < deadline:
                killed = conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'drill-writer' AND state = 'active' "
                    "AND (query LIKE 'COPY%' OR query LIKE 'INSERT INTO%')"
                )).scalar()  # fmt: skip
                time.sleep(0.02)
        thread.join(120)
        admin.dispose()
        writer.dispose()
        assert killed == 1, "the writer finished before it could be killed: make it bigger"
        assert failure and isinstance(failure[0], sa.exc.DBAPIError)
        after = Warehouse(url).read_sql("SELECT value FROM daily_metrics")
        assert len(after) == 1_000 and (after["value"] == 1.0).all()  # nothing half-written


@pytest.mark.postgres
def test_two_runs_rewriting_one_day_at_once_take_turns_and_leave_it_whole(postgres_server_url):
    with throwaway_postgres_database(postgres_server_url) as url:
        Warehouse(url).replace_rows("daily_metrics", _metrics([0.0] * 10), where={"ds": DAY})
        start = threading.Barrier(2)
        outcomes: dict[float, object] = {}

        def rewrite(value: float) -> None:
            warehouse = Warehouse(url)
            start.wait()
            try:
                outcomes[value] = warehouse.replace_rows(
                    "daily_metrics", _metrics([value] * 200_000), where={"ds": DAY}
                )
            except Exception as exc:  # noqa: BLE001 - a failure is what the drill looks for
                outcomes[value] = exc
            finally:
                warehouse.dispose()

        threads = [threading.Thread(target=rewrite, args=(v,)) for v in (1.0, 2.0)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert outcomes == {1.0: 200_000, 2.0: 200_000}  # neither failed on the other's keys
        final = Warehouse(url).read_sql("SELECT value, COUNT(*) AS n FROM daily_metrics GROUP BY 1")
        assert len(final) == 1 and final["n"].iat[0] == 200_000  # whole, from one of them


def test_a_mail_server_that_is_down_gets_the_digest_later_exactly_once(tmp_path, monkeypatch):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    routes = load_routes(PACKAGED_CONFIG_DIR / "channels.yaml")
    now = dt.datetime(2026, 3, 3, 6, 0)
    with warehouse.engine.begin() as conn:
        alert_id = conn.execute(
            sa.insert(alerts).values(
                rule_id="report_surge", unique_id="user_reports|own|scams_and_fraud|DE|all",
                state="firing", severity="high", first_breach_ds=DAY, last_evaluated_ds=DAY,
                opened_at=now, fired_at=now, breach_count=1, clean_count=0,
                message="user_reports (scams_and_fraud, DE) tripled",
            )
        ).inserted_primary_key[0]  # fmt: skip
        queue_leadership_email(
            conn, alert_id, "firing", "user_reports (scams_and_fraud, DE) tripled", now
        )
    port = free_port()
    monkeypatch.setenv("RISK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RISK_SMTP_PORT", str(port))
    monkeypatch.setenv("RISK_LEADERSHIP_EMAILS", "head-of-risk@risk.test")

    down = deliver(warehouse, routes, now)  # nothing listens on the port yet
    assert down.failed == 1 and down.sent == 0
    with smtp_receiver(port) as smtp:
        up = deliver(warehouse, routes, now + dt.timedelta(minutes=1))
        again = deliver(warehouse, routes, now + dt.timedelta(minutes=2))
    assert up.sent == 1 and again.sent == 0 and len(smtp.messages) == 1
    trail = warehouse.read_sql("SELECT status FROM alert_notifications ORDER BY notification_id")[
        "status"
    ].tolist()
    assert trail == ["queued", "failed", "sent"]


@pytest.mark.postgres
def test_postgres_restarted_mid_write_costs_a_retry_and_the_day_ends_whole(
    postgres_server_url, tmp_path
):
    landing = tmp_path / "landing"
    small = generate_demo_data(DemoSpec(DAY, DAY, seed=3, scale=1), landing)
    with throwaway_postgres_database(postgres_server_url) as url, dg.instance_for_test() as inst:
        resources = make_resources(url, landing)
        assert materialise_range(DAY, DAY, instance=inst, resources=resources).success
        shutil.rmtree(landing)
        # A late, much bigger delivery of the same day: its COPY takes long enough to be hit.
        big = generate_demo_data(DemoSpec(DAY, DAY, seed=4, scale=100, rows_per_file=400_000),
                                 landing)  # fmt: skip
        assert big.decisions > 30 * small.decisions
        outcome: list = []
        run = threading.Thread(
            target=lambda: outcome.append(
                materialise_range(DAY, DAY, instance=inst, resources=resources)
            )
        )
        run.start()
        restarted_during = _restart_postgres_once_copying(url, "moderation_decisions", run)
        run.join(600)

        assert restarted_during, "the COPY finished before the restart: make the day bigger"
        result = outcome[0]
        assert result.success
        retried = [e.step_key for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
        assert retried == ["moderation_decisions"]
        warehouse = Warehouse(url)
        stored = warehouse.read_sql(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids FROM moderation_decisions"
        ).iloc[0]
        quarantined = warehouse.read_sql(
            "SELECT COUNT(*) AS n FROM quarantined_rows WHERE dataset = 'moderation_decisions'"
        )["n"].iat[0]
        # The whole late delivery, once: nothing left of the first, nothing half-written.
        assert stored["n"] == stored["ids"] == big.decisions - quarantined
        event = result.asset_materializations_for_node("moderation_decisions")[0]
        assert event.metadata["dagster/row_count"].value == stored["n"]


def _restart_postgres_once_copying(url: str, table: str, run: threading.Thread) -> bool:
    """Restart the server the moment a COPY into ``table`` is running; False if none ran."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            while run.is_alive():
                copying = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND datname = current_database() AND query LIKE :copy"
                    ),
                    {"copy": f'COPY "{table}" %'},
                ).scalar()
                if copying:
                    break
                time.sleep(0.02)
            else:
                return False
    finally:
        admin.dispose()
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return True


@pytest.mark.postgres
def test_the_sensor_process_killed_mid_tick_loses_no_alert_and_delivers_it_once(
    postgres_server_url, tmp_path
):
    config = tmp_path / "config"
    config.mkdir()
    (config / "channels.yaml").write_text(json.dumps({"routes": {
        "hook": {"channel": "webhook", "url_env": "TEST_HOOK_URL",
                 "secret_env": "TEST_HOOK_SECRET"}}}))  # fmt: skip
    (config / "alert_rules.yaml").write_text(json.dumps({"rules": [{
        "id": "report_surge", "type": "outside_interval", "severity": "high",
        "match": {"metric": "user_reports"}, "routes": ["hook"]}]}))  # fmt: skip
    home, cursor = tmp_path / "dagster_home", tmp_path / "sensor_cursor.json"
    home.mkdir()
    yesterday = dt.date.today() - dt.timedelta(days=1)
    with throwaway_postgres_database(postgres_server_url) as url, http_receiver() as hook:
        env = {
            **os.environ, "DAGSTER_HOME": str(home), "RISK_PIPELINES_CONFIG": str(config),
            "RISK_WAREHOUSE_URL": f"{url}?application_name=sensor-tick",
            "RISK_LANDING_DIR": str(tmp_path / "landing"), "RISK_DATA_DIR": str(tmp_path),
            "TEST_HOOK_URL": hook.url, "TEST_HOOK_SECRET": "hook-secret",
        }  # fmt: skip
        warehouse = Warehouse(url)
        warehouse.replace_rows(
            "risk_indicators", indicator_rows(yesterday, {"DE": 10.0}), where={"ds": yesterday}
        )
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.report_runless_asset_event(dg.AssetMaterialization("risk_indicators"))

        # 1. Killed inside the evaluation's transaction: the alert is written, its notification
        #    is being queued (held up by a lock the drill takes on the outbox).
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as locker:
            locker.execute(sa.text("BEGIN; LOCK TABLE alert_notifications IN EXCLUSIVE MODE"))
            tick = _sensor_tick(env, cursor)
            blocked = _wait_for(lambda: _scalar(admin,
                "SELECT query FROM pg_stat_activity WHERE application_name = 'sensor-tick' "
                "AND wait_event_type = 'Lock'"))  # fmt: skip
            assert blocked.startswith("INSERT INTO alert_notifications")
            _kill(tick)
            locker.execute(sa.text("ROLLBACK"))
        _wait_for(
            lambda: (
                not _scalar(
                    admin,  # the killed tick's session is gone, rolled back
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sensor-tick'",
                )
            )
        )
        admin.dispose()
        assert warehouse.count("alerts") == 0 and warehouse.count("alert_notifications") == 0
        assert not cursor.exists() and hook.requests == []

        # 2. Killed while its webhook request is open: queued and sent, its answer never read.
        hook.hold_next = 1
        tick = _sensor_tick(env, cursor)
        assert hook.arrived.wait(120), _output(tick)
        _kill(tick)
        hook.release.set()
        assert warehouse.count("alerts") == 1 and not cursor.exists()

        # 3. The restarted sensor, from the cursor the daemon still holds, delivers it again
        #    under the same Idempotency-Key; 4. the next tick sends nothing.
        for _ in range(2):
            finished = _sensor_tick(env, cursor)
            assert finished.wait(120) == 0, _output(finished)
        assert cursor.exists()

        keys = [request.headers["Idempotency-Key"] for request in hook.requests]
        assert len(keys) == 2 and len(set(keys)) == 1  # one message, offered twice
        assert [n["region"] for n in hook.requests[-1].json()["notifications"]] == ["DE"]
        audit = warehouse.read_sql(
            "SELECT idempotency_key, status, digest_key FROM alert_notifications "
            "ORDER BY notification_id"
        )
        assert audit["status"].tolist() == ["queued", "sent"]  # recorded sent exactly once
        assert audit["idempotency_key"].nunique() == 1  # one notification throughout
        assert audit["digest_key"].iat[-1] == keys[0]  # and the message that carried it
        assert warehouse.count("alerts") == 1


def _sensor_tick(env: dict[str, str], cursor: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sensor_tick", str(cursor)],
        env=env, cwd=Path(__file__).parents[1], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)  # no handler, no cleanup: a crash or an OOM kill
    process.wait(30)


def _output(process: subprocess.Popen) -> str:
    if process.poll() is None:
        _kill(process)
    return process.stdout.read()[-4000:]


def _scalar(engine: sa.Engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def _wait_for(probe, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError("the drill's condition never came")


def test_only_a_lost_database_is_retried_anything_else_fails_at_once():
    calls: list[str] = []

    def flaky(error: Exception):
        @dg.asset(name=f"flaky_{len(calls)}", retry_policy=dg.RetryPolicy(max_retries=2))
        @retry_only_database_errors
        def flaky_asset(context: dg.AssetExecutionContext) -> None:
            calls.append(type(error).__name__)
            if context.retry_number == 0:
                raise error

        return flaky_asset

    lost = sa.exc.OperationalError("INSERT ...", {}, Exception("server closed the connection"))
    result = dg.materialize([flaky(lost)])
    assert result.success and calls == ["OperationalError", "OperationalError"]

    calls.clear()
    result = dg.materialize([flaky(ValueError("bad column 'region' in row 7"))],
                            raise_on_error=False)  # fmt: skip
    assert not result.success and calls == ["ValueError"]  # not retried
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "ValueError: bad column 'region' in row 7" in failure.step_failure_data.error.message

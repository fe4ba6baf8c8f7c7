"""Fault drills against the real services: a write whose connection is killed leaves the
previous rows, two writers of one day take turns, a PostgreSQL restart mid-run costs a step
retry and no half-written day, and a mail server that is down gets its digest later, once."""

import datetime as dt
import os
import shutil
import subprocess
import threading
import time

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from risk_pipelines.alerting.dispatch import dispatch
from risk_pipelines.alerting.routes import load_routes
from risk_pipelines.runs import materialise_range
from risk_pipelines.settings import PACKAGED_CONFIG_DIR
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse.schema import alerts
from tests.conftest import make_resources, throwaway_postgres_database
from tests.receivers import free_port, smtp_receiver

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
        alert_store.queue_notification(
            conn, alert_id=alert_id, event="firing", route="leadership-email",
            key=f"{alert_id}:firing:leadership-email", severity="high",
            message="user_reports (scams_and_fraud, DE) tripled", owners=("risk-analysis",),
            now=now,
        )  # fmt: skip
    port = free_port()
    monkeypatch.setenv("RISK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RISK_SMTP_PORT", str(port))
    monkeypatch.setenv("RISK_LEADERSHIP_EMAILS", "head-of-risk@risk.test")

    down = dispatch(warehouse, routes, now)  # nothing listens on the port yet
    assert down.failed == 1 and down.sent == 0
    with smtp_receiver(port) as smtp:
        up = dispatch(warehouse, routes, now + dt.timedelta(minutes=1))
        again = dispatch(warehouse, routes, now + dt.timedelta(minutes=2))
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

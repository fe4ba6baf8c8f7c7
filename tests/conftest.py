"""Shared fixtures: warehouses on SQLite and on the machine's real PostgreSQL, demo landing data.

PostgreSQL comes from RISK_TEST_POSTGRES_URL (``.ci/run`` sets it). Each test session works in
its own throwaway database, dropped at the end. Without a reachable server the Postgres tests
skip locally, and fail under CI (CI=true), where a missing server is a broken set-up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from risk_pipelines.config import PACKAGED_CONFIG_DIR
from risk_pipelines.defs.resources import explicit_resources
from risk_pipelines.runs import materialise_range
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data

# The demo range used by the end-to-end tests: long enough for the three injected events.
DEMO_START = dt.date(2026, 5, 20)
DEMO_END = dt.date(2026, 8, 9)
DEMO_SCALE = 0.5


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("RISK_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("RISK_TEST_POSTGRES_URL is not set in CI: Postgres tests must run")
        pytest.skip("RISK_TEST_POSTGRES_URL not set (make test and .ci/run set it)")
    try:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {url} is not reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    return url


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """The local Redis, as the Celery broker of the scale-out test."""
    import redis

    from tests.celery_cluster import REDIS_URL

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is not reachable in CI: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    return REDIS_URL


@contextlib.contextmanager
def throwaway_postgres_database(server_url: str):
    """A fresh database on the server, dropped afterwards (open connections included)."""
    name = f"risk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from risk_pipelines.defs.resources import _WAREHOUSES

        for key in [k for k in _WAREHOUSES if name in k]:
            _WAREHOUSES.pop(key).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str):
    """A fresh database for this test session, dropped afterwards."""
    with throwaway_postgres_database(postgres_server_url) as url:
        yield url


def _reset_postgres(url: str) -> str:
    """Empty every table so each test starts from a clean warehouse."""
    from risk_pipelines.warehouse import Warehouse
    from risk_pipelines.warehouse.schema import metadata

    warehouse = Warehouse(url)
    with warehouse.engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    warehouse.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    return _reset_postgres(request.getfixturevalue("postgres_database"))


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate_demo_data(DemoSpec(DEMO_START, DEMO_END, seed=11, scale=DEMO_SCALE), out)
    return out


def make_resources(warehouse_url: str, landing_dir: Path, config_dir: Path = PACKAGED_CONFIG_DIR):
    return explicit_resources(
        warehouse_url, landing_dir, config_dir=config_dir, id_hash_key="test-key"
    )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def pipeline(request, tmp_path_factory, demo_landing):
    """The demo range materialised once per backend, in one run, on a real instance, shared by
    the end-to-end, notebook, brief and asset-metadata tests (which only read it, or write
    what a rerun would)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'warehouse.sqlite'}"
        database = None
    else:
        database = throwaway_postgres_database(request.getfixturevalue("postgres_server_url"))
        url = database.__enter__()
    resources = make_resources(url, demo_landing)
    with dg.instance_for_test() as instance:
        result = materialise_range(DEMO_START, DEMO_END, instance=instance, resources=resources)
        assert result.success
        yield {
            "url": url,
            "instance": instance,
            "resources": resources,
            "run": result,
            "landing": demo_landing,
        }
    if database is not None:
        database.__exit__(None, None, None)


ALERT_STATE_TABLES = ("alert_notifications", "alerts", "alert_evaluations")


def forget_alert_state(url: str) -> None:
    """As if the alert rules had never run on this warehouse (tests that share the demo
    warehouse and need a first evaluation)."""
    from risk_pipelines.warehouse import Warehouse

    warehouse = Warehouse(url)
    with warehouse.engine.begin() as conn:
        for table in ALERT_STATE_TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))


def unevaluated_copy(pipeline: dict, tmp_path: Path) -> dict:
    """Resources over a copy of the SQLite demo warehouse whose alerts were never evaluated:
    the alert sensor's first tick on it evaluates every day."""
    copy = tmp_path / "unevaluated.sqlite"
    source = sqlite3.connect(pipeline["url"].removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
        for table in ALERT_STATE_TABLES:
            target.execute(f"DELETE FROM {table}")
        target.commit()
    finally:
        source.close()
        target.close()
    return make_resources(f"sqlite:///{copy}", pipeline["landing"])


@pytest.fixture
def hook(monkeypatch):
    """A real local HTTP server as the alert webhook (TEST_HOOK_URL / TEST_HOOK_SECRET)."""
    from tests.receivers import http_receiver

    with http_receiver() as receiver:
        monkeypatch.setenv("TEST_HOOK_URL", receiver.url)
        monkeypatch.setenv("TEST_HOOK_SECRET", "hook-secret")
        yield receiver

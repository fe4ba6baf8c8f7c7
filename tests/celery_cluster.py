"""A production-shaped deployment on this machine, for the scale-out test and benchmark: a
Dagster instance on PostgreSQL (deploy/dagster.yaml), the warehouse on PostgreSQL, Celery
workers on the real Redis (deploy/celery.yaml), and runs started the way an operator or the
daemon's run worker starts them, each in its own process."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import redis
import sqlalchemy as sa

from risk_pipelines.domain.series import add_series_key
from risk_pipelines.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy"
REDIS_URL = os.environ.get("RISK_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def deployment_environment(
    home: Path,
    instance_url: str,
    warehouse_url: str,
    redis_db: int,
    *,
    redis_url: str = REDIS_URL,
    forecast_workers: int = 1,
) -> dict[str, str]:
    """What every process of the deployment shares: instance, warehouse, broker."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    server = sa.engine.make_url(instance_url)
    return {
        **os.environ,
        # dagster-celery starts the worker as `celery` from the PATH: this venv's.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USER": server.username or "postgres",
        "DAGSTER_PG_PASSWORD": server.password or "",
        "DAGSTER_PG_HOST": server.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(server.port or 5432),
        "DAGSTER_PG_DB": server.database or "",
        "RISK_WAREHOUSE_URL": warehouse_url,
        "RISK_LANDING_DIR": str(home / "landing"),
        "RISK_DATA_DIR": str(home / "data"),
        "RISK_EXECUTOR": "celery",
        # Broker and results in a Redis database of their own, emptied first: no task left
        # over from another run can reach these workers.
        "RISK_CELERY_BROKER": f"{redis_url}/{redis_db}",
        "RISK_CELERY_BACKEND": f"{redis_url}/{redis_db + 1}",
        "RISK_FORECAST_WORKERS": str(forecast_workers),
    }


def seed_series(warehouse_url: str, series_per_area: dict[str, int], last: dt.date, days: int):
    """Daily count series in the given policy areas, weekly seasonality and noise."""
    rng = np.random.default_rng(7)
    ds = pd.date_range(end=pd.Timestamp(last), periods=days, freq="D")
    frames = []
    for area, count in series_per_area.items():
        for i in range(count):
            level = float(np.exp(rng.normal(np.log(300), 1.0)))
            weekly = 1 + 0.3 * np.sin(2 * np.pi * (np.arange(days) + i) / 7)
            frames.append(
                pd.DataFrame(
                    {
                        "ds": ds.date,
                        "metric": "user_reports",
                        "platform": "own",
                        "policy_category": area,
                        "region": f"R{i:03d}",
                        "surface": "all",
                        "value": rng.poisson(level * weekly).astype(float),
                        "source": "landed",
                    }
                )
            )
    rows = add_series_key(pd.concat(frames, ignore_index=True))
    Warehouse(warehouse_url).append_rows("daily_metrics", rows)
    return rows["unique_id"].nunique()


@contextlib.contextmanager
def celery_workers(env: dict[str, str], names: Sequence[str], logs: Path) -> Iterator[list[str]]:
    """Solo-pool workers (one step at a time each), ready when this yields their names."""
    broker, backend = env["RISK_CELERY_BROKER"], env["RISK_CELERY_BACKEND"]
    for url in (broker, backend):
        redis.Redis.from_url(url).flushdb()
    logs.mkdir(parents=True, exist_ok=True)
    workers = []
    try:
        for name in names:
            command = [
                str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                "-y", str(DEPLOY / "celery.yaml"), "-n", name, "-l", "INFO", "--", "--pool",
                "solo", "--without-gossip", "--without-mingle",
            ]  # fmt: skip
            log = (logs / f"{name}.log").open("w")
            workers.append(
                subprocess.Popen(
                    command,
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
            # One at a time: two workers starting together on a fresh instance database both
            # create Dagster's tables, and one fails on the other's types ("type runs already
            # exists"; seen once in CI). A deployment migrates its instance before any worker.
            _wait_until_ready(logs / f"{name}.log", workers[-1])
        yield [f"{name}@{os.uname().nodename}" for name in names]
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()


def _wait_until_ready(log: Path, worker: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " ready." in log.read_text():
            return
        if worker.poll() is not None:
            raise RuntimeError(f"celery worker exited {worker.returncode}:\n{log.read_text()}")
        time.sleep(0.2)
    raise TimeoutError(f"celery worker not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def start_run(env: dict[str, str], job: str, tags: dict[str, str], log: Path) -> subprocess.Popen:
    """A run of ``job`` orchestrated by a process of its own, as the daemon's run worker does
    it: with RISK_EXECUTOR=celery it only submits the steps to the broker and follows them."""
    command = [
        str(BIN / "dagster"), "job", "execute", "-m", "risk_pipelines.definitions",
        "-j", job, "--tags", json.dumps(tags),
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def run_selection_per_area(
    env: dict[str, str], areas: Sequence[str], logs: Path, *, max_concurrent: int | None = None
) -> list[int]:
    """One weekly-selection run per policy area, started as the schedule's run requests leave
    the run queue (at most ``max_concurrent`` at once, like deploy/dagster.yaml's queue; all at
    once by default); their exit codes, in order."""
    limit = max_concurrent or len(areas)
    pending, running, codes = list(enumerate(areas)), {}, {}
    while pending or running:
        while pending and len(running) < limit:
            index, area = pending.pop(0)
            running[index] = start_run(
                env, "weekly_model_selection_job", {"dagster/partition": area},
                logs / f"run-{area}.log",
            )  # fmt: skip
        for index, run in list(running.items()):
            if run.poll() is not None:
                codes[index] = running.pop(index).returncode
        time.sleep(0.2)
    return [codes[i] for i in range(len(areas))]


def busy_seconds_by_worker(instance: dg.DagsterInstance) -> dict[str, float]:
    """How long each worker spent executing steps, from the steps' start and end events."""
    busy: dict[str, float] = {}
    for (run_id, step), worker in steps_by_worker(instance).items():
        stamps = {
            entry.dagster_event.event_type_value: entry.timestamp
            for entry in instance.all_logs(run_id)
            if entry.dagster_event is not None and entry.dagster_event.step_key == step
        }
        if "STEP_START" in stamps and "STEP_SUCCESS" in stamps:
            spent = stamps["STEP_SUCCESS"] - stamps["STEP_START"]
            busy[worker] = busy.get(worker, 0.0) + spent
    return busy


def steps_by_worker(instance: dg.DagsterInstance) -> dict[tuple[str, str], str]:
    """(run id, step key) -> the Celery worker that executed the step, from the event logs."""
    taken = {}
    for record in instance.get_run_records():
        run_id = record.dagster_run.run_id
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            data = entry.dagster_event.engine_event_data
            worker = data.metadata.get("Celery worker") if data else None
            if worker is not None:
                taken[(run_id, entry.dagster_event.step_key)] = worker.value
    return taken

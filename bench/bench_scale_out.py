"""Scale-out: the weekly model selection of N series (1,000 by default) over the 17 policy
areas, one run per area, on one Celery worker against two.

The deployment is production-shaped on this machine: the Dagster instance and the warehouse on
PostgreSQL, Celery on Redis, solo-pool workers with RISK_FORECAST_WORKERS=1 (a worker is one
process, one core), and at most four runs at once, as deploy/dagster.yaml's run queue allows.
Each series has two years of daily history, so every candidate model (seasonal naive, ETS,
Prophet) is backtested at three origins. Prints the wall time from the first run's start to the
last run's end, series per second, each worker's share of the areas and the seconds it spent
executing steps, and the ratio of one worker's time to two workers'. Goal: two workers at
least 1.6x one on this two-core machine.

    python bench/bench_scale_out.py [--series 1000] [--days 730]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dagster as dg  # noqa: E402

from risk_pipelines.defs.shared import POLICY_AREA_PARTITIONS  # noqa: E402
from risk_pipelines.warehouse import Warehouse  # noqa: E402
from tests.celery_cluster import (  # noqa: E402  (the same deployment the test uses)
    busy_seconds_by_worker,
    celery_workers,
    deployment_environment,
    run_selection_per_area,
    seed_series,
    steps_by_worker,
)
from tests.conftest import throwaway_postgres_database  # noqa: E402

SERVER = os.environ.get(
    "RISK_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
LAST_DAY = dt.date(2026, 10, 31)


def trial(workers: int, series: int, days: int, folder: Path) -> dict:
    areas = POLICY_AREA_PARTITIONS.get_partition_keys()
    per_area = {area: series // len(areas) + (i < series % len(areas))
                for i, area in enumerate(areas)}  # fmt: skip
    with (
        throwaway_postgres_database(SERVER) as instance_url,
        throwaway_postgres_database(SERVER) as warehouse_url,
    ):
        env = deployment_environment(folder / "home", instance_url, warehouse_url, redis_db=13)
        seeded = seed_series(warehouse_url, per_area, LAST_DAY, days)
        names = [f"bench{i + 1}" for i in range(workers)]
        with celery_workers(env, names, folder / "logs"):
            started = time.perf_counter()
            codes = run_selection_per_area(env, areas, folder / "logs", max_concurrent=4)
            wall = time.perf_counter() - started
        if any(codes):
            raise SystemExit(f"{codes.count(1)} run(s) failed: see {folder / 'logs'}")
        selected = Warehouse(warehouse_url).read_sql(
            "SELECT model, COUNT(*) AS n FROM forecast_model_selection GROUP BY model"
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_PG_")})
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            shares = Counter(steps_by_worker(instance).values())
            busy = busy_seconds_by_worker(instance)
    return {
        "workers": workers,
        "series": seeded,
        "wall_s": wall,
        "series_per_s": seeded / wall,
        "areas_per_worker": dict(sorted(shares.items())),
        "busy_s": {worker: round(seconds, 1) for worker, seconds in sorted(busy.items())},
        "models": dict(zip(selected["model"], selected["n"], strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()
    results = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="bench_scale_out_") as folder:
            result = trial(workers, args.series, args.days, Path(folder))
        results.append(result)
        print(
            f"{workers} worker(s): {result['series']} series, 17 area runs in "
            f"{result['wall_s']:.1f} s ({result['series_per_s']:.2f} series/s); "
            f"areas per worker {result['areas_per_worker']}; seconds each worker spent in "
            f"steps {result['busy_s']}; models {result['models']}",
            flush=True,
        )
    one, two = results
    print(f"two workers vs one: {one['wall_s'] / two['wall_s']:.2f}x faster (goal >= 1.6x)")


if __name__ == "__main__":
    main()

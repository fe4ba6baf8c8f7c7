"""Time the demo materialisation: about 200 series, two years of daily partitions, one run.

Prints seconds per stage and in total, the ratio to the goal (120 s on a 2-core machine), and,
as an in-run baseline, the forecasting stage with one worker against the configured pool.

``--instance ephemeral`` (default) measures the pipeline; ``--instance sqlite`` adds Dagster's
bookkeeping on a persistent SQLite instance as under ``make run``: Dagster records a planned and
a materialisation event per asset and partition (about 7,300 for two years), each a commit.

    python bench/bench_demo_materialisation.py [--days 730] [--scale 0.5] [--instance sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import tempfile
import time
from pathlib import Path

import dagster as dg

GOAL_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--scale", type=float, default=0.5, help="0.5 is the make-run demo")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--instance", choices=["ephemeral", "sqlite"], default="ephemeral")
    args = parser.parse_args()

    from risk_pipelines.defs.resources import explicit_resources
    from risk_pipelines.forecasting import ForecastConfig
    from risk_pipelines.runs import materialise_range
    from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
    from risk_pipelines.stages.alerts import evaluate_with_config
    from risk_pipelines.stages.forecasts import run_forecasts
    from risk_pipelines.warehouse import Warehouse

    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        landing, url = Path(tmp) / "landing", f"sqlite:///{tmp}/warehouse.sqlite"
        began = time.perf_counter()
        summary = generate_demo_data(DemoSpec(start, end, scale=args.scale), landing)
        print(
            f"demo data: {summary.days} days, {summary.decisions:,} decisions, "
            f"{summary.files:,} files in {time.perf_counter() - began:.1f}s (not timed below)"
        )

        resources = explicit_resources(
            url, landing, id_hash_key="bench", forecast_workers=args.workers
        )
        instance_context = (
            dg.instance_for_test()
            if args.instance == "sqlite"
            else contextlib.nullcontext(dg.DagsterInstance.ephemeral())
        )
        with instance_context as instance:
            began = time.perf_counter()
            result = materialise_range(start, end, instance=instance, resources=resources)
            total = time.perf_counter() - began
            steps = _step_seconds(instance, result.run_id)
        if not result.success:
            raise SystemExit("materialisation failed")
        warehouse = Warehouse(url)
        began = time.perf_counter()
        report = evaluate_with_config(warehouse, resources["pipeline_config"].config().alerts)
        alerting = time.perf_counter() - began

        series = warehouse.read_sql(
            "SELECT COUNT(DISTINCT unique_id) AS n FROM metric_forecasts WHERE as_of = :d",
            {"d": end},
        )["n"].iloc[0]
        print(
            f"\nmaterialised {args.days} partitions, {series} series forecast, in one run "
            f"({args.instance} Dagster instance)"
        )
        for step, seconds in steps.items():
            print(f"  {step:22s} {seconds:7.1f}s")
        print(
            f"  {'TOTAL (run)':22s} {total:7.1f}s   goal {GOAL_SECONDS:.0f}s   "
            f"ratio {total / GOAL_SECONDS:.2f}x of goal"
        )
        print(f"  {'alert evaluation':22s} {alerting:7.1f}s   ({report.summary()})")

        days = [end - dt.timedelta(days=i) for i in range(args.days)][::-1]
        timings = {}
        for workers in (1, args.workers):
            began = time.perf_counter()
            run_forecasts(warehouse, days, ForecastConfig(workers=workers))
            timings[workers] = time.perf_counter() - began
        print(
            f"\nbaseline, forecasting stage alone: 1 worker {timings[1]:.1f}s, "
            f"{args.workers} workers {timings[args.workers]:.1f}s, "
            f"speed-up {timings[1] / timings[args.workers]:.2f}x"
        )


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    started, seconds = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            seconds[event.step_key] = entry.timestamp - started[event.step_key]
    return seconds


if __name__ == "__main__":
    main()

"""Time a small real deployment that lands only pre-aggregated daily metrics: the real DSA
statement counts of 20 platforms plus four policy areas across them (24 series, 839 days,
2023-09-25..2026-01-10, tests/fixtures/dsa_daily/), one CSV per day, then one
`risk-pipelines run` over the whole range, as a new user would.

Prints the run's step lines (partitions, rows, seconds), the time of the whole command and its
ratio to the goal (60 s on 2 cores). The sources that are not deployed (no decisions, no
incidents) should cost next to nothing.

    python bench/bench_metrics_only.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

GOAL_SECONDS = 60.0
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "dsa_daily"
AREAS = ("scams_and_fraud", "illegal_or_harmful_speech", "violence", "protection_of_minors")


def real_series() -> pd.DataFrame:
    """Long rows (ds, metric, value, platform, policy_category, region, surface)."""
    totals = pd.read_csv(FIXTURES / "platform_totals.csv")
    platforms = totals.rename(columns={"date": "ds", "statements": "value"}).assign(
        policy_category="all"
    )
    categories = pd.read_csv(FIXTURES / "platform_category.csv.gz")
    categories["policy_category"] = (
        categories["category"].str.removeprefix("STATEMENT_CATEGORY_").str.lower()
    )
    areas = (
        categories[categories["policy_category"].isin(AREAS)]
        .groupby(["date", "policy_category"], as_index=False)["statements"]
        .sum()
        .rename(columns={"date": "ds", "statements": "value"})
        .assign(platform="all_platforms")
    )
    frame = pd.concat([platforms, areas], ignore_index=True)
    return frame.assign(metric="statements", region="all", surface="all")[
        ["ds", "metric", "value", "platform", "policy_category", "region", "surface"]
    ]


def land(frame: pd.DataFrame, landing: Path) -> int:
    for day, rows in frame.groupby("ds"):
        folder = landing / "daily_metrics" / str(day)
        folder.mkdir(parents=True, exist_ok=True)
        rows.to_csv(folder / "metrics.csv", index=False)
    return frame["ds"].nunique()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="use (and keep) this folder instead of a temp")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="metrics-only-"))
    shutil.rmtree(folder, ignore_errors=True)
    frame = real_series()
    days = land(frame, folder / "data" / "landing")
    series = frame.groupby(["platform", "policy_category"]).ngroups
    first, last = frame["ds"].min(), frame["ds"].max()
    print(f"landed {len(frame):,} rows: {series} series x {days} days ({first}..{last})")
    env = {
        **os.environ,
        "RISK_DATA_DIR": str(folder / "data"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "RISK_PARTITIONS_START": "2023-09-01",
    }
    began = time.perf_counter()
    run = subprocess.run(
        [Path(sys.executable).parent / "risk-pipelines", "run", "--start", first, "--end", last],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    print(run.stdout[-6000:])
    if run.returncode != 0:
        print(run.stderr[-3000:])
        raise SystemExit(f"risk-pipelines run exited {run.returncode}")
    print(
        f"risk-pipelines run over {days} days x {series} series: {seconds:.1f} s "
        f"(goal {GOAL_SECONDS:.0f} s: {seconds / GOAL_SECONDS:.2f}x)"
    )
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

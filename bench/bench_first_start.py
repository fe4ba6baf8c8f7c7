"""Time `make run`'s first start on an installed checkout: the demo seed (data, materialisation,
alerts, brief), then `dg dev` until the UI answers, as a new user waits for it.

Runs in a throwaway data folder and DAGSTER_HOME, so the checkout's own data/ is untouched.
Prints each stage's seconds (from the seed's own step lines), the time to the UI and its ratio
to the goal (180 s on 2 cores); with ``--selection`` it also waits for the first model selection,
which the UI runs after it is up.

    python bench/bench_first_start.py [--days 730] [--selection] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

GOAL_SECONDS = 180.0
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--selection", action="store_true", help="wait for the first selection")
    parser.add_argument("--keep", type=Path, help="use (and keep) this folder instead of a temp")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="first-start-"))
    shutil.rmtree(folder, ignore_errors=True)
    env = {
        **os.environ,
        "RISK_DATA_DIR": str(folder / "data"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",  # as the Makefile sets it
    }
    began = time.perf_counter()
    seed = subprocess.run(
        [BIN / "risk-pipelines", "seed-demo", "--days", str(args.days)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seeded = time.perf_counter() - began
    if seed.returncode != 0:
        raise SystemExit(f"seed-demo failed:\n{seed.stdout[-3000:]}\n{seed.stderr[-3000:]}")
    print(seed.stdout)
    printed = seed.stdout + seed.stderr
    print(f"{len(printed.splitlines())} lines printed, {printed.count(' DEBUG ')} of them DEBUG")

    port = _free_port()
    ui = subprocess.Popen(
        [BIN / "dg", "dev", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{port}/server_info", timeout=300)
        up = time.perf_counter() - began
        _report(seed.stdout, seeded, up)
        if args.selection:
            _wait_for_selection(Path(env["RISK_DATA_DIR"]) / "warehouse.sqlite", began)
    finally:
        ui.terminate()
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _report(out: str, seeded: float, up: float) -> None:
    demo = re.search(r"demo data to .* in ([\d.]+)s", out)
    run = re.search(r"succeeded in ([\d.]+)s for (\d+) partition", out)
    print("\nfirst start, stage by stage (seconds):")
    if demo:
        print(f"  demo landing files          {float(demo.group(1)):7.1f}")
    for line in out.splitlines():
        step = re.match(r"\s+(\w+)\s+.*\s([\d.]+)s$", line)
        if step and "partition(s)" in line:
            print(f"    {step.group(1):26s}{float(step.group(2)):7.1f}")
    if run:
        print(f"  materialisation ({run.group(2)} days)   {float(run.group(1)):7.1f}")
    print(f"  seed-demo in all            {seeded:7.1f}  (alerts and the brief included)")
    print(f"  dg dev until the UI answers {up - seeded:7.1f}")
    ratio = up / GOAL_SECONDS
    print(f"  make run to UI              {up:7.1f}  goal {GOAL_SECONDS:.0f} s: {ratio:.2f}x")


def _wait_for(url: str, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def _wait_for_selection(warehouse: Path, began: float) -> None:
    import sqlite3

    deadline = time.perf_counter() + 1800
    while time.perf_counter() < deadline:
        with sqlite3.connect(warehouse) as conn:
            (n,) = conn.execute("SELECT COUNT(*) FROM forecast_model_selection").fetchone()
        if n:
            print(f"  first model selection done  {time.perf_counter() - began:7.1f}  ({n} series)")
            return
        time.sleep(5)
    raise SystemExit("the first model selection did not finish within 30 minutes")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()

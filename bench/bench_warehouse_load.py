"""Loading a partition of 1 M moderation decisions into PostgreSQL: COPY against multi-row
INSERTs (psycopg2's execute_values, the path before COPY), in the same process, each replacing
the same day inside one transaction with its delete.

    python bench/bench_warehouse_load.py [--rows 1000000] [--url postgresql+psycopg2://...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from risk_pipelines.domain.taxonomy import ACTIONS, DETECTION_SOURCES, POLICY_CATEGORIES  # noqa: E402
from risk_pipelines.warehouse import Warehouse  # noqa: E402

DAY = dt.date(2026, 3, 2)


def decisions(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    decided = pd.Timestamp(DAY) + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")
    return pd.DataFrame(
        {
            "ds": DAY,
            "event_id": [f"ev-{i:09d}" for i in range(n)],
            "decided_at": decided,
            "reported_at": decided - pd.to_timedelta(rng.integers(60, 86_400, n), unit="s"),
            "content_created_at": pd.NaT,
            "policy_category": rng.choice(POLICY_CATEGORIES, n),
            "region": rng.choice(["DE", "FR", "IT"], n),
            "surface": rng.choice(["video", "comment", "live"], n),
            "detection_source": rng.choice(DETECTION_SOURCES, n),
            "action": rng.choice(ACTIONS, n),
            "automated_decision": rng.choice(["fully", "partially", "none"], n),
            "views_before_action": pd.array(
                np.where(rng.random(n) < 0.1, None, rng.integers(0, 10_000, n)), dtype="Int64"
            ),
            "appealed": rng.random(n) < 0.05,
            "appeal_outcome": None,
            "platform": "own",
            "user_id_hash": [f"{v:016x}" for v in rng.integers(0, 2**62, n)],
            "content_id_hash": [f"{v:016x}" for v in rng.integers(0, 2**62, n)],
            "source_file": f"moderation_decisions/{DAY}/part-0.csv",
            "source_row": np.arange(1, n + 1),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--url",
        default=os.environ.get("RISK_TEST_POSTGRES_URL")
        or "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    frame = decisions(args.rows)
    name = f"risk_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        warehouse = Warehouse(url)
        timings = {}
        for label, copy_min_rows in (("multi-row INSERT (execute_values)", 10**12),
                                     ("COPY", 0), ("multi-row INSERT, again", 10**12),
                                     ("COPY, again", 0)):  # fmt: skip
            warehouse.copy_min_rows = copy_min_rows
            started = time.perf_counter()
            written = warehouse.replace_rows("moderation_decisions", frame, where={"ds": DAY})
            timings[label] = time.perf_counter() - started
            assert written == warehouse.count("moderation_decisions") == args.rows
            rate = args.rows / timings[label]
            print(f"{label:36s} {timings[label]:7.1f}s  {rate:>10,.0f} rows/s", flush=True)
        warehouse.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    insert = min(timings["multi-row INSERT (execute_values)"], timings["multi-row INSERT, again"])
    copy = min(timings["COPY"], timings["COPY, again"])
    print(f"\n{args.rows:,} decisions, delete + load in one transaction (best of two): "
          f"INSERT {insert:.1f}s, COPY {copy:.1f}s: {insert / copy:.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

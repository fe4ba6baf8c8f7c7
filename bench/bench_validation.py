"""What Great Expectations validation adds to ingesting a 1M-row partition.

Writes one day of moderation decisions (default 1,000,000 rows, realistic value mixes) as a
landing CSV, then, each in a fresh process so peak memory is its own:

- read:      read + parse + normalise the partition (the baseline: ingest without validation)
- validate:  the same read, then the moderation_decisions suite (rows and partition profile),
             in chunks of the suite's chunk_rows (1,000,000)
- chunked:   the same in chunks of 250,000 rows (bounding GX's memory on larger days)

It prints seconds and peak RSS for each, and the ratio of validation time to read time
(goal: at most 0.5, i.e. validation adds at most 50 % to ingest). GX's import (seconds, paid
once per process) is reported apart and not counted.

    python bench/bench_validation.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

DAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 3, 12, 0)


def write_partition(landing: Path, rows: int, seed: int = 7) -> Path:
    from risk_pipelines.domain.taxonomy import ACTIONS, DETECTION_SOURCES, POLICY_CATEGORIES

    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 86_400, rows)
    decided = pd.Timestamp(DAY) + pd.to_timedelta(seconds, unit="s")
    reported = decided - pd.to_timedelta(rng.integers(60, 86_400, rows), unit="s")
    appealed = rng.random(rows) < 0.05
    frame = pd.DataFrame(
        {
            "event_id": [f"ev-{i:09d}" for i in range(rows)],
            "decided_at": decided.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reported_at": np.where(
                rng.random(rows) < 0.4, reported.strftime("%Y-%m-%dT%H:%M:%SZ"), ""
            ),
            "policy_category": rng.choice(POLICY_CATEGORIES, rows),
            "region": rng.choice(["DE", "FR", "PL", "IT", "ES", "NL", "SE", "IE"], rows),
            "surface": rng.choice(["video", "live", "comment", "account"], rows),
            "detection_source": rng.choice(DETECTION_SOURCES, rows),
            "action": rng.choice(ACTIONS, rows),
            "automated_decision": rng.choice(["fully", "partially", "none"], rows),
            "views_before_action": rng.poisson(40, rows),
            "appealed": np.where(appealed, "true", "false"),
            "appeal_outcome": np.where(appealed, rng.choice(["upheld", "overturned"], rows), ""),
            "user_id": [f"u{i % 50_000}" for i in range(rows)],
        }
    )
    folder = landing / "moderation_decisions" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.csv"
    frame.to_csv(path, index=False)
    return path


def run_stage(stage: str, landing: Path) -> dict:
    from risk_pipelines.sources import landing as landing_reader

    result: dict = {"stage": stage}
    if stage != "read":
        start = time.perf_counter()
        from risk_pipelines.quality import gx_runner

        gx_runner._gx()
        result["gx_import_s"] = time.perf_counter() - start
    start = time.perf_counter()
    batch = landing_reader.read_moderation_decisions(
        landing, [DAY], platform="own", hash_key="bench"
    )
    result["read_s"] = time.perf_counter() - start
    result["rows"] = batch.rows_read
    if stage != "read":
        from risk_pipelines.quality.gx_runner import validate_batch
        from risk_pipelines.quality.suite import load_suite

        suite = load_suite("moderation_decisions")
        if stage == "chunked":
            suite = replace(suite, settings=replace(suite.settings, chunk_rows=250_000))
        start = time.perf_counter()
        verdict = validate_batch(batch, suite, pd.DataFrame(), now=NOW)
        result["validate_s"] = time.perf_counter() - start
        result["blocked"] = len(verdict.blocked)
        result["quarantined"] = verdict.quarantined_by_validation
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stage", choices=["read", "validate", "chunked"])
    parser.add_argument("--landing", type=Path)
    args = parser.parse_args()
    if args.stage:  # a child process: one stage, figures as JSON on stdout
        print(json.dumps(run_stage(args.stage, args.landing)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp)
        path = write_partition(landing, args.rows)
        print(f"partition: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB CSV")
        figures = {}
        for stage in ("read", "validate", "chunked"):
            output = subprocess.run(
                [sys.executable, __file__, "--stage", stage, "--landing", str(landing)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures[stage] = json.loads(output.strip().splitlines()[-1])
    read, whole, chunked = figures["read"], figures["validate"], figures["chunked"]
    print(
        f"read + parse (baseline):   {read['read_s']:6.2f} s   peak {read['peak_rss_mb']:,.0f} MB"
    )
    for label, f in (("validate, one chunk:", whole), ("validate, 250k chunks:", chunked)):
        print(
            f"{label:26} {f['validate_s']:6.2f} s   peak {f['peak_rss_mb']:,.0f} MB   "
            f"(read {f['read_s']:.2f} s, GX import {f['gx_import_s']:.1f} s apart, "
            f"blocked days {f['blocked']}, quarantined {f['quarantined']})"
        )
    ratio = whole["validate_s"] / whole["read_s"]
    print(
        f"validation / read = {ratio:.2f} (goal <= 0.50: "
        f"{'met' if ratio <= 0.5 else 'NOT met'}); ingest with validation = "
        f"{1 + ratio:.2f}x ingest without"
    )


if __name__ == "__main__":
    main()

"""DSA dump ingest against a bare pyarrow CSV read of the same parts.

Generates a day's dump in the official shape (a zip of zips of CSV parts, each with its header)
with ``--rows`` statements (default 10 M) shaped like the real sample rows: the 2025-07-01
sample's rows, with fresh uuids, platforms, categories, notice types, content types and scopes
drawn per row, and one statement in a thousand repeated on the next line as the real dumps do.
Then, each in its own process so peak memory is its own:

- bare: every part streamed through ``pyarrow.csv.open_csv`` and counted, nothing else;
- ours: ``read_dump`` (mapping, de-duplication, aggregate counts for every platform, canonical
  rows for one followed platform).

Prints rows per second, wall time and peak RSS of each and the ratio. Goals: ours at most 2x
the bare read's time, and peak RSS under 1.5 GB whatever the dump's size.

    python bench/bench_dsa_ingest.py [--rows 10000000] [--parts 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dsa_dumps import V2_SAMPLE, sample_rows  # noqa: E402

DAY = "2025-07-01"
GOAL_RATIO, GOAL_RSS_MB = 2.0, 1500
VARIANTS = 4096  # distinct row shapes the generator draws from
FOLLOWED = "Kleinanzeigen"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="folder to keep the generated dump in")
    parser.add_argument("--child", choices=["bare", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args.dump)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-dsa-"))
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / f"sor-global-{DAY}-full.zip"
    if not dump.exists():
        started = time.perf_counter()
        duplicates = generate(dump, args.rows, args.parts)
        size_gb, took = dump.stat().st_size / 1e9, time.perf_counter() - started
        print(f"generated {args.rows:,} rows ({duplicates:,} repeated) in {args.parts} parts: "
              f"{size_gb:.2f} GB zipped, {took:.0f}s")  # fmt: skip
    results = {name: _run_child(name, dump) for name in ("bare", "ours")}
    bare, ours = results["bare"], results["ours"]
    print(f"\n{'':6} {'rows':>12} {'seconds':>8} {'rows/s':>12} {'peak RSS':>10}")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(f"{name:6} {r['rows']:>12,} {r['seconds']:>8.1f} {rate:>12,.0f} "
              f"{r['rss_mb']:>7,.0f} MB")  # fmt: skip
    ratio, rss = ours["seconds"] / bare["seconds"], ours["rss_mb"]
    print(f"\nours / bare time: {ratio:.2f}x (goal <= {GOAL_RATIO:.0f}x: "
          f"{'met' if ratio <= GOAL_RATIO else 'missed'}); peak RSS {rss:,.0f} MB "
          f"(goal < {GOAL_RSS_MB} MB: {'met' if rss < GOAL_RSS_MB else 'missed'})")  # fmt: skip
    print(f"ours: {ours['statements']:,} statements counted, {ours['duplicates']:,} duplicates "
          f"dropped, {ours['rejected']:,} rejected, {ours['followed_rows']:,} rows kept for "
          f"{FOLLOWED}, {ours['groups']:,} groups; balanced {ours['balanced']}")  # fmt: skip
    return 0


def generate(path: Path, rows: int, parts: int, seed: int = 5) -> int:
    """Write the dump; returns how many statements were repeated on the next line."""
    header, samples = sample_rows(V2_SAMPLE)
    rng = np.random.default_rng(seed)
    suffixes = _row_shapes(header, samples, rng)
    per_part, duplicates, serial = -(-rows // parts), 0, 0
    stem = f"sor-global-{DAY}-full"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as outer:
        for p in range(parts):
            count = min(per_part, rows - p * per_part)
            with tempfile.TemporaryFile() as inner_file:
                with zipfile.ZipFile(inner_file, "w", zipfile.ZIP_DEFLATED, compresslevel=1,
                                     allowZip64=True) as inner:  # fmt: skip
                    name = f"{stem}-{p:05d}-00000.csv"
                    with inner.open(name, "w", force_zip64=True) as out:
                        out.write((",".join(header) + "\n").encode())
                        written = 0
                        while written < count:
                            n = min(200_000, count - written)
                            shapes = rng.integers(len(suffixes), size=n)
                            lines, last = [], None
                            for i, shape in enumerate(shapes.tolist()):
                                if last is not None and (serial + i) % 1000 == 999:
                                    lines.append(last)  # the same statement again
                                    duplicates += 1
                                    continue
                                uid = f"{serial + i:08x}-0000-4000-8000-{serial + i:012x}"
                                last = uid + suffixes[shape]
                                lines.append(last)
                            out.write("".join(lines).encode())
                            serial += n
                            written += n
                inner_file.seek(0)
                with outer.open(f"{stem}-{p:05d}.csv.zip", "w", force_zip64=True) as dest:
                    while chunk := inner_file.read(16 << 20):
                        dest.write(chunk)
    return duplicates


def _row_shapes(header: list[str], samples: list[dict], rng) -> list[str]:
    """Sample rows re-rendered with other platforms, categories, notices, content types and
    scopes; each is the CSV line after its uuid field."""
    enums = _enums()
    platforms = [FOLLOWED, "Wallapop", "Hotel Hideaway", *[f"Platform {i:02d}" for i in range(40)]]
    scopes = [json.dumps(["DE"]), json.dumps(["FR", "IT"]), samples[0]["territorial_scope"]]
    shapes = []
    for i in range(VARIANTS):
        row = dict(samples[i % len(samples)])
        row["platform_name"] = platforms[int(rng.integers(len(platforms)))]
        row["category"] = rng.choice(enums["category"])
        row["source_type"] = rng.choice(enums["source_type"])
        row["automated_detection"] = rng.choice(["Yes", "No"])
        row["automated_decision"] = rng.choice(enums["automated_decision"])
        row["content_type"] = json.dumps([str(rng.choice(enums["content_type"]))])
        row["territorial_scope"] = scopes[int(rng.integers(len(scopes)))]
        row["platform_uid"] = f"{int(rng.integers(10**11)):011d}"
        out = io.StringIO()
        csv.DictWriter(out, fieldnames=header, lineterminator="\n").writerow(row)
        line = out.getvalue()
        shapes.append(line[line.index(",") :])  # everything after the uuid
    return shapes


def _enums() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    with (V2_SAMPLE.parent / "dsa_sor_enum_values.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["taxonomy"] != "v1_until_2025-06-30":
                values.setdefault(row["field"], []).append(row["csv_value"])
    return values


def _run_child(name: str, dump: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--dump", str(dump)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss of children is the largest child so far: run the smaller (bare) one first.
    return {**result, "seconds": seconds, "rss_mb": max(peak, before) / 1024}


def _child(name: str, dump: Path) -> int:
    if name == "bare":
        import pyarrow.csv as pacsv

        from risk_pipelines.sources.dsa_dump import iter_parts

        rows = 0
        for _, stream in iter_parts(dump):
            # pyarrow's own defaults, but for quoted newlines, which the dumps' text holds.
            reader = pacsv.open_csv(
                stream, parse_options=pacsv.ParseOptions(newlines_in_values=True)
            )
            rows += sum(len(batch) for batch in reader)
        print(json.dumps({"rows": rows}))
        return 0
    from risk_pipelines.sources.dsa import read_dump

    day = read_dump(dump, hash_key="bench", follow=frozenset({FOLLOWED}))
    print(json.dumps({
        "rows": day.rows_read, "statements": day.statements,
        "duplicates": day.duplicates_dropped, "rejected": day.rows_rejected,
        "followed_rows": len(day.rows), "groups": len(day.aggregates), "balanced": day.balanced(),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

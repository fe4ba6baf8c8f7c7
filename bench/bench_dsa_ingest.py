"""DSA dump ingest against a bare pyarrow CSV read of the same parts.

Generates a day's dump in the official shape (a zip of zips of CSV parts, each with its header)
with ``--rows`` statements (default 10 M) in the real mix of 2025-10-01 (the fixtures'
platform volumes, each platform's categories, notice types, automated detection and decision
and decision grounds: AliExpress alone is 79 %), rendered from the real sample rows, with the
real dumps' quirks: a statement in a thousand repeated on the next line and one in five thousand
in the next part, platform_uids with leading zeros, non-ASCII text, a mostly empty column
(``content_id_ean``) filled only near the end of the last part, a platform still on a v1
category (counted with a warning) and one row in 100,000 with an unknown category (rejected).
Then, each in its own process so peak memory is its own:

- bare: every part streamed through ``pyarrow.csv.open_csv`` and counted, every column read as
  text (type inference fails on the late-filled column, as it would on the real dumps);
- ours: ``read_dump`` (mapping, day-wide de-duplication, counts for every platform, per-country
  counts, delay histograms, and the canonical rows of the largest platform, followed, spilled
  to disk as they are read).

Prints rows per second, wall time and peak RSS of each and the ratio. Goals (issue 19): ours at
most 1.5x the bare read's time, and peak RSS at most 1.5 GB whatever the dump's size and the
followed platform's volume.

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

DAY = "2025-10-01"
GOAL_RATIO, GOAL_RSS_MB = 1.5, 1500
VARIANTS = 4096  # distinct row shapes the generator draws from
MIX = ROOT / "tests" / "fixtures" / "dsa_daily"
FOLLOWED = "AliExpress"  # the largest platform of the day's mix
CROSS_PART_EVERY = 5000  # one statement in this many is repeated in the next part
UNKNOWN_EVERY = 100_000  # one row in this many has a category in neither taxonomy
MIXED_FIELDS = ("source_type", "automated_detection", "automated_decision", "decision_ground")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--parts", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="folder to keep the generated dump in")
    parser.add_argument(
        "--follow",
        default=FOLLOWED,
        help=f"platform followed row by row (default {FOLLOWED}; 'none')",
    )
    parser.add_argument("--child", choices=["bare", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args.dump, args.follow)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-dsa-"))
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / f"sor-global-{DAY}-full.zip"
    if not dump.exists():
        started = time.perf_counter()
        duplicates = generate(dump, args.rows, args.parts)
        size_gb, took = dump.stat().st_size / 1e9, time.perf_counter() - started
        print(f"generated {args.rows:,} rows ({duplicates:,} repeated) in {args.parts} parts: "
              f"{size_gb:.2f} GB zipped, {took:.0f}s")  # fmt: skip
    results = {name: _run_child(name, dump, args.follow) for name in ("bare", "ours")}
    bare, ours = results["bare"], results["ours"]
    print(f"\n{'':6} {'rows':>12} {'seconds':>8} {'rows/s':>12} {'peak RSS':>10}")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(f"{name:6} {r['rows']:>12,} {r['seconds']:>8.1f} {rate:>12,.0f} "
              f"{r['rss_mb']:>7,.0f} MB")  # fmt: skip
    ratio, rss = ours["seconds"] / bare["seconds"], ours["rss_mb"]
    print(f"\nours / bare time: {ratio:.2f}x (goal <= {GOAL_RATIO}x: "
          f"{'met' if ratio <= GOAL_RATIO else 'missed'}); peak RSS {rss:,.0f} MB "
          f"(goal <= {GOAL_RSS_MB} MB: {'met' if rss <= GOAL_RSS_MB else 'missed'})")  # fmt: skip
    print(f"ours: {ours['statements']:,} statements counted, {ours['duplicates']:,} duplicates "
          f"dropped, {ours['rejected']:,} rejected, {ours['warned']:,} counted with a taxonomy "
          f"warning, {ours['followed_rows']:,} rows of {args.follow} spilled, {ours['groups']:,} "
          f"count groups, {ours['countries']:,} platform-country rows; balanced "
          f"{ours['balanced']}")  # fmt: skip
    return 0


def generate(path: Path, rows: int, parts: int, seed: int = 5) -> int:
    """Write the dump; returns how many statements were repeated (next line or next part)."""
    header, samples = sample_rows(V2_SAMPLE)
    rng = np.random.default_rng(seed)
    mix = _real_mix()
    suffixes = _row_shapes(header, samples, mix, rng)
    late = _row_shapes(header, samples, mix, rng, ean=True)  # content_id_ean filled
    per_part, duplicates, serial = -(-rows // parts), 0, 0
    carried: list[str] = []  # statements of the previous part, repeated in this one
    stem = f"sor-global-{DAY}-full"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as outer:
        for p in range(parts):
            count = min(per_part, rows - p * per_part)
            carry_next: list[str] = []
            with tempfile.TemporaryFile() as inner_file:
                with zipfile.ZipFile(inner_file, "w", zipfile.ZIP_DEFLATED, compresslevel=1,
                                     allowZip64=True) as inner:  # fmt: skip
                    name = f"{stem}-{p:05d}-00000.csv"
                    with inner.open(name, "w", force_zip64=True) as out:
                        out.write((",".join(header) + "\n").encode())
                        written = 0
                        while written < count:
                            n = min(200_000, count - written)
                            near_end = p == parts - 1 and written + n >= count
                            shapes = rng.integers(len(suffixes), size=n).tolist()
                            lines, last = list(carried), None
                            duplicates += len(carried)
                            carried = []
                            for i, shape in enumerate(shapes):
                                k = serial + i
                                if last is not None and k % 1000 == 999:
                                    lines.append(last)  # the same statement again
                                    duplicates += 1
                                    continue
                                rendered = (late if near_end else suffixes)[shape]
                                if k % UNKNOWN_EVERY == 500:
                                    rendered = _unknown_category(rendered)
                                last = f"{k:08x}-0000-4000-8000-{k:012x}" + rendered
                                lines.append(last)
                                if k % CROSS_PART_EVERY == 7:
                                    carry_next.append(last)
                            out.write("".join(lines).encode())
                            serial += n
                            written += n
                carried = carry_next
                inner_file.seek(0)
                with outer.open(f"{stem}-{p:05d}.csv.zip", "w", force_zip64=True) as dest:
                    while chunk := inner_file.read(16 << 20):
                        dest.write(chunk)
    return duplicates


def _unknown_category(rendered: str) -> str:
    return rendered.replace("STATEMENT_CATEGORY_", "STATEMENT_CATEGORY_MADE_UP_", 1)


def _row_shapes(header, samples, mix, rng, ean: bool = False) -> list[str]:
    """Sample rows re-rendered in the day's real mix; each is the CSV line after its uuid."""
    platforms = list(mix)
    weights = np.array([mix[p]["statements"] for p in platforms], dtype=float)
    scopes = [json.dumps(["DE"]), json.dumps(["FR", "IT"]), samples[0]["territorial_scope"],
              samples[1]["territorial_scope"]]  # fmt: skip
    shapes = []
    for i in range(VARIANTS):
        row = dict(samples[i % len(samples)])
        platform = platforms[int(rng.choice(len(platforms), p=weights / weights.sum()))]
        row["platform_name"] = platform
        for field in ("category", *MIXED_FIELDS):
            values, counts = mix[platform][field]
            row[field] = values[int(rng.choice(len(values), p=counts / counts.sum()))]
        if i % 97 == 0:  # a platform still on the v1 taxonomy now and then
            row["category"] = "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"
        row["territorial_scope"] = scopes[int(rng.integers(len(scopes)))]
        row["platform_uid"] = f"{int(rng.integers(10**11)):011d}"  # leading zeros kept
        row["decision_facts"] = (row.get("decision_facts") or "") + " Größe — über ✓"
        row["content_id_ean"] = f"{int(rng.integers(10**12)):013d}" if ean else ""
        out = io.StringIO()
        csv.DictWriter(out, fieldnames=header, lineterminator="\n").writerow(row)
        line = out.getvalue()
        shapes.append(line[line.index(",") :])  # everything after the uuid
    return shapes


def _real_mix() -> dict[str, dict]:
    """Per platform of the day: its statements and, per field, the values and their counts."""
    import pandas as pd

    totals = pd.read_csv(MIX / "platform_totals.csv")
    totals = totals[totals["date"] == DAY].set_index("platform")["statements"]
    categories = pd.read_csv(MIX / "platform_category.csv.gz")
    categories = categories[categories["date"] == DAY]
    attributes = pd.read_csv(MIX / "platform_decision_attributes.csv.gz")
    attributes = attributes[(attributes["date"] == DAY) & (attributes["value"] != "<null>")]
    mix = {}
    for platform, statements in totals.items():
        own = categories[categories["platform"] == platform]
        shares = {
            "statements": statements,
            "category": (own["category"].tolist(), own["statements"].to_numpy(float)),
        }
        for field, group in attributes[attributes["platform"] == platform].groupby("attribute"):
            shares[field] = (group["value"].tolist(), group["count"].to_numpy(float))
        if len(own) and all(field in shares for field in MIXED_FIELDS):
            mix[platform] = shares
    return mix


def _run_child(name: str, dump: Path, follow: str) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--dump", str(dump), "--follow", follow],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss of children is the largest child so far: run the smaller (bare) one first.
    return {**result, "seconds": seconds, "rss_mb": max(peak, before) / 1024}


def _child(name: str, dump: Path, follow: str) -> int:
    if name == "bare":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        from risk_pipelines.sources.dsa_dump import iter_parts

        rows = 0
        for _, stream in iter_parts(dump):
            # pyarrow's own defaults, but for quoted newlines, which the dumps' text holds, and
            # every column as text: inferring types fails on a column filled late in a part.
            names = next(csv.reader([stream.readline().decode("utf-8-sig").rstrip("\r\n")]))
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=names),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string())
                ),
            )
            rows += sum(len(batch) for batch in reader)
        print(json.dumps({"rows": rows}))
        return 0
    from risk_pipelines.sources.dsa import read_dump

    followed = frozenset() if follow == "none" else frozenset({follow})
    day = read_dump(dump, hash_key="bench", follow=followed)
    print(json.dumps({
        "rows": day.rows_read, "statements": day.statements,
        "duplicates": day.duplicates_dropped, "rejected": day.rows_rejected,
        "warned": sum(w.count for w in day.warnings.values()),
        "followed_rows": len(day.followed), "groups": len(day.aggregates),
        "countries": len(day.countries), "balanced": day.balanced(),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

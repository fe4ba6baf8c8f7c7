"""Build DSA dumps in the official shape (a zip of zips of CSV parts, each with its header)
from the real sample rows, for the reader's tests and benchmark."""

import csv
import io
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "dsa_sor"
V1_SAMPLE = FIXTURES / "sor-global-2024-03-14-full-sample.csv"
V2_SAMPLE = FIXTURES / "sor-global-2025-07-01-full-sample.csv"


def sample_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def csv_text(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_dump(path: Path, parts: dict[str, dict[str, bytes]]) -> Path:
    """``parts``: inner zip name -> {csv part name -> CSV bytes}. The outer zip stores the inner
    ones as they are (they are compressed already), as the official dumps do."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as outer:
        for inner_name, csvs in parts.items():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as inner:
                for name, content in csvs.items():
                    inner.writestr(name, content)
            outer.writestr(inner_name, buffer.getvalue())
    return path


def sample_dump(folder: Path, sample: Path, *, split: int, variant: str = "full") -> Path:
    """The sample's rows as a two-part dump of its day (rows [:split] and [split:])."""
    header, rows = sample_rows(sample)
    day = sample.name.removeprefix("sor-global-")[:10]
    if variant == "light":
        dropped = {"illegal_content_explanation", "incompatible_content_explanation",
                   "territorial_scope", "decision_facts"}  # fmt: skip
        header = [c for c in header if c not in dropped]
    stem = f"sor-global-{day}-{variant}"
    return write_dump(
        folder / f"{stem}.zip",
        {
            f"{stem}-00000.csv.zip": {f"{stem}-00000-00000.csv": csv_text(header, rows[:split])},
            f"{stem}-00001.csv.zip": {f"{stem}-00001-00000.csv": csv_text(header, rows[split:])},
        },
    )


def synthetic_dump(folder: Path, day: str, statements: int, seed: int) -> Path:
    """A day of ``statements`` rows made from the real v2 sample rows, with fresh uuids and the
    platform and category drawn per row (for multi-day flows through the pipeline)."""
    import random

    header, samples = sample_rows(V2_SAMPLE)
    rng = random.Random(seed)
    platforms = ["Kleinanzeigen", "Wallapop", "Hotel Hideaway"]
    categories = [
        f"STATEMENT_CATEGORY_{c}"
        for c in ("SCAMS_AND_FRAUD", "ILLEGAL_OR_HARMFUL_SPEECH", "PROTECTION_OF_MINORS")
    ]
    rows = []
    for i in range(statements):
        row = dict(rng.choice(samples))
        row["uuid"] = f"{seed:08x}-0000-4000-8000-{i:012x}"
        row["platform_name"] = rng.choice(platforms)
        row["category"] = rng.choice(categories)
        row["application_date"] = row["created_at"] = f"{day} 12:00:00"
        rows.append(row)
    stem = f"sor-global-{day}-full"
    return write_dump(
        folder / f"{stem}.zip",
        {f"{stem}-00000.csv.zip": {f"{stem}-00000-00000.csv": csv_text(header, rows)}},
    )

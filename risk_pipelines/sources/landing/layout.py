"""Where landing files live: ``<landing>/<dataset>/<YYYY-MM-DD>/*.csv|*.parquet``, which
sources a deployment feeds, and the fingerprint of a day's files for the landing sensor."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

from risk_pipelines.sources.files import LandingError

DATASETS = ("moderation_decisions", "incidents", "daily_metrics")
SUFFIXES = (".csv", ".parquet")


def dataset_deployed(landing_dir: Path, dataset: str) -> bool:
    """A deployment may feed only some sources; a source without a folder is not deployed."""
    return (Path(landing_dir) / dataset).is_dir()


def partition_files(landing_dir: Path, dataset: str, day: dt.date) -> list[Path]:
    folder = Path(landing_dir) / dataset / day.isoformat()
    if not folder.is_dir():
        raise LandingError(f"{dataset}: no landing folder for {day} (expected {folder})")
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        raise LandingError(f"{dataset}: {folder} holds no .csv or .parquet file")
    return files


def relative_path(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def landed_fingerprints(landing_dir: Path, days: Sequence[dt.date]) -> dict[str, str]:
    """Per day with any landed file: a fingerprint of its files (names, sizes, times), which
    changes when a file lands, is replaced or is removed."""
    out = {}
    for day in days:
        folders = [Path(landing_dir) / dataset / day.isoformat() for dataset in DATASETS]
        files = [
            path
            for folder in folders
            if folder.is_dir()
            for path in folder.iterdir()
            if path.suffix in SUFFIXES and path.is_file()
        ]
        if files:
            parts = sorted(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
            out[day.isoformat()] = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return out

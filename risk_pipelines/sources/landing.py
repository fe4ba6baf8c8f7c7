"""Landing-folder readers: ``<landing>/<dataset>/<YYYY-MM-DD>/*.csv|*.parquet``.

Each reader returns the canonical rows plus the rows it could not parse, each naming file, row
and column, so nothing is dropped silently. A problem with a whole file (unreadable, a missing
required column, a missing day) raises ``LandingError`` with the file in its message.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from risk_pipelines.metrics.series import add_series_key
from risk_pipelines.sources.hashing import hash_column
from risk_pipelines.taxonomy import ALL

DATASETS = ("moderation_decisions", "incidents", "daily_metrics")
SUFFIXES = (".csv", ".parquet")

DECISION_REQUIRED = (
    "event_id",
    "decided_at",
    "policy_category",
    "region",
    "surface",
    "detection_source",
    "action",
    "automated_decision",
    "appealed",
)
DECISION_OPTIONAL = (
    "reported_at",
    "content_created_at",
    "views_before_action",
    "appeal_outcome",
    "platform",
    "user_id",
    "content_id",
)
INCIDENT_REQUIRED = (
    "incident_id",
    "started_at",
    "detected_at",
    "severity",
    "policy_category",
    "region",
    "detection_source",
)
INCIDENT_OPTIONAL = ("resolved_at", "title", "platform")
METRIC_REQUIRED = ("ds", "metric", "value")
METRIC_DIMENSIONS = ("platform", "policy_category", "region", "surface")
METRIC_OPTIONAL = (*METRIC_DIMENSIONS, "numerator", "denominator")

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


class LandingError(ValueError):
    """A landing file (or a whole day) that cannot be read; the message names it."""


@dataclass
class LandingBatch:
    dataset: str
    rows: pd.DataFrame
    rejects: pd.DataFrame
    files: list[str] = field(default_factory=list)
    rows_read: int = 0

    def rejected_share_by_day(self) -> dict[str, float]:
        """Per partition day, the share of rows read that could not be parsed."""
        if self.rejects.empty:
            return {}
        rejected = self.rejects.drop_duplicates(["source_file", "source_row"])
        bad = rejected["ds"].astype(str).value_counts()
        good = self.rows["ds"].astype(str).value_counts() if not self.rows.empty else {}
        return {day: bad[day] / (bad[day] + good.get(day, 0)) for day in bad.index}


REJECT_COLUMNS = ["ds", "source_file", "source_row", "column_name", "reason", "raw_values"]


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


def read_moderation_decisions(
    landing_dir: Path, days: Sequence[dt.date], *, platform: str, hash_key: str
) -> LandingBatch:
    return _read_dataset(
        landing_dir,
        "moderation_decisions",
        days,
        lambda raw: _normalise_decisions(raw, platform, hash_key),
        DECISION_REQUIRED,
    )


def read_incidents(landing_dir: Path, days: Sequence[dt.date], *, platform: str) -> LandingBatch:
    return _read_dataset(
        landing_dir,
        "incidents",
        days,
        lambda raw: _normalise_incidents(raw, platform),
        INCIDENT_REQUIRED,
    )


def read_daily_metrics(
    landing_dir: Path, days: Sequence[dt.date], *, platform: str
) -> LandingBatch:
    return _read_dataset(
        landing_dir,
        "daily_metrics",
        days,
        lambda raw: _normalise_metrics(raw, platform),
        METRIC_REQUIRED,
    )


# -- reading files ------------------------------------------------------------------------------


def _read_dataset(landing_dir, dataset, days, normalise, required) -> LandingBatch:
    raws, files = [], []
    for day in days:
        for path in partition_files(landing_dir, dataset, day):
            raw = read_landing_file(path, required)
            rel = _relative(path, landing_dir)
            raw.insert(0, "source_row", range(1, len(raw) + 1))
            raw.insert(0, "source_file", rel)
            raw.insert(0, "_day", day)
            raws.append(raw)
            files.append(rel)
    if not raws:
        return LandingBatch(dataset, pd.DataFrame(), _empty_rejects(), files, 0)
    # One normalisation over the whole range: per-file pandas overhead dominates otherwise.
    raw = pd.concat(raws, ignore_index=True)
    rows, rejects = normalise(raw)
    return LandingBatch(dataset, rows, rejects, files, len(raw))


def read_landing_file(path: Path, required: Iterable[str]) -> pd.DataFrame:
    """One file as strings, with a clear error naming the file for anything unreadable."""
    if path.stat().st_size == 0:
        raise LandingError(f"{path}: file is empty (0 bytes)")
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            # utf-8-sig strips a byte-order mark; everything is read as text and parsed below.
            # The Arrow parser gives the same values as the C one, about a third faster.
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
                engine="pyarrow",
            )
    except UnicodeDecodeError as exc:
        raise LandingError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise LandingError(f"{path}: cannot be parsed: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise LandingError(
            f"{path}: missing required column(s) {missing}; found {list(frame.columns)}"
        )
    return frame


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# -- normalising --------------------------------------------------------------------------------


class _Rejects:
    """Collects row-level parse failures; a row rejected once is excluded from the output."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw
        self.bad = pd.Series(False, index=raw.index)
        self.records: list[dict] = []

    def add(self, mask: pd.Series, column: str, reason: str) -> None:
        mask = mask.fillna(False) & ~self.bad
        if not mask.any():
            return
        originals = self.raw.loc[mask]
        for idx, row in originals.iterrows():
            self.records.append(
                {
                    "ds": row["_day"],
                    "source_file": row["source_file"],
                    "source_row": int(row["source_row"]),
                    "column_name": column,
                    "reason": reason,
                    "raw_values": json.dumps(
                        {
                            k: (None if pd.isna(v) else str(v))
                            for k, v in row.items()
                            if k not in ("_day", "source_file", "source_row")
                        },
                        ensure_ascii=False,
                    ),
                }
            )
            self.bad.loc[idx] = True

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=REJECT_COLUMNS)


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(columns=REJECT_COLUMNS)


def _text(raw: pd.DataFrame, column: str, *, lower: bool = True) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype=object)
    values = raw[column].astype("string").str.strip()
    values = values.str.lower() if lower else values
    return values.where(values.notna() & (values != ""), pd.NA).astype(object)


def _timestamps(raw, column, rejects: _Rejects, *, required: bool) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    source = raw[column]
    if pd.api.types.is_datetime64_any_dtype(source):
        parsed = pd.to_datetime(source, utc=True)
    else:
        text = source.astype("string").str.strip()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        given = text.notna() & (text != "")
        rejects.add(given & parsed.isna(), column, f"{column} is not an ISO 8601 timestamp")
    if required:
        rejects.add(parsed.isna() & ~rejects.bad, column, f"{column} is required")
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


def _booleans(raw, column, rejects: _Rejects) -> pd.Series:
    text = _text(raw, column)
    is_true = text.isin(_TRUE)
    is_false = text.isin(_FALSE)
    rejects.add(~(is_true | is_false), column, f"{column} must be true/false")
    return is_true


def _numbers(raw, column, rejects: _Rejects, *, required: bool, integer: bool) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="Float64")
    text = raw[column]
    numbers = pd.to_numeric(text, errors="coerce")
    given = text.notna() & (text.astype("string").str.strip() != "")
    rejects.add(given & numbers.isna(), column, f"{column} is not a number")
    if integer:
        fractional = numbers.notna() & (numbers != numbers.round())
        rejects.add(fractional, column, f"{column} must be a whole number")
    if required:
        rejects.add(~given, column, f"{column} is required")
    return numbers.astype("Float64")


def _require_text(values: pd.Series, column: str, rejects: _Rejects) -> None:
    rejects.add(values.isna(), column, f"{column} is required")


def _normalise_decisions(raw, platform, hash_key) -> tuple[pd.DataFrame, pd.DataFrame]:
    rejects = _Rejects(raw)
    out = pd.DataFrame(index=raw.index)
    out["ds"] = raw["_day"]
    out["event_id"] = _text(raw, "event_id", lower=False)
    _require_text(out["event_id"], "event_id", rejects)
    out["decided_at"] = _timestamps(raw, "decided_at", rejects, required=True)
    out["reported_at"] = _timestamps(raw, "reported_at", rejects, required=False)
    out["content_created_at"] = _timestamps(raw, "content_created_at", rejects, required=False)
    for column in (
        "policy_category",
        "region",
        "surface",
        "detection_source",
        "action",
        "automated_decision",
    ):
        out[column] = _text(raw, column, lower=column != "region")
        _require_text(out[column], column, rejects)
    out["region"] = out["region"].str.upper()
    out["views_before_action"] = _numbers(
        raw, "views_before_action", rejects, required=False, integer=True
    ).astype("Int64")
    out["appealed"] = _booleans(raw, "appealed", rejects)
    out["appeal_outcome"] = _text(raw, "appeal_outcome")
    out["platform"] = _text(raw, "platform", lower=False).fillna(platform)
    out["user_id_hash"] = hash_column(_text(raw, "user_id", lower=False), hash_key)
    out["content_id_hash"] = hash_column(_text(raw, "content_id", lower=False), hash_key)
    out["source_file"] = raw["source_file"]
    out["source_row"] = raw["source_row"]
    return out.loc[~rejects.bad].reset_index(drop=True), rejects.frame()


def _normalise_incidents(raw, platform) -> tuple[pd.DataFrame, pd.DataFrame]:
    rejects = _Rejects(raw)
    out = pd.DataFrame(index=raw.index)
    out["ds"] = raw["_day"]
    out["incident_id"] = _text(raw, "incident_id", lower=False)
    _require_text(out["incident_id"], "incident_id", rejects)
    out["started_at"] = _timestamps(raw, "started_at", rejects, required=True)
    out["detected_at"] = _timestamps(raw, "detected_at", rejects, required=True)
    out["resolved_at"] = _timestamps(raw, "resolved_at", rejects, required=False)
    for column in ("severity", "policy_category", "region", "detection_source"):
        out[column] = _text(raw, column, lower=column != "region")
        _require_text(out[column], column, rejects)
    out["region"] = out["region"].str.upper()
    out["title"] = _text(raw, "title", lower=False)
    out["platform"] = _text(raw, "platform", lower=False).fillna(platform)
    out["source_file"] = raw["source_file"]
    out["source_row"] = raw["source_row"]
    return out.loc[~rejects.bad].reset_index(drop=True), rejects.frame()


def _normalise_metrics(raw, platform) -> tuple[pd.DataFrame, pd.DataFrame]:
    rejects = _Rejects(raw)
    out = pd.DataFrame(index=raw.index)
    stamps = _timestamps(raw, "ds", rejects, required=True)
    rejects.add(stamps.dt.date != raw["_day"], "ds", "ds is not the partition day of its folder")
    out["ds"] = raw["_day"]
    out["metric"] = _text(raw, "metric")
    _require_text(out["metric"], "metric", rejects)
    out["platform"] = _text(raw, "platform", lower=False).fillna(platform)
    for column in ("policy_category", "surface"):
        out[column] = _text(raw, column).fillna(ALL)
    region = _text(raw, "region")
    out["region"] = region.str.upper().where(region != ALL, ALL).fillna(ALL)
    out["value"] = _numbers(raw, "value", rejects, required=True, integer=False)
    out["numerator"] = _numbers(raw, "numerator", rejects, required=False, integer=False)
    out["denominator"] = _numbers(raw, "denominator", rejects, required=False, integer=False)
    out["source"] = "landed"
    good = out.loc[~rejects.bad].reset_index(drop=True)
    good = add_series_key(good)
    for column in ("value", "numerator", "denominator"):
        good[column] = good[column].astype("float64")
    return good, rejects.frame()

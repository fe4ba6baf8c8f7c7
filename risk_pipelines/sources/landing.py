"""Landing-folder readers: ``<landing>/<dataset>/<YYYY-MM-DD>/*.csv|*.parquet``.

Each reader returns the canonical rows plus the rows it could not use, each naming file, row,
column and reason, so nothing is dropped silently: rows read = rows kept + rows quarantined,
per day. A day that cannot be read at all (no folder, an unreadable file, a missing required
column) is reported in ``day_errors`` with a message naming the file, and none of it is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from risk_pipelines.metrics.catalog import spec_for
from risk_pipelines.metrics.series import add_series_key
from risk_pipelines.sources.files import (
    LandingError,
    RowProblem,
    clip,
    file_digest,
    read_landing_file,
)
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

_KNOWN_OPTIONAL = (*DECISION_OPTIONAL, *INCIDENT_OPTIONAL, *METRIC_OPTIONAL)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass
class FileRecord:
    """One landing file as delivered: the manifest row written to ``landing_files``."""

    dataset: str
    ds: dt.date
    source_file: str
    size_bytes: int
    sha256: str
    header: list[str]
    rows_read: int
    landed_at: dt.datetime
    problem: str | None = None


@dataclass
class LandingBatch:
    """What a range of landing days held. ``rows`` keeps the index of ``raw`` (the text as
    read), so a later validation step can quarantine a row with its original values."""

    dataset: str
    days: list[dt.date]
    rows: pd.DataFrame
    rejects: pd.DataFrame
    raw: pd.DataFrame = field(default_factory=pd.DataFrame)
    files: list[FileRecord] = field(default_factory=list)
    # Days that cannot be loaded at all (no folder, an unreadable file): blocked with this reason.
    day_errors: dict[dt.date, str] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    def quarantine(self, index: pd.Index, column: str | None, reason: str | pd.Series) -> int:
        """Move rows (by ``raw`` index) from ``rows`` to ``rejects`` with a reason."""
        index = index.intersection(self.rows.index)
        if index.empty:
            return 0
        reasons = reason.loc[index] if isinstance(reason, pd.Series) else reason
        records = _reject_records(self.raw.loc[index], column, reasons)
        self.rejects = pd.concat([self.rejects, records], ignore_index=True)
        self.rows = self.rows.drop(index)
        return len(index)

    def accounting(self) -> pd.DataFrame:
        """Per day: rows read = rows accepted + rows quarantined, and whether it holds."""
        frame = pd.DataFrame(index=pd.Index(self.days, name="ds"))
        read = pd.Series({d: 0 for d in self.days}, dtype="int64")
        for record in self.files:
            read[record.ds] += record.rows_read
        frame["rows_read"] = read
        frame["rows_accepted"] = _count_by_day(self.rows, self.days)
        frame["rows_quarantined"] = _count_by_day(
            self.rejects.drop_duplicates(["source_file", "source_row"]), self.days
        )
        frame["balanced"] = frame["rows_read"] == frame["rows_accepted"] + frame["rows_quarantined"]
        return frame.reset_index()


REJECT_COLUMNS = ["ds", "source_file", "source_row", "column_name", "reason", "raw_values"]
_META = ("_day", "source_file", "source_row")


def _count_by_day(frame: pd.DataFrame, days: Sequence[dt.date]) -> pd.Series:
    if frame.empty:
        return pd.Series(0, index=list(days), dtype="int64")
    counts = frame["ds"].value_counts()  # python dates: no datetime conversion of every row
    return pd.Series([int(counts.get(d, 0)) for d in days], index=list(days), dtype="int64")


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
    landing_dir: Path,
    days: Sequence[dt.date],
    *,
    platform: str,
    hash_key: str,
    loaded_ids: pd.Series | None = None,
) -> LandingBatch:
    """``loaded_ids`` maps event ids already in the warehouse (other partitions) to their day,
    so a re-delivered file is quarantined rather than loaded twice."""
    return _read_dataset(
        landing_dir,
        "moderation_decisions",
        days,
        lambda raw, rejects: _normalise_decisions(raw, rejects, platform, hash_key, loaded_ids),
        DECISION_REQUIRED,
        hash_key=hash_key,
    )


def read_incidents(
    landing_dir: Path,
    days: Sequence[dt.date],
    *,
    platform: str,
    loaded_ids: pd.Series | None = None,
) -> LandingBatch:
    return _read_dataset(
        landing_dir,
        "incidents",
        days,
        lambda raw, rejects: _normalise_incidents(raw, rejects, platform, loaded_ids),
        INCIDENT_REQUIRED,
    )


def read_daily_metrics(
    landing_dir: Path, days: Sequence[dt.date], *, platform: str
) -> LandingBatch:
    return _read_dataset(
        landing_dir,
        "daily_metrics",
        days,
        lambda raw, rejects: _normalise_metrics(raw, rejects, platform),
        METRIC_REQUIRED,
    )


# -- reading files ------------------------------------------------------------------------------


def _read_dataset(landing_dir, dataset, days, normalise, required, hash_key=None) -> LandingBatch:
    days = sorted(set(days))
    raws, records, problems = [], [], []
    day_errors: dict[dt.date, str] = {}
    for day in days:
        try:
            paths = partition_files(landing_dir, dataset, day)
        except LandingError as exc:
            day_errors[day] = str(exc)
            continue
        for path in paths:
            rel = _relative(path, landing_dir)
            stat = path.stat()
            record = FileRecord(
                dataset,
                day,
                rel,
                stat.st_size,
                file_digest(path),
                [],
                0,
                dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None),
            )
            records.append(record)
            try:
                parsed = read_landing_file(path)
                record.header = parsed.header
                missing = [c for c in required if c not in parsed.header]
                if missing:
                    raise LandingError(
                        f"{path}: row 0 (header) lacks required column(s) {missing}; found "
                        f"{parsed.header}" + _renamed_hint(parsed.header, required)
                    )
            except LandingError as exc:
                record.problem = str(exc)
                day_errors.setdefault(day, str(exc))
                continue
            record.rows_read = parsed.rows_read
            frame = parsed.frame
            frame.insert(0, "source_file", rel)
            frame.insert(0, "_day", day)
            raws.append(frame)
            problems.extend((day, rel, p) for p in parsed.problems)
    if not raws:
        return LandingBatch(
            dataset,
            days,
            pd.DataFrame(),
            _empty_rejects(),
            pd.DataFrame(),
            records,
            day_errors,
        )
    # One normalisation over the whole range: per-file pandas overhead dominates otherwise.
    raw = pd.concat(raws, ignore_index=True)
    rejects = _Rejects(raw, hash_key)
    rejects.add_problems(problems)
    rows = normalise(raw, rejects)
    return LandingBatch(dataset, days, rows, rejects.frame(), raw, records, day_errors)


def _renamed_hint(header: list[str], known: Iterable[str]) -> str:
    unknown = [c for c in header if c not in set(known) | set(_KNOWN_OPTIONAL)]
    if unknown:
        return f" (renamed? the header has unexpected column(s) {unknown})"
    return ""


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# -- normalising --------------------------------------------------------------------------------


ID_COLUMNS = ("user_id", "content_id")
KEYED = "keyed-hash:"


class _Rejects:
    """Collects row-level failures; a row rejected once is excluded from the output. With a
    ``hash_key``, the raw values it keeps show user and content ids only as keyed hashes, like
    every other table (DESIGN.md: raw ids never reach the warehouse)."""

    def __init__(self, raw: pd.DataFrame, hash_key: str | None = None) -> None:
        self.raw = raw
        self.hash_key = hash_key
        self.bad = pd.Series(False, index=raw.index)
        self.frames: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, column: str | None, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool) & ~self.bad
        if not mask.any():
            return
        reasons = reason.loc[mask] if isinstance(reason, pd.Series) else reason
        self.frames.append(_reject_records(self.raw.loc[mask], column, reasons, self.hash_key))
        self.bad |= mask

    def add_problems(self, problems: list[tuple[dt.date, str, RowProblem]]) -> None:
        """Faults found while reading the file: rows never parsed, or parsed but unusable."""
        if not problems:
            return
        records = [
            {
                "ds": day,
                "source_file": source_file,
                "source_row": p.source_row,
                "column_name": p.column,
                "reason": p.reason,
                "raw_values": json.dumps(_redacted(p.raw, self.hash_key), ensure_ascii=False),
            }
            for day, source_file, p in problems
        ]
        self.frames.append(pd.DataFrame(records, columns=REJECT_COLUMNS))
        keys = pd.MultiIndex.from_tuples([(f, p.source_row) for _, f, p in problems])
        in_frame = pd.MultiIndex.from_arrays([self.raw["source_file"], self.raw["source_row"]])
        self.bad |= pd.Series(in_frame.isin(keys), index=self.raw.index)

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return _empty_rejects()
        return pd.concat(self.frames, ignore_index=True)


def _reject_records(raw: pd.DataFrame, column: str | None, reasons, hash_key=None):
    values = [c for c in raw.columns if c not in _META]
    shown = raw[values]
    if hash_key is not None and any(c in shown for c in ID_COLUMNS):
        shown = shown.copy()
        for c in (c for c in ID_COLUMNS if c in shown):
            hashed = hash_column(shown[c], hash_key)
            shown[c] = [None if h is None else KEYED + h for h in hashed]
    raw_values = [
        json.dumps({c: clip(v) for c, v in zip(values, row, strict=True)}, ensure_ascii=False)
        for row in shown.itertuples(index=False, name=None)
    ]
    return pd.DataFrame(
        {
            "ds": raw["_day"].to_numpy(),
            "source_file": raw["source_file"].to_numpy(),
            "source_row": raw["source_row"].astype("int64").to_numpy(),
            "column_name": column,
            "reason": reasons if isinstance(reasons, str) else list(reasons),
            "raw_values": raw_values,
        },
        columns=REJECT_COLUMNS,
    )


def _redacted(values: dict, hash_key: str | None) -> dict:
    """A problem row's raw values with its ids keyed-hashed; a line that never parsed is
    withheld whole, since its ids cannot be told apart from the rest."""
    if hash_key is None:
        return values
    out = dict(values)
    for c in ID_COLUMNS:
        if out.get(c) not in (None, ""):
            out[c] = KEYED + hash_column(pd.Series([str(out[c])]), hash_key).iat[0]
    if "_line" in out:
        length = len(out["_line"] or "")
        out["_line"] = f"withheld: may hold raw ids ({length} characters); see the file at this row"
    return out


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(columns=REJECT_COLUMNS)


def _text(raw: pd.DataFrame, column: str, *, lower: bool = True) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="string")
    values = raw[column].astype("string").str.strip()
    values = values.str.lower() if lower else values
    return values.where(values.notna() & (values != ""), pd.NA)


_HAS_OFFSET = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


def _timestamps(raw, column, rejects: _Rejects, *, required: bool) -> pd.Series:
    """UTC timestamps. A value without an offset is UTC by contract, unless other rows of the
    same file carry offsets: then the file mixes conventions and the naive value is ambiguous."""
    if column not in raw.columns:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    source = raw[column]
    if pd.api.types.is_datetime64_any_dtype(source):
        parsed = pd.to_datetime(source, utc=True)
    else:
        text = source.astype("string").str.strip()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        given = text.notna() & (text != "")
        rejects.add(given & parsed.isna(), column, f"{column} is not an ISO 8601 timestamp")
        aware = text.str.contains(_HAS_OFFSET, regex=True).fillna(False).astype(bool)
        if aware.any() and not aware[given].all():
            files_with_offsets = raw.loc[aware, "source_file"].unique()
            rejects.add(
                given & ~aware & raw["source_file"].isin(files_with_offsets),
                column,
                f"{column} has no UTC offset while other rows of the same file do "
                "(mixed time-zone conventions; ambiguous)",
            )
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


def _reject_duplicates(raw, keys: pd.Series, name: str, rejects: _Rejects, loaded_ids) -> None:
    """Keep the first row of each key in the batch; quarantine repeats and keys that another
    partition already holds (a re-delivered file)."""
    live = keys[~rejects.bad.loc[keys.index] & keys.notna()]
    scope = live
    repeat = scope.duplicated(keep="first")
    if repeat.any():
        first = raw.loc[scope[~repeat].index, ["source_file", "source_row"]]
        first_at = pd.Series(
            (first["source_file"] + " row " + first["source_row"].astype(str)).to_numpy(),
            index=scope[~repeat].to_numpy(),
        )
        reason = pd.Series(
            f"duplicate {name}: first given in " + first_at.reindex(scope[repeat]).to_numpy(),
            index=scope[repeat].index,
        )
        rejects.add(repeat.reindex(raw.index, fill_value=False), name, reason.reindex(raw.index))
    if loaded_ids is not None and len(loaded_ids) and name != "series":
        known = live.isin(loaded_ids.index)
        if known.any():
            days = loaded_ids.reindex(live[known]).astype(str).to_numpy()
            reason = pd.Series(
                [f"{name} already loaded for partition {d} (re-delivered?)" for d in days],
                index=live[known].index,
            )
            rejects.add(known.reindex(raw.index, fill_value=False), name, reason.reindex(raw.index))


_FORMULA_START = r"^[=+\-@\t\r]"


def _reject_formula_like(values: pd.Series, column: str, rejects: _Rejects) -> None:
    """An id opened in a spreadsheet must not run as a formula. Checked here rather than in
    the suite: a regex over a million distinct ids costs GX a second, here a few milliseconds."""
    looks_like_formula = values.str.contains(_FORMULA_START, regex=True).fillna(False)
    rejects.add(
        looks_like_formula.astype(bool),
        column,
        f"{column} starts like a spreadsheet formula (CSV injection)",
    )


def _require_text(values: pd.Series, column: str, rejects: _Rejects) -> None:
    rejects.add(values.isna(), column, f"{column} is required")


def _normalise_decisions(raw, rejects: _Rejects, platform, hash_key, loaded_ids) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    out["ds"] = raw["_day"]
    out["event_id"] = _text(raw, "event_id", lower=False)
    _require_text(out["event_id"], "event_id", rejects)
    _reject_formula_like(out["event_id"], "event_id", rejects)
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
    _reject_duplicates(raw, out["event_id"], "event_id", rejects, loaded_ids)
    return out.loc[~rejects.bad]


def _normalise_incidents(raw, rejects: _Rejects, platform, loaded_ids) -> pd.DataFrame:
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
    _reject_duplicates(raw, out["incident_id"], "incident_id", rejects, loaded_ids)
    return out.loc[~rejects.bad]


def _normalise_metrics(raw, rejects: _Rejects, platform) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    stamps = _timestamps(raw, "ds", rejects, required=True)
    rejects.add(stamps.dt.date != raw["_day"], "ds", "ds is not the partition day of its folder")
    out["ds"] = raw["_day"]
    out["metric"] = _text(raw, "metric")
    _require_text(out["metric"], "metric", rejects)
    # The catalogue's kind decides the valid range (a rate lies in [0, 1]); not stored.
    kinds = {m: spec_for(m).kind for m in out["metric"].dropna().unique()}
    out["kind"] = out["metric"].map(kinds)
    out["platform"] = _text(raw, "platform", lower=False).fillna(platform)
    for column in ("policy_category", "surface"):
        out[column] = _text(raw, column).fillna(ALL)
    region = _text(raw, "region")
    out["region"] = region.str.upper().where(region != ALL, ALL).fillna(ALL)
    out["value"] = _numbers(raw, "value", rejects, required=True, integer=False)
    out["numerator"] = _numbers(raw, "numerator", rejects, required=False, integer=False)
    out["denominator"] = _numbers(raw, "denominator", rejects, required=False, integer=False)
    out["source"] = "landed"
    good = add_series_key(out.loc[~rejects.bad])
    # A series given twice for one day is ambiguous: keep the first, quarantine the rest.
    per_day = good["unique_id"] + " on " + good["ds"].astype(str)
    _reject_duplicates(raw, per_day, "series", rejects, None)
    good = good.loc[~rejects.bad.loc[good.index]]
    for column in ("value", "numerator", "denominator"):
        good[column] = good[column].astype("float64")
    return good


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

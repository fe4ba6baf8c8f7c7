"""Reading a range of landing days: every file recorded, every row kept or rejected, one
normalisation over the whole range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from risk_pipelines.sources.files import LandingError, file_digest, read_landing_file
from risk_pipelines.sources.landing.columns import KNOWN_OPTIONAL, reject_unstorable_text
from risk_pipelines.sources.landing.layout import partition_files, relative_path
from risk_pipelines.sources.landing.rejects import Rejects, empty_rejects, reject_records


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
        records = reject_records(self.raw.loc[index], column, reasons)
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
        frame["rows_accepted"] = count_by_day(self.rows, self.days)
        frame["rows_quarantined"] = count_by_day(
            self.rejects.drop_duplicates(["source_file", "source_row"]), self.days
        )
        frame["balanced"] = frame["rows_read"] == frame["rows_accepted"] + frame["rows_quarantined"]
        return frame.reset_index()


def count_by_day(frame: pd.DataFrame, days: Sequence[dt.date]) -> pd.Series:
    if frame.empty:
        return pd.Series(0, index=list(days), dtype="int64")
    counts = frame["ds"].value_counts()  # python dates: no datetime conversion of every row
    return pd.Series([int(counts.get(d, 0)) for d in days], index=list(days), dtype="int64")


def read_dataset(landing_dir, dataset, days, normalise, required, hash_key=None) -> LandingBatch:
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
            rel = relative_path(path, landing_dir)
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
                        f"{parsed.header}" + renamed_hint(parsed.header, required)
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
            empty_rejects(),
            pd.DataFrame(),
            records,
            day_errors,
        )
    # One normalisation over the whole range: per-file pandas overhead dominates otherwise.
    raw = pd.concat(raws, ignore_index=True)
    rejects = Rejects(raw, hash_key)
    rejects.add_problems(problems)
    reject_unstorable_text(raw, rejects)
    rows = normalise(raw, rejects)
    return LandingBatch(dataset, days, rows, rejects.frame(), raw, records, day_errors)


def renamed_hint(header: list[str], known: Iterable[str]) -> str:
    unknown = [c for c in header if c not in set(known) | set(KNOWN_OPTIONAL)]
    if unknown:
        return f" (renamed? the header has unexpected column(s) {unknown})"
    return ""

"""Rows the readers cannot use: each kept with its file, row, column and reason, its raw
values showing user and content ids only as keyed hashes."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from risk_pipelines.sources.files import RowProblem, clip
from risk_pipelines.sources.hashing import hash_column

REJECT_COLUMNS = ["ds", "source_file", "source_row", "column_name", "reason", "raw_values"]
META_COLUMNS = ("_day", "source_file", "source_row")
ID_COLUMNS = ("user_id", "content_id")
KEYED = "keyed-hash:"


class Rejects:
    """Collects row-level failures; a row rejected once is excluded from the output. With a
    ``hash_key``, the raw values it keeps show user and content ids only as keyed hashes, like
    every other table (raw ids never reach the warehouse: docs/architecture.md)."""

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
        self.frames.append(reject_records(self.raw.loc[mask], column, reasons, self.hash_key))
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
                "raw_values": json.dumps(redacted(p.raw, self.hash_key), ensure_ascii=False),
            }
            for day, source_file, p in problems
        ]
        self.frames.append(pd.DataFrame(records, columns=REJECT_COLUMNS))
        keys = pd.MultiIndex.from_tuples([(f, p.source_row) for _, f, p in problems])
        in_frame = pd.MultiIndex.from_arrays([self.raw["source_file"], self.raw["source_row"]])
        self.bad |= pd.Series(in_frame.isin(keys), index=self.raw.index)

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return empty_rejects()
        return pd.concat(self.frames, ignore_index=True)


def reject_records(raw: pd.DataFrame, column: str | None, reasons, hash_key=None):
    values = [c for c in raw.columns if c not in META_COLUMNS]
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


def redacted(values: dict, hash_key: str | None) -> dict:
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


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(columns=REJECT_COLUMNS)

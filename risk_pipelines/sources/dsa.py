"""Read a daily dump of the EU DSA Transparency Database in one streaming pass and map it.

A day's dump (``sor-global-YYYY-MM-DD-full.zip`` or ``-light.zip``) is a zip of zips of CSV
parts, each with its own header. Nothing holds a whole day: parts are read through Arrow's
streaming CSV reader in blocks, each block is mapped to the canonical schema (see
``dsa_mapping``) and then either aggregated into counts or, for the platforms a team follows
closely, kept as rows. Memory is bounded by the block size, the per-part uuid set and the rows
of followed platforms, not by the size of the day.

Duplicate uuids (the dumps repeat a statement, usually on the next line) are dropped within each
part and counted; the rows kept for followed platforms are also de-duplicated across the whole
day. A row that cannot be mapped is rejected and counted under its reason, with the part and
row of its first occurrence, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_pipelines.domain.taxonomy import POLICY_CATEGORIES
from risk_pipelines.sources import dsa_mapping as mapping
from risk_pipelines.sources.dsa_dump import (
    DEFAULT_BLOCK_BYTES,
    blocks,
    dump_day,
    iter_parts,
    tables,
    uuid_keys,
)
from risk_pipelines.sources.hashing import hash_column

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
AGGREGATE_KEYS = ["platform", "policy_category", "detection_source", "automated_decision", "action"]
DSA_SOURCE_PREFIX = "dsa/"  # source_file of every row this source writes
_SEPARATOR = "\x1f"
_CATEGORIES = frozenset(POLICY_CATEGORIES)


@dataclass
class Rejection:
    reason: str
    count: int
    first_part: str
    first_row: int  # data row within the part, 1-based


@dataclass
class DsaDay:
    day: dt.date
    variant: str  # full | light
    source: Path
    parts: list[str] = field(default_factory=list)
    rows_read: int = 0
    duplicates_dropped: int = 0
    rows_outside_filter: int = 0  # platforms the config does not ingest at all
    aggregates: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)  # followed platforms, canonical
    rejected: dict[str, Rejection] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(r.count for r in self.rejected.values())

    @property
    def statements(self) -> int:
        """Statements counted in the aggregates (every mapped, de-duplicated row)."""
        return int(self.aggregates["statements"].sum()) if len(self.aggregates) else 0

    def balanced(self) -> bool:
        """Every row read is counted, a duplicate, outside the filter or rejected."""
        accounted = (
            self.statements + self.duplicates_dropped + self.rows_outside_filter
        ) + self.rows_rejected
        return accounted == self.rows_read


def read_dump(
    path: Path,
    *,
    hash_key: str,
    follow: frozenset[str] = frozenset(),
    platforms: frozenset[str] | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> DsaDay:
    """One pass over the dump: counts by platform x category x detection source x automation x
    action for every platform in ``platforms`` (None: all), and canonical rows for the platforms
    in ``follow``."""
    day, variant = dump_day(path)
    result = DsaDay(day=day, variant=variant, source=path)
    counts: list[pd.DataFrame] = []
    kept: list[tuple[pd.DataFrame, np.ndarray, str]] = []  # followed rows, mapped
    for part, stream in iter_parts(path):
        result.parts.append(part)
        seen: set[int] = set()
        row_offset = 0
        for table in tables(blocks(stream, part, block_bytes)):
            rows = np.arange(row_offset + 1, row_offset + len(table) + 1)
            row_offset += len(table)
            result.rows_read += len(table)
            table, rows = _drop_duplicates(table, rows, seen, result)
            if platforms is not None:
                inside = pc.is_in(table["platform_name"], pa.array(sorted(platforms))).to_numpy(
                    zero_copy_only=False
                )
                result.rows_outside_filter += int((~inside).sum())
                table, rows = table.filter(pa.array(inside)), rows[inside]
            batch_map = _map(table, rows, part, result)
            counts.append(batch_map.counts())
            if follow:
                followed = batch_map.ok & pc.is_in(
                    table["platform_name"], pa.array(sorted(follow))
                ).to_numpy(zero_copy_only=False)
                if followed.any():
                    kept.append((batch_map.rows_for(followed), rows[followed], part))
            if len(counts) >= 64:  # keep the running counts small whatever the day's size
                counts = [_sum_counts(counts)]
    result.aggregates = _sum_counts(counts)
    result.rows = _dedupe_followed(_canonical_rows(kept, path.name, hash_key), result)
    return result


def _drop_duplicates(table: pa.Table, rows: np.ndarray, seen: set[int], result: DsaDay):
    keys = uuid_keys(table["uuid"].combine_chunks())
    fresh = ~pd.Series(keys).duplicated().to_numpy()
    listed = keys.tolist()
    if seen and not seen.isdisjoint(listed):  # rare: look row by row only then
        fresh &= np.fromiter((k not in seen for k in listed), bool, len(keys))
    seen.update(listed)
    dropped = int((~fresh).sum())
    if not dropped:
        return table, rows
    result.duplicates_dropped += dropped
    return table.filter(pa.array(fresh)), rows[fresh]


@dataclass
class _BatchMap:
    """A block mapped to the canonical vocabulary, as codes: per field, each row's index into
    that field's few distinct mapped values. Strings are made only for the rows kept."""

    table: pa.Table
    decided_at: pa.ChunkedArray
    ok: np.ndarray
    fields: dict[str, tuple[np.ndarray, list[str | None]]]

    def counts(self) -> pd.DataFrame:
        """Statements per platform x category x detection source x automation x action."""
        if not self.ok.any():
            return pd.DataFrame(columns=[*AGGREGATE_KEYS, "statements"])
        platform = pc.dictionary_encode(self.table["platform_name"]).combine_chunks()
        dims = [(platform.indices.to_numpy(zero_copy_only=False), platform.dictionary.to_pylist())]
        dims += [self.fields[k] for k in AGGREGATE_KEYS[1:]]
        combined = np.zeros(int(self.ok.sum()), dtype=np.int64)
        for codes, values in dims:
            combined = combined * len(values) + codes[self.ok]
        uniques, totals = np.unique(combined, return_counts=True)
        columns = {}
        for key, (_, values) in reversed(list(zip(AGGREGATE_KEYS, dims, strict=True))):
            uniques, position = np.divmod(uniques, len(values))
            columns[key] = np.asarray(values, dtype=object)[position]
        return pd.DataFrame({k: columns[k] for k in AGGREGATE_KEYS}).assign(statements=totals)

    def rows_for(self, mask: np.ndarray) -> pd.DataFrame:
        chosen = self.table.filter(pa.array(mask))
        frame = pd.DataFrame(
            {
                "uuid": chosen["uuid"].to_numpy(zero_copy_only=False),
                "platform": chosen["platform_name"].to_numpy(zero_copy_only=False),
                "platform_uid": chosen["platform_uid"].to_numpy(zero_copy_only=False),
                "decided_at": self.decided_at.filter(pa.array(mask)).to_pandas(),
                "content_date": chosen["content_date"].to_numpy(zero_copy_only=False),
            }
        )
        for name, (codes, values) in self.fields.items():
            frame[name] = np.asarray(values, dtype=object)[codes[mask]]
        return frame


def _map(table: pa.Table, rows: np.ndarray, part: str, result: DsaDay) -> _BatchMap:
    """Map a block's enum values to the canonical ones; rows that cannot be mapped are
    rejected (counted with part and row) and left out of ``ok``."""
    ok = np.ones(len(table), dtype=bool)

    def lookup(columns: list[str], fn: Callable[..., str]) -> tuple[np.ndarray, list]:
        codes, values, bad = _apply_to_distinct([table[c] for c in columns], fn)
        for reason, mask in bad.items():
            _reject(result, reason, mask & ok, rows, part)
            ok[mask] = False
        return codes, values

    decided_at = pc.strptime(table["application_date"], TIMESTAMP_FORMAT, "s", error_is_null=True)
    unparsable = pc.is_null(decided_at).to_numpy(zero_copy_only=False)
    if unparsable.any():
        _reject(result, "application_date is not YYYY-MM-DD HH:MM:SS (UTC)", unparsable & ok,
                rows, part)  # fmt: skip
        ok &= ~unparsable
    empty_platform = pc.equal(table["platform_name"], "").to_numpy(zero_copy_only=False)
    if empty_platform.any():
        _reject(result, "platform_name is empty", empty_platform & ok, rows, part)
        ok &= ~empty_platform
    fields = {
        "policy_category": lookup(["category"],
                                  lambda c: mapping.policy_category(c, _CATEGORIES)),
        "detection_source": lookup(["source_type", "automated_detection"],
                                   mapping.detection_source),
        "automated_decision": lookup(["automated_decision"], mapping.automated_decision),
        "action": lookup(["decision_visibility", "decision_account", "decision_provision",
                          "decision_monetary"], mapping.action),
        "surface": lookup(["content_type"], mapping.surface),
        "region": lookup(["territorial_scope"], mapping.region),
    }  # fmt: skip
    return _BatchMap(table, decided_at, ok, fields)


def _apply_to_distinct(columns: list[pa.ChunkedArray], fn: Callable[..., str]):
    """``fn`` over the distinct value combinations only. Returns each row's code (index into
    the mapped values), the mapped values (None where ``fn`` refused) and, per rejection
    reason, the rows that carry it."""
    encoded = [pc.dictionary_encode(c).combine_chunks() for c in columns]
    dictionaries = [e.dictionary.to_pylist() for e in encoded]
    combined = np.zeros(len(encoded[0]), dtype=np.int64)
    for e, values in zip(encoded, dictionaries, strict=True):
        codes = e.indices.to_numpy(zero_copy_only=False)
        if e.indices.null_count:  # territorial_scope of a light dump: after the dictionary
            codes = np.where(e.indices.is_null().to_numpy(zero_copy_only=False), len(values),
                             codes)  # fmt: skip
        combined = combined * (len(values) + 1) + codes
    inverse, distinct = pd.factorize(combined)
    mapped, failures = [], {}
    for i, code in enumerate(distinct.tolist()):
        args = []
        for values in reversed(dictionaries):
            code, position = divmod(code, len(values) + 1)
            args.append(values[position] if position < len(values) else None)
        try:
            mapped.append(fn(*reversed(args)))
        except mapping.UnmappedValue as exc:
            mapped.append(None)
            failures.setdefault(str(exc), []).append(i)
    bad = {reason: np.isin(inverse, codes) for reason, codes in failures.items()}
    return inverse, mapped, bad


def _reject(result: DsaDay, reason: str, mask: np.ndarray, rows: np.ndarray, part: str) -> None:
    count = int(mask.sum())
    if not count:
        return
    if reason in result.rejected:
        result.rejected[reason].count += count
    else:
        result.rejected[reason] = Rejection(reason, count, part, int(rows[mask][0]))


def _sum_counts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*AGGREGATE_KEYS, "statements"]).astype({"statements": "int64"})
    total = pd.concat(frames, ignore_index=True).groupby(AGGREGATE_KEYS, as_index=False)
    return total["statements"].sum().astype({"statements": "int64"})


def _canonical_rows(kept: list, dump: str, hash_key: str) -> pd.DataFrame:
    if not kept:
        return pd.DataFrame()
    frame = pd.concat([rows for rows, _, _ in kept], ignore_index=True)
    parts = np.concatenate([np.full(len(rows), part, dtype=object) for _, rows, part in kept])
    return pd.DataFrame(
        {
            "event_id": frame["uuid"],
            "decided_at": frame["decided_at"],
            "reported_at": pd.NaT,
            "content_created_at": pd.to_datetime(
                frame["content_date"], format=TIMESTAMP_FORMAT, errors="coerce"
            ),
            "policy_category": frame["policy_category"],
            "region": frame["region"],
            "surface": frame["surface"],
            "detection_source": frame["detection_source"],
            "action": frame["action"],
            "automated_decision": frame["automated_decision"],
            "views_before_action": pd.array([pd.NA] * len(frame), dtype="Int64"),
            "appealed": False,
            "appeal_outcome": None,
            "platform": frame["platform"],
            "user_id_hash": None,
            # The platform's own id of the content, kept only as a keyed hash like our own ids.
            "content_id_hash": hash_column(frame["platform_uid"], hash_key),
            "source_file": [f"{DSA_SOURCE_PREFIX}{dump}:{part}" for part in parts],
            "source_row": np.concatenate([rows for _, rows, _ in kept]),
        }
    )


def _dedupe_followed(rows: pd.DataFrame, result: DsaDay) -> pd.DataFrame:
    if rows.empty:
        return rows
    repeated = rows["event_id"].duplicated()
    if repeated.any():  # the same statement in two parts: counted once, here and above
        result.duplicates_dropped += int(repeated.sum())
        fix = rows[repeated].groupby(AGGREGATE_KEYS, as_index=False).size()
        fix = fix.rename(columns={"size": "statements"})
        merged = result.aggregates.merge(fix, on=AGGREGATE_KEYS, how="left", suffixes=("", "_x"))
        merged["statements"] -= merged["statements_x"].fillna(0).astype("int64")
        result.aggregates = merged.drop(columns="statements_x")
        rows = rows[~repeated].reset_index(drop=True)
    return rows

"""Read a daily dump of the EU DSA Transparency Database in one streaming pass.

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

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from risk_pipelines.sources import dsa_mapping as mapping
from risk_pipelines.sources.hashing import hash_column
from risk_pipelines.taxonomy import POLICY_CATEGORIES

DUMP_NAME = re.compile(r"^sor-global-(\d{4}-\d{2}-\d{2})-(full|light)\.zip$")
COLUMNS = (
    "uuid",
    "decision_visibility",
    "decision_monetary",
    "decision_provision",
    "decision_account",
    "category",
    "content_type",
    "content_date",
    "territorial_scope",  # absent from the light dumps
    "application_date",
    "source_type",
    "automated_detection",
    "automated_decision",
    "platform_name",
    "platform_uid",
)
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
AGGREGATE_KEYS = ["platform", "policy_category", "detection_source", "automated_decision", "action"]
DEFAULT_BLOCK_BYTES = 8 << 20
_SEPARATOR = "\x1f"
_CATEGORIES = frozenset(POLICY_CATEGORIES)


class DumpError(ValueError):
    """A dump that cannot be read at all (bad name, not a zip, a part without a header)."""


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


def dump_day(path: Path) -> tuple[dt.date, str]:
    match = DUMP_NAME.match(path.name)
    if not match:
        raise DumpError(
            f"{path}: not a DSA dump name (expected sor-global-YYYY-MM-DD-full.zip or -light.zip)"
        )
    return dt.date.fromisoformat(match.group(1)), match.group(2)


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
    kept: list[pd.DataFrame] = []
    for part, stream in iter_parts(path):
        result.parts.append(part)
        seen: set[int] = set()
        row_offset = 0
        for batch in _blocks(stream, part, block_bytes):
            table = pa.Table.from_batches([batch])
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
            mapped, ok = _map(table, rows, part, result)
            counts.append(_count(mapped.filter(ok)))
            if follow:
                followed = ok & pc.is_in(mapped["platform"], pa.array(sorted(follow))).to_numpy(
                    zero_copy_only=False
                )
                if followed.any():
                    chosen = mapped.filter(pa.array(followed))
                    kept.append(_canonical_rows(chosen, rows[followed], path.name, part, hash_key))
            if len(counts) >= 64:  # keep the running counts small whatever the day's size
                counts = [_sum_counts(counts)]
    result.aggregates = _sum_counts(counts)
    result.rows = _dedupe_followed(kept, result)
    return result


def iter_parts(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """Each CSV part of the dump as an open binary stream: inner zips are opened inside the
    outer one without extracting anything to disk."""
    try:
        outer = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DumpError(f"{path}: not a readable zip ({exc})") from exc
    with outer:
        for name in sorted(outer.namelist()):
            if name.endswith("/"):
                continue
            if name.lower().endswith(".zip"):
                with ExitStack() as stack:
                    raw = stack.enter_context(outer.open(name))
                    try:
                        inner = stack.enter_context(zipfile.ZipFile(raw))
                    except zipfile.BadZipFile as exc:
                        raise DumpError(f"{path}: inner {name} is not a zip ({exc})") from exc
                    for part in sorted(n for n in inner.namelist() if n.lower().endswith(".csv")):
                        with inner.open(part) as stream:
                            yield f"{name}/{part}", stream
            elif name.lower().endswith(".csv"):
                with outer.open(name) as stream:
                    yield name, stream


def _blocks(stream: IO[bytes], part: str, block_bytes: int) -> Iterator[pa.RecordBatch]:
    header, stream = _peek_header(stream, part)
    missing = [c for c in COLUMNS if c != "territorial_scope" and c not in header]
    if missing:
        raise DumpError(f"{part}: the header lacks {', '.join(missing)}")
    present = [c for c in COLUMNS if c in header]
    read = pacsv.ReadOptions(block_size=block_bytes, use_threads=True)
    convert = pacsv.ConvertOptions(
        include_columns=present,
        column_types=dict.fromkeys(present, pa.string()),  # platform_uid keeps its zeros
        strings_can_be_null=False,
    )
    parse = pacsv.ParseOptions(newlines_in_values=True)
    try:
        reader = pacsv.open_csv(stream, read_options=read, parse_options=parse,
                                convert_options=convert)  # fmt: skip
        for batch in reader:
            if "territorial_scope" not in header:  # a light dump: the scope is unknown
                batch = batch.append_column("territorial_scope", pa.nulls(len(batch), pa.string()))
            yield batch
    except pa.ArrowInvalid as exc:
        raise DumpError(f"{part}: malformed CSV ({exc})") from exc


class _Prepended(io.RawIOBase):
    """A stream whose first bytes were already read (to learn the header) and are given back."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _peek_header(stream: IO[bytes], part: str) -> tuple[list[str], IO[bytes]]:
    head = stream.read(1 << 16)
    while b"\n" not in head:
        more = stream.read(1 << 16)
        if not more:
            break
        head += more
    first = head.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
    if not first:
        raise DumpError(f"{part}: empty part, no header line")
    header = next(csv.reader([first]))
    return header, io.BufferedReader(_Prepended(head, stream), buffer_size=1 << 20)


def _drop_duplicates(table: pa.Table, rows: np.ndarray, seen: set[int], result: DsaDay):
    hashes = pd.util.hash_array(table["uuid"].to_numpy(zero_copy_only=False))
    fresh = ~pd.Series(hashes).duplicated().to_numpy()
    if seen:
        fresh &= np.fromiter((h not in seen for h in hashes.tolist()), bool, len(hashes))
    seen.update(hashes[fresh].tolist())
    dropped = int((~fresh).sum())
    if not dropped:
        return table, rows
    result.duplicates_dropped += dropped
    return table.filter(pa.array(fresh)), rows[fresh]


def _map(table: pa.Table, rows: np.ndarray, part: str, result: DsaDay):
    """The batch with canonical columns added, and which rows mapped cleanly."""
    ok = np.ones(len(table), dtype=bool)

    def lookup(columns: list[str], fn: Callable[..., str]) -> pa.Array:
        values, bad = _apply_to_distinct([table[c] for c in columns], fn)
        for reason, mask in bad.items():
            _reject(result, reason, mask & ok, rows, part)
            ok[mask] = False
        return values

    decided_at = pc.strptime(table["application_date"], TIMESTAMP_FORMAT, "s", error_is_null=True)
    unparsable = pc.is_null(decided_at).to_numpy(zero_copy_only=False)
    if unparsable.any():
        _reject(result, "application_date is not YYYY-MM-DD HH:MM:SS (UTC)", unparsable & ok,
                rows, part)  # fmt: skip
        ok &= ~unparsable
    content = pc.strptime(table["content_date"], TIMESTAMP_FORMAT, "s", error_is_null=True)
    mapped = pa.table(
        {
            "uuid": table["uuid"],
            "platform": table["platform_name"],
            "platform_uid": table["platform_uid"],
            "decided_at": decided_at,
            "content_created_at": content,
            "policy_category": lookup(["category"],
                                      lambda c: mapping.policy_category(c, _CATEGORIES)),
            "detection_source": lookup(["source_type", "automated_detection"],
                                       mapping.detection_source),
            "automated_decision": lookup(["automated_decision"],
                                         mapping.automated_decision),
            "action": lookup(["decision_visibility", "decision_account",
                                        "decision_provision", "decision_monetary"],
                             mapping.action),
            "surface": lookup(["content_type"], mapping.surface),
            "region": lookup(["territorial_scope"], mapping.region),
        }
    )  # fmt: skip
    empty_platform = pc.equal(table["platform_name"], "").to_numpy(zero_copy_only=False)
    if empty_platform.any():
        _reject(result, "platform_name is empty", empty_platform & ok, rows, part)
        ok &= ~empty_platform
    return mapped, ok


def _apply_to_distinct(columns: list[pa.ChunkedArray], fn: Callable[..., str]):
    """``fn`` over the distinct value combinations only, spread back to every row. Returns the
    mapped strings and, per rejection reason, the rows that carry it."""
    filled = [pc.fill_null(c, "") for c in columns]
    key = filled[0] if len(filled) == 1 else pc.binary_join_element_wise(*filled, _SEPARATOR)
    encoded = pc.dictionary_encode(key).combine_chunks()
    mapped, failures = [], {}
    for i, distinct in enumerate(encoded.dictionary.to_pylist()):
        try:
            mapped.append(fn(*distinct.split(_SEPARATOR)) if len(filled) > 1 else fn(distinct))
        except mapping.UnmappedValue as exc:
            mapped.append(None)
            failures.setdefault(str(exc), []).append(i)
    indices = encoded.indices
    values = pc.take(pa.array(mapped, pa.string()), indices)
    bad = {
        reason: pc.is_in(indices, pa.array(codes, indices.type)).to_numpy(zero_copy_only=False)
        for reason, codes in failures.items()
    }
    return values, bad


def _reject(result: DsaDay, reason: str, mask: np.ndarray, rows: np.ndarray, part: str) -> None:
    count = int(mask.sum())
    if not count:
        return
    if reason in result.rejected:
        result.rejected[reason].count += count
    else:
        result.rejected[reason] = Rejection(reason, count, part, int(rows[mask][0]))


def _count(mapped: pa.Table) -> pd.DataFrame:
    if not len(mapped):
        return pd.DataFrame(columns=[*AGGREGATE_KEYS, "statements"])
    grouped = mapped.group_by(AGGREGATE_KEYS).aggregate([("uuid", "count")])
    return grouped.rename_columns([*AGGREGATE_KEYS, "statements"]).to_pandas()


def _sum_counts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*AGGREGATE_KEYS, "statements"]).astype({"statements": "int64"})
    total = pd.concat(frames, ignore_index=True).groupby(AGGREGATE_KEYS, as_index=False)
    return total["statements"].sum().astype({"statements": "int64"})


def _canonical_rows(mapped: pa.Table, rows: np.ndarray, dump: str, part: str, hash_key: str):
    frame = mapped.to_pandas()
    out = pd.DataFrame(
        {
            "event_id": frame["uuid"],
            "decided_at": frame["decided_at"],
            "reported_at": pd.NaT,
            "content_created_at": frame["content_created_at"],
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
            "source_file": f"dsa/{dump}:{part}",
            "source_row": rows,
        }
    )
    return out


def _dedupe_followed(kept: list[pd.DataFrame], result: DsaDay) -> pd.DataFrame:
    if not kept:
        return pd.DataFrame()
    rows = pd.concat(kept, ignore_index=True)
    repeated = rows["event_id"].duplicated()
    if repeated.any():  # the same statement in two parts: counted once, here and above
        result.duplicates_dropped += int(repeated.sum())
        dropped = rows[repeated]
        fix = dropped.groupby(AGGREGATE_KEYS, as_index=False).size()
        fix = fix.rename(columns={"size": "statements"})
        merged = result.aggregates.merge(fix, on=AGGREGATE_KEYS, how="left", suffixes=("", "_x"))
        merged["statements"] -= merged["statements_x"].fillna(0).astype("int64")
        result.aggregates = merged.drop(columns="statements_x")
        rows = rows[~repeated].reset_index(drop=True)
    return rows

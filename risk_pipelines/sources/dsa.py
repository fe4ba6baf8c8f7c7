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
DSA_SOURCE_PREFIX = "dsa/"  # source_file of every row this source writes
DEFAULT_BLOCK_BYTES = 1 << 20  # Arrow's own default: it parses fastest
ROWS_PER_STEP = 100_000  # blocks are mapped this many rows at a time: fewer Python steps
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


def find_dump(dsa_dir: Path, day: dt.date, variant: str = "full") -> Path | None:
    """The day's dump in ``dsa_dir``: the preferred variant, else the other one."""
    for kind in (variant, "light" if variant == "full" else "full"):
        path = dsa_dir / f"sor-global-{day.isoformat()}-{kind}.zip"
        if path.is_file():
            return path
    return None


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
        for table in _tables(_blocks(stream, part, block_bytes)):
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


def _tables(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
    pending, rows = [], 0
    for batch in batches:
        pending.append(batch)
        rows += len(batch)
        if rows >= ROWS_PER_STEP:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


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


_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_SHIFTS = (np.arange(15, -1, -1, dtype=np.uint64) * np.uint64(4)).astype(np.uint64)


def uuid_keys(uuids: pa.StringArray) -> np.ndarray:
    """A 64-bit key per uuid, read straight from Arrow's buffer: both 64-bit halves of the
    canonical 8-4-4-4-12 hex form, mixed. Values of any other shape are hashed by pandas."""
    n = len(uuids)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(uuids.buffers()[1], np.int32)[uuids.offset : uuids.offset + n + 1]
    if uuids.null_count == 0 and offsets[-1] - offsets[0] == 36 * n:
        data = np.frombuffer(uuids.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
        nibbles = _HEX[data.reshape(n, 36)[:, _UUID_DIGITS]]
        if (nibbles != 255).all():
            wide = nibbles.astype(np.uint64)
            high = (wide[:, :16] << _SHIFTS).sum(axis=1, dtype=np.uint64)
            low = (wide[:, 16:] << _SHIFTS).sum(axis=1, dtype=np.uint64)
            with np.errstate(over="ignore"):
                return high ^ (low * np.uint64(0x9E3779B97F4A7C15))
    return pd.util.hash_array(uuids.to_numpy(zero_copy_only=False))


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

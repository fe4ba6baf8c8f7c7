"""The physical shape of a DSA Transparency Database dump: a zip of zips of CSV parts, each
with its own header, read as a stream of Arrow blocks; and a fast key for its uuids.

Nothing here knows what a statement means; ``dsa.py`` maps and counts what this reads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

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
    "decision_ground",
    "platform_name",
    "platform_uid",
    # Read for the facets only, and optional: a dump without them counts them as unknown.
    "account_type",
    "incompatible_content_illegal",
    "content_language",
    "category_specification",
    "end_date_visibility_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_account_restriction",
)
# Columns a dump may lack: the light dumps drop the scope; the facets' columns are descriptive.
OPTIONAL_COLUMNS = frozenset(COLUMNS[COLUMNS.index("account_type") :]) | {"territorial_scope"}
DEFAULT_BLOCK_BYTES = 1 << 20  # Arrow's own default: it parses fastest
ROWS_PER_STEP = 100_000  # blocks are mapped this many rows at a time: fewer Python steps


class DumpError(ValueError):
    """A dump that cannot be read at all (bad name, not a zip, a part without a header)."""


def dump_day(path: Path) -> tuple[dt.date, str]:
    match = DUMP_NAME.match(path.name)
    if not match:
        raise DumpError(
            f"{path}: not a DSA dump name (expected sor-global-YYYY-MM-DD-full.zip or -light.zip)"
        )
    return dt.date.fromisoformat(match.group(1)), match.group(2)


def dump_fingerprints(dsa_dir: Path) -> dict[str, str]:
    """Dump file name -> size and modification time: a re-published dump gets a new one."""
    if not dsa_dir.is_dir():
        return {}
    return {
        p.name: f"{p.stat().st_size}-{p.stat().st_mtime_ns}"
        for p in sorted(dsa_dir.iterdir())
        if DUMP_NAME.match(p.name)
    }


def find_dump(dsa_dir: Path, day: dt.date, variant: str = "full") -> Path | None:
    """The day's dump in ``dsa_dir``: the preferred variant, else the other one."""
    for kind in (variant, "light" if variant == "full" else "full"):
        path = dsa_dir / f"sor-global-{day.isoformat()}-{kind}.zip"
        if path.is_file():
            return path
    return None


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


def tables(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
    pending, rows = [], 0
    for batch in batches:
        pending.append(batch)
        rows += len(batch)
        if rows >= ROWS_PER_STEP:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def blocks(stream: IO[bytes], part: str, block_bytes: int) -> Iterator[pa.RecordBatch]:
    header, stream = _peek_header(stream, part)
    missing = [c for c in COLUMNS if c not in OPTIONAL_COLUMNS and c not in header]
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
        absent = [c for c in COLUMNS if c not in header]  # a light dump: no scope
        for batch in reader:
            for column in absent:
                batch = batch.append_column(column, pa.nulls(len(batch), pa.string()))
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


_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_SHIFTS = (np.arange(15, -1, -1, dtype=np.uint64) * np.uint64(4)).astype(np.uint64)


KEY_DTYPE = np.dtype([("key", np.uint64), ("low", np.uint64)])
_MIX = np.uint64(0x9E3779B97F4A7C15)


def uuid_keys(uuids: pa.StringArray) -> np.ndarray:
    """A 128-bit key per uuid, read straight from Arrow's buffer: for the canonical 8-4-4-4-12
    hex form (either case) its two 64-bit halves, as ``key`` (the high half mixed with the low
    one, so that sorting on it alone spreads well) and ``low``; the pair gives the uuid back,
    so comparing pairs is exact. Values of any other shape get two 64-bit pandas hashes."""
    n = len(uuids)
    high, low = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    if n:
        canonical = _read_canonical(uuids, high, low)
        if not canonical.all():
            other = np.flatnonzero(~canonical)
            values = uuids.take(pa.array(other)).to_numpy(zero_copy_only=False)
            high[other] = pd.util.hash_array(values)
            low[other] = pd.util.hash_array(values, hash_key="dsa-uuid-second!")
    keys = np.empty(n, dtype=KEY_DTYPE)
    with np.errstate(over="ignore"):
        keys["key"] = high ^ (low * _MIX)
    keys["low"] = low
    return keys


def _read_canonical(uuids: pa.StringArray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Fill ``high`` and ``low`` for the canonical uuids; returns which rows were."""
    n = len(uuids)
    offsets = np.frombuffer(uuids.buffers()[1], np.int32)[uuids.offset : uuids.offset + n + 1]
    canonical = np.diff(offsets) == 36
    if uuids.null_count:
        canonical &= uuids.is_valid().to_numpy(zero_copy_only=False)
    if not canonical.any():
        return canonical
    data = np.frombuffer(uuids.buffers()[2], np.uint8)
    if canonical.all():  # the usual block: 36 bytes a row, back to back
        digits = data[offsets[0] : offsets[-1]].reshape(n, 36)[:, _UUID_DIGITS]
    else:
        digits = data[offsets[:-1][canonical][:, None] + _UUID_DIGITS]
    nibbles = _HEX[digits]
    digits_ok = (nibbles != 255).all(axis=1)
    wide = nibbles[digits_ok].astype(np.uint64)
    where = np.flatnonzero(canonical)[digits_ok]
    high[where] = (wide[:, :16] << _SHIFTS).sum(axis=1, dtype=np.uint64)
    low[where] = (wide[:, 16:] << _SHIFTS).sum(axis=1, dtype=np.uint64)
    canonical[np.flatnonzero(canonical)[~digits_ok]] = False
    return canonical


class SeenKeys:
    """The uuid keys met so far in a day's dump, across every part: exact, 16 bytes a statement
    (a 10 M-row day: 160 MB), where a Python set of the same keys takes about 10 times that.

    Kept as runs sorted by key and merged two by two when the newer grows to the older's size
    (as a log-structured merge tree does): a block is checked with one binary search per run,
    and there are never more than log2(statements / block) runs. Sorting is on the 64-bit key;
    the low half settles the (astronomically rare) keys that two uuids share."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (keys sorted, their lows)

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._runs)

    def first_seen(self, keys: np.ndarray) -> np.ndarray:
        """Per key, whether it is met here for the first time (earlier in this block, or in an
        earlier block or part, it was not); the new keys are then remembered."""
        fresh = np.zeros(len(keys), dtype=bool)
        if not len(keys):
            return fresh
        key, low = keys["key"], keys["low"]
        order = np.argsort(key, kind="stable")
        k, lo = key[order], low[order]
        same_key = k[1:] == k[:-1]
        if (same_key & (lo[1:] != lo[:-1])).any():  # a shared key: order by both halves
            order = np.lexsort((low, key))
            k, lo = key[order], low[order]
            same_key = k[1:] == k[:-1]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = ~same_key | (lo[1:] != lo[:-1])
        k, lo, positions = k[first], lo[first], order[first]
        known = np.zeros(len(k), dtype=bool)
        for run_keys, run_lows in self._runs:
            known |= _contains(run_keys, run_lows, k, lo)
        fresh[positions[~known]] = True
        self._add(k[~known], lo[~known])
        return fresh

    def _add(self, keys: np.ndarray, lows: np.ndarray) -> None:
        if not len(keys):
            return
        self._runs.append((keys, lows))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            newer_keys, newer_lows = self._runs.pop()
            older_keys, older_lows = self._runs[-1]
            merged = np.concatenate([older_keys, newer_keys])
            order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
            self._runs[-1] = (merged[order], np.concatenate([older_lows, newer_lows])[order])


def _contains(run_keys, run_lows, keys: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """Which of ``keys``/``lows`` are in the run: the key found, and its low half."""
    left = np.searchsorted(run_keys, keys, side="left")
    at = np.minimum(left, len(run_keys) - 1)
    same_key = run_keys[at] == keys
    found = same_key & (run_lows[at] == lows)
    for i in np.flatnonzero(same_key & ~found):  # another uuid with the same key: see them all
        right = np.searchsorted(run_keys, keys[i], side="right")
        found[i] = bool((run_lows[left[i] : right] == lows[i]).any())
    return found

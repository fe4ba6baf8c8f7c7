"""The followed platforms' statements of a DSA day, canonical, spilled to a Parquet file as the
dump is read: memory holds one block of them, whatever the platform's volume (one with 3 M
statements a day would otherwise need several GB). The stage writes them to
``moderation_decisions`` chunk by chunk, in the same transaction as the day's counts, once the
day has passed its checks; a blocked day's file is simply dropped."""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from risk_pipelines.sources.hashing import hash_hex

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
CHUNK_ROWS = 100_000
SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("decided_at", pa.timestamp("ns")),
        ("reported_at", pa.timestamp("ns")),
        ("content_created_at", pa.timestamp("ns")),
        *[(name, pa.string()) for name in ("policy_category", "region", "surface",
                                           "detection_source", "action", "automated_decision")],
        ("views_before_action", pa.int64()),
        ("appealed", pa.bool_()),
        ("appeal_outcome", pa.string()),
        ("platform", pa.string()),
        ("user_id_hash", pa.string()),
        ("content_id_hash", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
    ]
)  # fmt: skip


class FollowedRows:
    """Canonical ``moderation_decisions`` rows, appended block by block to a temporary Parquet
    file (removed with this object)."""

    def __init__(self, source_file: str, hash_key: str) -> None:
        self.source_file = source_file  # e.g. dsa/sor-global-2025-07-01-full.zip
        self.hash_key = hash_key
        self.count = 0
        self._path: Path | None = None
        self._writer: pq.ParquetWriter | None = None

    def __len__(self) -> int:
        return self.count

    def append(self, columns: dict[str, pa.Array], rows: np.ndarray, part: str) -> None:
        """One block's followed statements (``BlockMap.columns_for``), their data rows in
        ``part``."""
        if not len(rows):
            return
        canonical = _canonical(columns, rows, f"{self.source_file}:{part}", self.hash_key)
        if self._writer is None:
            handle, name = tempfile.mkstemp(prefix="dsa-followed-", suffix=".parquet")
            os.close(handle)
            self._path = Path(name)
            weakref.finalize(self, self._path.unlink, missing_ok=True)
            self._writer = pq.ParquetWriter(self._path, SCHEMA)
        self._writer.write_table(canonical)
        self.count += len(rows)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def discard(self) -> None:
        """Remove the spill once the day is written (or blocked): a range of days following a
        large platform would otherwise keep every day's file until the run ends."""
        self.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """The rows in chunks of at most ``rows``, as the warehouse takes them."""
        self.close()
        if self._path is None:
            return
        for batch in pq.ParquetFile(self._path).iter_batches(batch_size=rows):
            yield batch.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)

    def frame(self) -> pd.DataFrame:
        """All of them at once: for a small day, a test or a notebook."""
        parts = list(self.chunks())
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _canonical(columns: dict[str, pa.Array], rows: np.ndarray, source_file: str, key: str):
    n = len(rows)
    content_at = pc.strptime(columns["content_date"], TIMESTAMP_FORMAT, "s", error_is_null=True)
    uid = columns["platform_uid"]
    present = pc.fill_null(pc.not_equal(uid, ""), False).to_numpy(zero_copy_only=False)
    # The platform's own id of the content, kept only as a keyed hash like our own ids.
    digests = np.zeros(n, dtype="S16")
    if present.any():
        values = uid.filter(pa.array(present)).to_numpy(zero_copy_only=False)
        digests[present] = hash_hex(values, key)
    hashed = pa.array(digests, pa.binary(16), mask=~present).cast(pa.string())
    none = pa.nulls(n, pa.string())
    arrays = {
        "event_id": columns["uuid"],
        "decided_at": columns["decided_at"].cast(pa.timestamp("ns")),
        "reported_at": pa.nulls(n, pa.timestamp("ns")),
        "content_created_at": content_at.cast(pa.timestamp("ns")),
        **{name: columns[name] for name in ("policy_category", "region", "surface",
                                            "detection_source", "action",
                                            "automated_decision")},
        "views_before_action": pa.nulls(n, pa.int64()),
        "appealed": pa.array(np.zeros(n, dtype=bool)),
        "appeal_outcome": none,
        "platform": columns["platform_name"],
        "user_id_hash": none,
        "content_id_hash": hashed,
        "source_file": pa.array([source_file] * n, pa.string()),
        "source_row": pa.array(rows.astype(np.int64)),
    }  # fmt: skip
    return pa.Table.from_arrays([arrays[f.name] for f in SCHEMA], schema=SCHEMA)

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
import pyarrow.parquet as pq

from risk_pipelines.sources.hashing import hash_column

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

    def append(self, mapped: pd.DataFrame, rows: np.ndarray, part: str) -> None:
        """One block's followed statements (``BlockMap.rows_for``), their data rows in ``part``."""
        if mapped.empty:
            return
        canonical = _canonical(mapped, rows, f"{self.source_file}:{part}", self.hash_key)
        if self._writer is None:
            handle, name = tempfile.mkstemp(prefix="dsa-followed-", suffix=".parquet")
            os.close(handle)
            self._path = Path(name)
            weakref.finalize(self, self._path.unlink, missing_ok=True)
            self._writer = pq.ParquetWriter(self._path, SCHEMA)
        self._writer.write_table(pa.Table.from_pandas(canonical, SCHEMA, preserve_index=False))
        self.count += len(canonical)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

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


def _canonical(frame: pd.DataFrame, rows: np.ndarray, source_file: str, hash_key: str):
    return pd.DataFrame(
        {
            "event_id": frame["uuid"],
            "decided_at": frame["decided_at"],
            "reported_at": pd.NaT,
            "content_created_at": pd.to_datetime(
                frame["content_date"], format=TIMESTAMP_FORMAT, errors="coerce"
            ),
            **{name: frame[name] for name in ("policy_category", "region", "surface",
                                              "detection_source", "action",
                                              "automated_decision")},
            "views_before_action": pd.array([pd.NA] * len(frame), dtype="Int64"),
            "appealed": False,
            "appeal_outcome": None,
            "platform": frame["platform"],
            "user_id_hash": None,
            # The platform's own id of the content, kept only as a keyed hash like our own ids.
            "content_id_hash": hash_column(frame["platform_uid"], hash_key),
            "source_file": source_file,
            "source_row": rows,
        }
    )  # fmt: skip

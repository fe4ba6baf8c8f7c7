"""Read a daily dump of the EU DSA Transparency Database in one streaming pass and map it.

A day's dump (``sor-global-YYYY-MM-DD-full.zip`` or ``-light.zip``) is a zip of zips of CSV
parts, each with its own header. Nothing holds a whole day: parts are read through Arrow's
streaming CSV reader in blocks, each block is mapped to the canonical schema (see
``dsa_mapping``) and then either aggregated into counts or, for the platforms a team follows
closely, kept as rows. Memory is bounded by the block size, the day's uuid keys and the rows
of followed platforms, not by the size of the day.

Duplicate uuids (the dumps repeat a statement, on the next line or in another part) are dropped
across the whole day, for every platform, and counted (``SeenKeys``: 16 bytes a statement). A
row that cannot be mapped is rejected and counted under its reason, with the part and row of its
first occurrence, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_pipelines.sources.dsa_block import (
    AGGREGATE_KEYS,
    COUNT_COLUMNS,
    COUNTRY_COLUMNS,
    FACET_COLUMNS,
    BlockPlace,
    Rejection,
    map_block,
    record,
    warn_off_taxonomy,
)
from risk_pipelines.sources.dsa_dump import (
    DEFAULT_BLOCK_BYTES,
    SeenKeys,
    blocks,
    dump_day,
    iter_parts,
    tables,
    uuid_keys,
)
from risk_pipelines.sources.dsa_followed import FollowedRows

__all__ = ["AGGREGATE_KEYS", "DSA_SOURCE_PREFIX", "DsaDay", "Rejection", "read_dump"]

DSA_SOURCE_PREFIX = "dsa/"  # source_file of every row this source writes


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
    # platform x country: statements applying there (one per country of each scope)
    countries: pd.DataFrame = field(default_factory=pd.DataFrame)
    # platform x facet x value: statements (dsa_mapping.FACETS, restriction length)
    facets: pd.DataFrame = field(default_factory=pd.DataFrame)
    # platform -> statements per whole day from content to decision (dsa_block.MAX_DELAY_DAYS)
    delays: dict[str, np.ndarray] = field(default_factory=dict)
    # The followed platforms' statements, canonical, spilled to disk as they were read.
    followed: FollowedRows | None = None
    rejected: dict[str, Rejection] = field(default_factory=dict)
    # Counted, but worth a look (a category outside the day's taxonomy): same record shape.
    warnings: dict[str, Rejection] = field(default_factory=dict)

    @property
    def rows(self) -> pd.DataFrame:
        """The followed statements at once (a small day, a test); the stage streams them."""
        return self.followed.frame() if self.followed is not None else pd.DataFrame()

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
    by_country: list[pd.DataFrame] = []
    by_facet: list[pd.DataFrame] = []
    result.followed = FollowedRows(f"{DSA_SOURCE_PREFIX}{path.name}", hash_key)
    seen = SeenKeys()  # the whole day's: a statement repeated in another part counts once
    for part, stream in iter_parts(path):
        result.parts.append(part)
        row_offset = 0
        for table in tables(blocks(stream, part, block_bytes)):
            rows = np.arange(row_offset + 1, row_offset + len(table) + 1)
            row_offset += len(table)
            result.rows_read += len(table)
            # Rows left out are masked, not filtered out: copying every column of a block
            # for the hundred duplicates in it cost a tenth of the read.
            keep = _first_seen(table, rows, part, seen, result)
            if platforms is not None:
                inside = pc.is_in(table["platform_name"], pa.array(sorted(platforms))).to_numpy(
                    zero_copy_only=False
                )
                result.rows_outside_filter += int((keep & ~inside).sum())
                keep &= inside
            batch_map = map_block(table, BlockPlace(part, rows), result.rejected, keep)
            warn_off_taxonomy(table, BlockPlace(part, rows), batch_map.ok, result.warnings, day)
            counts.append(batch_map.counts())
            by_country.append(batch_map.country_counts())
            by_facet.append(batch_map.facet_counts())
            for platform, histogram in batch_map.delay_histograms().items():
                earlier = result.delays.get(platform)
                result.delays[platform] = histogram if earlier is None else earlier + histogram
            if follow:
                followed = batch_map.ok & pc.is_in(
                    table["platform_name"], pa.array(sorted(follow))
                ).to_numpy(zero_copy_only=False)
                if followed.any():
                    result.followed.append(batch_map.columns_for(followed), rows[followed], part)
            if len(counts) >= 64:  # keep the running counts small whatever the day's size
                counts = [_sum_counts(counts)]
                by_country = [_sum_by(by_country, COUNTRY_COLUMNS)]
                by_facet = [_sum_by(by_facet, FACET_COLUMNS)]
    result.aggregates = _sum_counts(counts)
    result.countries = _sum_by(by_country, COUNTRY_COLUMNS)
    result.facets = _sum_by(by_facet, FACET_COLUMNS)
    result.followed.close()
    return result


def _first_seen(table: pa.Table, rows: np.ndarray, part: str, seen: SeenKeys, result: DsaDay):
    """The block's rows met for the first time in the day (not earlier in this block, nor in
    an earlier block or part); the others are counted as duplicates. A row without a uuid is
    rejected, not taken for a duplicate."""
    uuids = table["uuid"].combine_chunks()
    # Only a short value can be blank: trimming every uuid of a block cost a quarter of the read.
    short = pc.less(pc.utf8_length(uuids), 36).to_numpy(zero_copy_only=False)
    missing = np.zeros(len(uuids), dtype=bool)
    if short.any() or uuids.null_count:
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(uuids), ""), True)
        missing = blank.to_numpy(zero_copy_only=False)
        record(result.rejected, "uuid is empty", missing, BlockPlace(part, rows))
    keep = ~missing
    fresh = seen.first_seen(uuid_keys(uuids.filter(pa.array(keep)) if missing.any() else uuids))
    result.duplicates_dropped += int((~fresh).sum())
    keep[keep] = fresh
    return keep


def _sum_counts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    int64 = dict.fromkeys(COUNT_COLUMNS, "int64")
    if not frames:
        return pd.DataFrame(columns=[*AGGREGATE_KEYS, *COUNT_COLUMNS]).astype(int64)
    total = pd.concat(frames, ignore_index=True).groupby(AGGREGATE_KEYS, as_index=False)
    return total[COUNT_COLUMNS].sum().astype(int64)


def _sum_by(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Statements summed per the other ``columns`` (the last is ``statements``)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns).astype({"statements": "int64"})
    total = pd.concat(frames, ignore_index=True).groupby(columns[:-1], as_index=False)
    return total["statements"].sum().astype({"statements": "int64"})

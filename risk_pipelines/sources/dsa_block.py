"""One block of a DSA dump mapped to the canonical vocabulary and counted.

A block is a few hundred thousand rows of one part; every field is mapped on its distinct values
only (``dsa_mapping``), and the block is then counted per aggregate key, per country of the
territorial scope, and kept as rows for the followed platforms. A row that cannot be mapped is
recorded under its reason with the part and row where it was first met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from risk_pipelines.domain.taxonomy import POLICY_CATEGORIES
from risk_pipelines.sources import dsa_mapping as mapping

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
AGGREGATE_KEYS = ["platform", "policy_category", "detection_source", "automated_decision", "action"]
# Counted beside the statements of every aggregate row: how many of them carry each DSA flag
# (field -> the mapped value counted). Columns of their own rather than keys, so the table's
# key (and the rows of older versions) stays as it was.
FLAG_COUNTS = {
    "automated_detection_yes": ("automated_detection", "yes"),
    "own_initiative": ("initiative", "own"),
    "illegal_content": ("decision_ground", "illegal"),
}
COUNT_COLUMNS = ["statements", *FLAG_COUNTS]
COUNTRY_COLUMNS = ["platform", "country", "statements"]
FACET_COLUMNS = ["platform", "facet", "value", "statements"]
_CATEGORIES = frozenset(POLICY_CATEGORIES)
# Moderation delays are counted per whole day up to two years; older content shares the last bin.
MAX_DELAY_DAYS = 730


@dataclass
class Rejection:
    reason: str
    count: int
    first_part: str
    first_row: int  # data row within the part, 1-based
    # The first EXAMPLES (part, row) of it: what quarantined_rows shows of a reason that may
    # hold millions of rows.
    examples: list[tuple[str, int]] = field(default_factory=list)


EXAMPLES = 10


@dataclass(frozen=True)
class BlockPlace:
    """Where a block's rows are: its part, and each row's 1-based data row within it."""

    part: str
    rows: np.ndarray


@dataclass
class BlockMap:
    """A block mapped to the canonical vocabulary, as codes: per field, each row's index into
    that field's few distinct mapped values. Strings are made only for the rows kept."""

    table: pa.Table
    decided_at: pa.ChunkedArray
    ok: np.ndarray
    fields: dict[str, tuple[np.ndarray, list[str | None]]]

    def counts(self) -> pd.DataFrame:
        """Statements per platform x category x detection source x automation x action."""
        if not self.ok.any():
            return pd.DataFrame(columns=[*AGGREGATE_KEYS, *COUNT_COLUMNS])
        platform = pc.dictionary_encode(self.table["platform_name"]).combine_chunks()
        dims = [(platform.indices.to_numpy(zero_copy_only=False), platform.dictionary.to_pylist())]
        dims += [self.fields[k] for k in AGGREGATE_KEYS[1:]]
        combined = np.zeros(int(self.ok.sum()), dtype=np.int64)
        for codes, values in dims:
            combined = combined * len(values) + codes[self.ok]
        uniques, inverse, totals = np.unique(combined, return_inverse=True, return_counts=True)
        flags = {
            column: np.bincount(inverse, weights=self._is(field, value), minlength=len(uniques))
            for column, (field, value) in FLAG_COUNTS.items()
        }
        columns = {}
        for key, (_, values) in reversed(list(zip(AGGREGATE_KEYS, dims, strict=True))):
            uniques, position = np.divmod(uniques, len(values))
            columns[key] = np.asarray(values, dtype=object)[position]
        frame = pd.DataFrame({k: columns[k] for k in AGGREGATE_KEYS}).assign(statements=totals)
        return frame.assign(**{c: v.astype(np.int64) for c, v in flags.items()})

    def country_counts(self) -> pd.DataFrame:
        """Statements per platform and country of their territorial scope: a statement that
        applies to the 30 EEA countries counts once in each."""
        return pd.DataFrame(self._expanded("countries"), columns=COUNTRY_COLUMNS)

    def facet_counts(self) -> pd.DataFrame:
        """Statements per platform, facet and value (``dsa_mapping.FACETS`` and the
        restriction's length): a statement listing two content types counts under each."""
        rows = [
            (platform, facet, value, count)
            for facet in [*mapping.FACETS, "restriction"]
            for platform, value, count in self._expanded(f"facet:{facet}")
        ]
        return pd.DataFrame(rows, columns=FACET_COLUMNS)

    def _expanded(self, field: str) -> list[tuple[str, str, int]]:
        """(platform, value, statements) for a field mapped to comma-joined values, each value
        of a statement's list counted once."""
        if not self.ok.any():
            return []
        platform = pc.dictionary_encode(self.table["platform_name"]).combine_chunks()
        names = platform.dictionary.to_pylist()
        codes, values = self.fields[field]
        combined = platform.indices.to_numpy(zero_copy_only=False)[self.ok] * len(values)
        uniques, totals = np.unique(combined + codes[self.ok], return_counts=True)
        return [
            (names[code // len(values)], value, int(total))
            for code, total in zip(uniques.tolist(), totals.tolist(), strict=True)
            for value in (values[code % len(values)] or mapping.UNKNOWN).split(",")
        ]

    def delay_histograms(self) -> dict[str, np.ndarray]:
        """Per platform, statements by whole days from the content's date to the decision
        (``MAX_DELAY_DAYS`` and over in the last bin): a day's median from a few kilobytes, whatever
        its size. A content date that is missing, unreadable or after the decision is left out."""
        if not self.ok.any():
            return {}
        content_at = pc.strptime(self.table["content_date"], TIMESTAMP_FORMAT, "s",
                                 error_is_null=True)  # fmt: skip
        seconds = pc.subtract(pc.cast(self.decided_at, pa.int64()), pc.cast(content_at, pa.int64()))
        seconds = pc.fill_null(seconds, -1).to_numpy(zero_copy_only=False)
        known = self.ok & (seconds >= 0)
        if not known.any():
            return {}
        days = np.minimum(seconds[known] // 86_400, MAX_DELAY_DAYS)
        platform = pc.dictionary_encode(self.table["platform_name"]).combine_chunks()
        names = platform.dictionary.to_pylist()
        codes = platform.indices.to_numpy(zero_copy_only=False)[known]
        bins = MAX_DELAY_DAYS + 1
        counts = np.bincount(codes * bins + days, minlength=len(names) * bins)
        per_platform = counts.reshape(len(names), bins)
        return {name: per_platform[i] for i, name in enumerate(names) if per_platform[i].any()}

    def _is(self, field: str, value: str) -> np.ndarray:
        """Per kept row, 1.0 where ``field`` was mapped to ``value``."""
        codes, values = self.fields[field]
        wanted = np.array([v == value for v in values] or [False])
        return wanted[codes[self.ok]].astype(float)

    def columns_for(self, mask: np.ndarray) -> dict[str, pa.Array]:
        """The chosen rows' raw and mapped columns, as Arrow arrays (the followed platforms'
        rows are built from these without a Python object per value)."""
        chosen = pa.array(mask)
        columns = {
            name: self.table[name].filter(chosen).combine_chunks()
            for name in ("uuid", "platform_name", "platform_uid", "content_date")
        }
        columns["decided_at"] = self.decided_at.filter(chosen).combine_chunks()
        for name, (codes, values) in self.fields.items():
            indices = pa.array(codes[mask].astype(np.int32))
            mapped = pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string()))
            columns[name] = mapped.cast(pa.string())
        return columns


def map_block(
    table: pa.Table, place: BlockPlace, rejected: dict[str, Rejection], keep: np.ndarray
) -> BlockMap:
    """Map a block's enum values to the canonical ones for the rows in ``keep`` (the others
    are duplicates or outside the filter); rows that cannot be mapped are rejected (counted
    with part and row) and left out of ``ok``."""
    ok = keep.copy()

    def lookup(columns: list[str], fn: Callable[..., str]) -> tuple[np.ndarray, list]:
        codes, values, bad = _apply_to_distinct([table[c] for c in columns], fn)
        for reason, mask in bad.items():
            record(rejected, reason, mask & ok, place)
            ok[mask] = False
        return codes, values

    decided_at = pc.strptime(table["application_date"], TIMESTAMP_FORMAT, "s", error_is_null=True)
    unparsable = pc.is_null(decided_at).to_numpy(zero_copy_only=False)
    if unparsable.any():
        record(rejected, "application_date is not YYYY-MM-DD HH:MM:SS (UTC)", unparsable & ok,
               place)  # fmt: skip
        ok &= ~unparsable
    empty_platform = pc.equal(table["platform_name"], "").to_numpy(zero_copy_only=False)
    if empty_platform.any():
        record(rejected, "platform_name is empty", empty_platform & ok, place)
        ok &= ~empty_platform
    fields = {
        "policy_category": lookup(["category"],
                                  lambda c: mapping.policy_category(c, _CATEGORIES)),
        "detection_source": lookup(["source_type", "automated_detection"],
                                   mapping.detection_source),
        "automated_decision": lookup(["automated_decision"], mapping.automated_decision),
        "action": lookup(["decision_visibility", "decision_account", "decision_provision",
                          "decision_monetary"], mapping.action),
        "automated_detection": lookup(["automated_detection"], mapping.automated_detection),
        "initiative": lookup(["source_type"], mapping.initiative),
        "decision_ground": lookup(["decision_ground"], mapping.decision_ground),
        "surface": lookup(["content_type"], mapping.surface),
        "region": lookup(["territorial_scope"], mapping.region),
        "countries": lookup(["territorial_scope"], mapping.countries),
    }  # fmt: skip
    for facet, (column, prefix) in mapping.FACETS.items():
        fields[f"facet:{facet}"] = lookup(
            [column], lambda raw, c=column, p=prefix: mapping.facet_values(raw, c, p)
        )
    fields["facet:restriction"] = _restriction_lengths(table, decided_at)
    return BlockMap(table, decided_at, ok, fields)


def _restriction_lengths(table: pa.Table, decided_at) -> tuple[np.ndarray, list[str]]:
    """Per row, the bucket of days from the decision to the latest restriction end date it
    gives (``no_end_date`` when it gives none), as codes into the bucket names."""
    latest = None
    for column in mapping.RESTRICTION_END_COLUMNS:
        # Parsed on the distinct values only: the column is mostly empty, or a few dates.
        encoded = pc.dictionary_encode(table[column]).combine_chunks()
        values = encoded.dictionary
        parsed = pc.coalesce(
            pc.strptime(values, TIMESTAMP_FORMAT, "s", error_is_null=True),
            pc.strptime(values, "%Y-%m-%d", "s", error_is_null=True),
        )
        ends = pc.take(pc.cast(parsed, pa.int64()), encoded.indices)
        latest = ends if latest is None else pc.max_element_wise(latest, ends)
    seconds = pc.subtract(latest, pc.cast(decided_at, pa.int64()))
    days = pc.fill_null(pc.divide(seconds, 86_400), -1).to_numpy(zero_copy_only=False)
    known = pc.is_valid(seconds).to_numpy(zero_copy_only=False)
    names = ["no_end_date", *[name for _, name in mapping.RESTRICTION_BUCKETS], "over_182_days"]
    codes = np.zeros(len(days), dtype=np.int64)
    limits = [limit for limit, _ in mapping.RESTRICTION_BUCKETS]
    codes[known] = 1 + np.searchsorted(limits, np.maximum(days[known], 0), side="left")
    return codes, names


def warn_off_taxonomy(table, place: BlockPlace, ok, warnings: dict[str, Rejection], day) -> None:
    """Record the rows whose category is outside the taxonomy in force on ``day``."""
    codes, found, _ = _apply_to_distinct(
        [table["category"]], lambda raw: mapping.taxonomy_warning(raw, day)
    )
    for i, warning in enumerate(found):
        if warning:
            record(warnings, warning, (codes == i) & ok, place)


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


def record(records: dict[str, Rejection], reason: str, mask, place: BlockPlace) -> None:
    """Count the rows of ``mask`` under ``reason``, keeping where it was first met."""
    count = int(mask.sum())
    if not count:
        return
    if reason not in records:
        records[reason] = Rejection(reason, 0, place.part, int(place.rows[mask][0]))
    found = records[reason]
    found.count += count
    room = EXAMPLES - len(found.examples)
    if room > 0:
        found.examples += [(place.part, int(row)) for row in place.rows[mask][:room]]

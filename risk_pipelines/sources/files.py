"""Reading one landing file into text columns, turning every parse-level fault into either one
clear error (naming file, row and column) or a per-row problem that the caller quarantines.

Whole-file faults raise ``LandingError``: an empty file, a header that is not comma-separated,
an unreadable Parquet file. Row faults are returned: a row with too few or too many fields (a
truncated last row, a stray delimiter), a field that is not UTF-8, a field longer than
``MAX_FIELD_CHARS``. Row numbers count data rows from 1 (the header is row 0), so row N is
line N + 1 of a CSV file.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# A longer field is not a moderation record but a fault or an attack; it is quarantined, and
# its stored raw value is cut to RAW_VALUE_CHARS so the quarantine table stays queryable.
MAX_FIELD_CHARS = 65_536
RAW_VALUE_CHARS = 1_000
_LARGEST_BLOCK = 1 << 30


class LandingError(ValueError):
    """A landing file (or a whole day) that cannot be read; the message names it."""


@dataclass
class RowProblem:
    source_row: int
    column: str | None
    reason: str
    raw: dict[str, str | None]


@dataclass
class ParsedFile:
    """A file's rows as text (``source_row`` numbering them) and the rows it could not use."""

    frame: pd.DataFrame
    header: list[str]
    problems: list[RowProblem] = field(default_factory=list)
    # Rows that never became part of ``frame`` (wrong field count); they still count as read.
    unparsed_rows: int = 0

    @property
    def rows_read(self) -> int:
        return len(self.frame) + self.unparsed_rows

    def add_problem(self, index: Hashable, column: str, reason: str) -> None:
        """A parsed row that cannot be used, kept with all its raw values."""
        row = self.frame.loc[index]
        raw = {c: clip(row[c]) for c in self.header}
        self.problems.append(RowProblem(int(row["source_row"]), column, reason, raw))


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Text no database column takes: NUL (PostgreSQL refuses it in text), the other C0 controls
# but tab, newline and carriage return, DEL, and lone UTF-16 surrogates (not encodable as UTF-8).
UNSTORABLE_CONTROLS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
UNSTORABLE_TEXT = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]"
UNSTORABLE = re.compile(UNSTORABLE_TEXT)


def storable(text: str) -> str:
    """``text`` with every character a database cannot store spelled as an escape (``\\x00``,
    ``\\ud800``), so a quarantined value shows what arrived and can itself be written."""
    return UNSTORABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def clip(value: object) -> str | None:
    """A raw value as stored in quarantine: text, cut to RAW_VALUE_CHARS with a marker."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = storable(str(value))
    if len(text) <= RAW_VALUE_CHARS:
        return text
    return f"{text[:RAW_VALUE_CHARS]}…[{len(text) - RAW_VALUE_CHARS} more characters]"


def read_landing_file(path: Path) -> ParsedFile:
    if path.stat().st_size == 0:
        raise LandingError(f"{path}: file is empty (0 bytes, not even a header row)")
    if path.suffix != ".parquet":
        return _read_csv(path)  # checks field lengths while the data is still Arrow
    parsed = _read_parquet(path)
    _flag_oversized_fields(parsed, parsed.header)
    return parsed


def _read_parquet(path: Path) -> ParsedFile:
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise LandingError(f"{path}: not a readable Parquet file: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    header = list(frame.columns)
    # Everything downstream parses text, so Parquet and CSV take the same road.
    frame = frame.astype("string").astype(object).where(frame.notna(), None)
    frame.insert(0, "source_row", range(1, len(frame) + 1))
    return ParsedFile(frame, header)


def _read_csv(path: Path) -> ParsedFile:
    header = _read_header(path)
    try:
        return _parse_csv(path, header, encoding="utf8")
    except pa.ArrowInvalid as exc:
        if "utf8" not in str(exc).lower():
            raise LandingError(f"{path}: cannot be parsed: {exc}") from exc
    # Not UTF-8 somewhere: read the bytes one-to-one as Latin-1, keep every field that is valid
    # UTF-8 after all, and quarantine the rows holding a field that is not.
    parsed = _parse_csv(path, header, encoding="latin1")
    _recover_utf8(parsed)
    return parsed


def _read_header(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        first_line = handle.readline(1 << 20)
    text = first_line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not text.strip():
        raise LandingError(f"{path}: row 0 (header) is blank; expected comma-separated names")
    names = next(csv.reader([text]))
    if len(names) == 1:
        for delimiter, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in text:
                raise LandingError(
                    f"{path}: row 0 (header) is {label}-separated ({text[:80]!r}); landing "
                    "files must be comma-separated"
                )
    return [name.strip().lower() for name in names]


def _parse_csv(path: Path, header: list[str], *, encoding: str) -> ParsedFile:
    size = path.stat().st_size
    block = 1 << 22
    while True:
        try:
            return _parse_csv_once(path, header, encoding=encoding, block_size=block)
        except pa.ArrowInvalid as exc:
            # A single field longer than a parse block (the 100 MB-field case): retry with a
            # block that holds it, then quarantine the field by length.
            if "straddl" not in str(exc) or block >= min(size + 1, _LARGEST_BLOCK):
                raise
            block = min(max(block * 8, size + 1), _LARGEST_BLOCK)


def _parse_csv_once(path, header, *, encoding, block_size, threads=True) -> ParsedFile:
    invalid: list[tuple[int | None, int, int, str]] = []

    def keep_aside(row) -> str:  # noqa: ANN001 - pyarrow's InvalidRow
        invalid.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "skip"

    names = list(dict.fromkeys(header))
    if len(names) != len(header):
        duplicated = sorted({n for n in header if header.count(n) > 1})
        raise LandingError(f"{path}: row 0 (header) names column(s) {duplicated} twice")
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding=encoding,
            block_size=block_size,
            use_threads=threads,
            skip_rows=1,
            column_names=header,
        ),
        # Blank lines are kept (as empty rows) so that line N is always row N - 1.
        parse_options=pacsv.ParseOptions(invalid_row_handler=keep_aside, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    if invalid and any(number is None for number, *_ in invalid) and threads:
        # The threaded reader does not know line numbers; re-read serially to name the rows.
        return _parse_csv_once(
            path, header, encoding=encoding, block_size=block_size, threads=False
        )
    # A column holding fewer bytes in all than the limit cannot hold one field over it.
    oversized = [
        name
        for name in header
        if table[name].nbytes > MAX_FIELD_CHARS
        and (pc.max(pc.utf8_length(table[name])).as_py() or 0) > MAX_FIELD_CHARS
    ]
    frame = table.to_pandas()
    # Each line after the header is one record, so the good rows are the line numbers that
    # were not set aside.
    bad_rows = {number - 1 for number, *_ in invalid}
    total = len(frame) + len(invalid)
    good_rows = [r for r in range(1, total + 1) if r not in bad_rows] if bad_rows else None
    frame.insert(0, "source_row", good_rows if good_rows is not None else range(1, total + 1))
    problems = [
        RowProblem(
            number - 1,
            None,
            f"row has {actual} field(s) where the header has {expected} "
            f"({'truncated row' if actual < expected else 'extra delimiter or unquoted comma'})",
            {"_line": clip(text)},
        )
        for number, expected, actual, text in invalid
    ]
    parsed = ParsedFile(frame, header, problems, unparsed_rows=len(invalid))
    _flag_oversized_fields(parsed, oversized)
    return parsed


def _recover_utf8(parsed: ParsedFile) -> None:
    frame = parsed.frame
    for column in parsed.header:
        values = frame[column]
        # A regular expression, not str.isascii: that is pandas 3 only, and the bench extra's
        # statsforecast keeps pandas 2.
        ascii_only = values.astype("string").str.fullmatch(r"[\x00-\x7f]*")
        non_ascii = values.notna() & ~ascii_only.fillna(True).astype(bool)
        for index in values.index[non_ascii.to_numpy()]:
            text = values.at[index]
            try:
                frame.at[index, column] = text.encode("latin1").decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = text.encode("latin1")[exc.start : exc.start + 1]
                parsed.add_problem(
                    index,
                    column,
                    f"{column} is not UTF-8 text (byte 0x{byte.hex()} at position "
                    f"{exc.start}; the file looks Latin-1 encoded)",
                )


def _flag_oversized_fields(parsed: ParsedFile, columns: list[str]) -> None:
    """Quarantine rows with an over-long field in ``columns`` (those whose longest value is
    over the limit: Arrow finds them for CSV without touching each row in Python)."""
    frame = parsed.frame
    for column in columns:
        lengths = frame[column].astype("string").str.len()
        for index in lengths.index[(lengths > MAX_FIELD_CHARS).fillna(False).to_numpy()]:
            parsed.add_problem(
                index,
                column,
                f"{column} is {int(lengths.at[index]):,} characters long, over the "
                f"{MAX_FIELD_CHARS:,}-character limit",
            )

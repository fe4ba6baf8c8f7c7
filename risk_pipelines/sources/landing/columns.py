"""The landing contract's columns and the parsers that turn their text into typed values,
sending every value they cannot use to the rejects with the column and the reason."""

from __future__ import annotations

import pandas as pd

from risk_pipelines.sources.files import (
    UNSTORABLE,
    UNSTORABLE_CONTROLS,
    UNSTORABLE_TEXT,
    storable,
)
from risk_pipelines.sources.landing.rejects import META_COLUMNS, Rejects

DECISION_REQUIRED = (
    "event_id",
    "decided_at",
    "policy_category",
    "region",
    "surface",
    "detection_source",
    "action",
    "automated_decision",
    "appealed",
)
DECISION_OPTIONAL = (
    "reported_at",
    "content_created_at",
    "views_before_action",
    "appeal_outcome",
    "platform",
    "user_id",
    "content_id",
)
INCIDENT_REQUIRED = (
    "incident_id",
    "started_at",
    "detected_at",
    "severity",
    "policy_category",
    "region",
    "detection_source",
)
INCIDENT_OPTIONAL = ("resolved_at", "title", "platform")
METRIC_REQUIRED = ("ds", "metric", "value")
METRIC_DIMENSIONS = ("platform", "policy_category", "region", "surface")
METRIC_OPTIONAL = (*METRIC_DIMENSIONS, "numerator", "denominator")

KNOWN_OPTIONAL = (*DECISION_OPTIONAL, *INCIDENT_OPTIONAL, *METRIC_OPTIONAL)
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}


def text_column(raw: pd.DataFrame, column: str, *, lower: bool = True) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="string")
    values = raw[column].astype("string").str.strip()
    values = values.str.lower() if lower else values
    return values.where(values.notna() & (values != ""), pd.NA)


_HAS_OFFSET = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


def timestamp_column(raw, column, rejects: Rejects, *, required: bool) -> pd.Series:
    """UTC timestamps. A value without an offset is UTC by contract, unless other rows of the
    same file carry offsets: then the file mixes conventions and the naive value is ambiguous."""
    if column not in raw.columns:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    source = raw[column]
    if pd.api.types.is_datetime64_any_dtype(source):
        parsed = pd.to_datetime(source, utc=True)
    else:
        text = source.astype("string").str.strip()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        given = text.notna() & (text != "")
        rejects.add(given & parsed.isna(), column, f"{column} is not an ISO 8601 timestamp")
        aware = text.str.contains(_HAS_OFFSET, regex=True).fillna(False).astype(bool)
        if aware.any() and not aware[given].all():
            files_with_offsets = raw.loc[aware, "source_file"].unique()
            rejects.add(
                given & ~aware & raw["source_file"].isin(files_with_offsets),
                column,
                f"{column} has no UTC offset while other rows of the same file do "
                "(mixed time-zone conventions; ambiguous)",
            )
    if required:
        rejects.add(parsed.isna() & ~rejects.bad, column, f"{column} is required")
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


def boolean_column(raw, column, rejects: Rejects) -> pd.Series:
    text = text_column(raw, column)
    is_true = text.isin(TRUE_WORDS)
    is_false = text.isin(FALSE_WORDS)
    rejects.add(~(is_true | is_false), column, f"{column} must be true/false")
    return is_true


def number_column(raw, column, rejects: Rejects, *, required: bool, integer: bool) -> pd.Series:
    if column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="Float64")
    text = raw[column]
    numbers = pd.to_numeric(text, errors="coerce")
    given = text.notna() & (text.astype("string").str.strip() != "")
    rejects.add(given & numbers.isna(), column, f"{column} is not a number")
    if integer:
        fractional = numbers.notna() & (numbers != numbers.round())
        rejects.add(fractional, column, f"{column} must be a whole number")
    if required:
        rejects.add(~given, column, f"{column} is required")
    return numbers.astype("Float64")


def reject_duplicates(raw, keys: pd.Series, name: str, rejects: Rejects, loaded_ids) -> None:
    """Keep the first row of each key in the batch; quarantine repeats and keys that another
    partition already holds (a re-delivered file)."""
    live = keys[~rejects.bad.loc[keys.index] & keys.notna()]
    scope = live
    repeat = scope.duplicated(keep="first")
    if repeat.any():
        first = raw.loc[scope[~repeat].index, ["source_file", "source_row"]]
        first_at = pd.Series(
            (first["source_file"] + " row " + first["source_row"].astype(str)).to_numpy(),
            index=scope[~repeat].to_numpy(),
        )
        reason = pd.Series(
            f"duplicate {name}: first given in " + first_at.reindex(scope[repeat]).to_numpy(),
            index=scope[repeat].index,
        )
        rejects.add(repeat.reindex(raw.index, fill_value=False), name, reason.reindex(raw.index))
    if loaded_ids is not None and len(loaded_ids) and name != "series":
        known = live.isin(loaded_ids.index)
        if known.any():
            days = loaded_ids.reindex(live[known]).astype(str).to_numpy()
            reason = pd.Series(
                [f"{name} already loaded for partition {d} (re-delivered?)" for d in days],
                index=live[known].index,
            )
            rejects.add(known.reindex(raw.index, fill_value=False), name, reason.reindex(raw.index))


_FORMULA_START = r"^[=+\-@\t\r]"


def reject_formula_like(values: pd.Series, column: str, rejects: Rejects) -> None:
    """An id opened in a spreadsheet must not run as a formula. Checked here rather than in
    the suite: a regex over a million distinct ids costs GX a second, here a few milliseconds."""
    looks_like_formula = values.str.contains(_FORMULA_START, regex=True).fillna(False)
    rejects.add(
        looks_like_formula.astype(bool),
        column,
        f"{column} starts like a spreadsheet formula (CSV injection)",
    )


def require_text(values: pd.Series, column: str, rejects: Rejects) -> None:
    rejects.add(values.isna(), column, f"{column} is required")


def reject_unstorable_text(raw: pd.DataFrame, rejects: Rejects) -> None:
    """A field holding text no database column takes (a NUL byte, another control character,
    a lone surrogate) quarantines its row, naming the column and the character, on every
    backend alike: SQLite would store it, PostgreSQL would fail the whole day on it. The value
    is then escaped in place, so nothing after this (nor the quarantine row) meets it raw."""
    for column in raw.columns:
        values = raw[column]
        if column in META_COLUMNS or not pd.api.types.is_string_dtype(values):
            continue
        # Arrow-backed text is valid UTF-8 by construction: only object columns can hold a
        # lone surrogate (and Arrow's regex engine has no syntax for one).
        pattern = UNSTORABLE_TEXT if values.dtype == object else UNSTORABLE_CONTROLS
        # A vectorised scan first (a quarter of extract's cost on a million rows); the few
        # rows it finds are then named character by character.
        bad = values.str.contains(pattern, regex=True).fillna(False).astype(bool)
        if not bad.any():
            continue
        found = [UNSTORABLE.search(value) for value in raw.loc[bad, column]]
        reasons = pd.Series(
            [
                f"{column} holds text a database cannot store: {_name(m.group())} at "
                f"character {m.start() + 1}"
                for m in found
            ],
            index=raw.index[bad],
        )
        rejects.add(bad, column, reasons.reindex(raw.index))
        raw.loc[bad, column] = raw.loc[bad, column].map(storable)


def _name(character: str) -> str:
    code = ord(character)
    if code == 0:
        return "a NUL byte"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X}"
    return f"the control character U+{code:04X}"

"""Bulk loads: a frame as PostgreSQL COPY text, and columns as the values a driver takes.

COPY is how 2,000 rows and more reach PostgreSQL (about 4x faster than batched INSERT); the
values are converted by pandas in bulk rather than one Python object at a time."""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Any

import pandas as pd
import sqlalchemy as sa

# PostgreSQL's NULL marker in COPY text; a text equal to it falls back to INSERT.
_COPY_NULL = "\\N"


def copy_frame(cursor, table: sa.Table, names: str, frame: pd.DataFrame) -> bool:
    """COPY the frame in as CSV, in the caller's transaction, with every column converted by
    pandas in bulk. False when a text value reads as the NULL marker (CSV cannot tell the two
    apart): the caller then INSERTs instead."""
    columns = {}
    for name in frame.columns:
        values, kind = frame[name], table.c[name].type
        if isinstance(kind, sa.DateTime):
            values = pd.to_datetime(values)
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif isinstance(kind, sa.Date):
            values = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
        elif isinstance(kind, sa.Boolean):
            values = values.astype("boolean")
        elif isinstance(kind, sa.Integer):
            values = pd.to_numeric(values).astype("Int64")  # 146, not the 146.0 of a gap
        elif (values.dtype == object or pd.api.types.is_string_dtype(values)) and values.isin(
            [_COPY_NULL]
        ).any():
            return False
        columns[name] = values
    buffer = io.StringIO()
    pd.DataFrame(columns).to_csv(
        buffer, index=False, header=False, na_rep=_COPY_NULL, lineterminator="\n",
        date_format="%Y-%m-%d %H:%M:%S.%f",
    )  # fmt: skip
    buffer.seek(0)
    cursor.copy_expert(
        f"COPY \"{table.name}\" ({names}) FROM STDIN WITH (FORMAT csv, NULL '{_COPY_NULL}')",
        buffer,
    )
    return True


def driver_values(series: pd.Series, column_type: sa.types.TypeEngine, dialect: str) -> list:
    """One column as the DB driver wants it: None for missing; on SQLite, dates and timestamps
    as the text SQLAlchemy itself writes there, so Core reads them back unchanged."""
    missing = series.isna().to_numpy()
    if isinstance(column_type, sa.DateTime):
        stamps = pd.to_datetime(series)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        values = (
            stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            if dialect == "sqlite"
            else pd.Series(stamps.dt.to_pydatetime(), index=series.index, dtype=object)
        )
    elif isinstance(column_type, sa.Date):
        days = pd.to_datetime(series)
        values = (
            days.dt.strftime("%Y-%m-%d")
            if dialect == "sqlite"
            else pd.Series(days.dt.date, index=series.index, dtype=object)
        )
    elif isinstance(column_type, sa.Boolean):
        flags = series.astype(bool)
        values = flags.astype(int) if dialect == "sqlite" else flags
    else:
        values = series
    out = values.astype(object).tolist()
    if missing.any():
        out = [None if m else v for v, m in zip(out, missing, strict=True)]
    if values.dtype == object and not _SAFE_TYPES.issuperset({type(v) for v in out[:2000]}):
        return [_plain(v) for v in out]
    return out


_SAFE_TYPES = {str, int, float, bool, type(None), dt.date, dt.datetime}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, dt.date | str):
        return value.item()  # numpy scalar -> Python scalar (psycopg2 cannot adapt numpy)
    return value

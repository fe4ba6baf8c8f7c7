"""Reading and writing the warehouse through SQLAlchemy 2 Core.

Partition writes are idempotent: the rows of a partition are deleted and the new rows inserted
in one transaction, so a failed write leaves the previous rows as they were.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from risk_pipelines.warehouse.bulk_load import copy_frame, driver_values
from risk_pipelines.warehouse.schema import TABLES, metadata
from risk_pipelines.warehouse.views import create_views, drop_views

_INSERT_CHUNK = 20_000


def normalise_url(url: str) -> str:
    """Map a bare ``postgresql://`` URL to psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def redact_url(url: str) -> str:
    return sa.engine.make_url(normalise_url(url)).render_as_string(hide_password=True)


_SCHEMA_CHECKED: set[str] = set()


class SchemaMismatch(RuntimeError):
    """An existing table does not match this version's definition and holds data."""


class Warehouse:
    """One warehouse reached by URL: SQLite by default, PostgreSQL in production."""

    # On PostgreSQL, writes of this many rows or more go through COPY (the bulk-load path);
    # smaller ones through multi-row INSERTs, which cost less to set up.
    copy_min_rows: int = 2_000

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = _make_engine(self.url)
        # Inspecting every table costs dozens of queries on PostgreSQL: once per process and URL.
        if create and self.url not in _SCHEMA_CHECKED:
            self.ensure_schema()
            _SCHEMA_CHECKED.add(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """Create missing tables; add the optional (nullable) columns this version added to an
        existing table; rebuild a table whose key or required columns differ when it is empty,
        and refuse it with its name when it holds rows. The
        analyst views are recreated with this version's definitions.

        All of it is one transaction, and on PostgreSQL one process at a time (drop_views takes
        the schema lock): Celery workers starting together on a fresh database would otherwise
        all create the tables, and all but one fail on the others' types."""
        with self.engine.begin() as conn:
            drop_views(conn)  # views read the tables: out of the way first
            inspector = sa.inspect(conn)
            existing = set(inspector.get_table_names())
            for table in metadata.sorted_tables:
                if table.name not in existing:
                    continue
                columns = {c["name"] for c in inspector.get_columns(table.name)}
                key = set(inspector.get_pk_constraint(table.name)["constrained_columns"])
                wanted_key = {c.name for c in table.primary_key.columns}
                missing = set(table.c.keys()) - columns
                if not missing and key == wanted_key:
                    continue
                if key == wanted_key and all(table.c[name].nullable for name in missing):
                    # A newer version only added optional columns: add them, keep the rows.
                    for name in sorted(missing):
                        column = sa.schema.CreateColumn(table.c[name]).compile(conn)
                        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column}"))
                    continue
                if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
                    raise SchemaMismatch(
                        f"warehouse table {table.name} predates this version (missing columns "
                        f"{sorted(missing) or 'none'}; key {sorted(key)} instead of "
                        f"{sorted(wanted_key)}) and holds rows: migrate it, or for a demo "
                        "warehouse start over (make clean)"
                    )
                table.drop(conn)
            metadata.create_all(conn, checkfirst=True)
            create_views(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Warehouse({redact_url(self.url)})"

    # -- writes -------------------------------------------------------------------------------

    def replace_rows(
        self,
        table_name: str,
        frame: pd.DataFrame,
        *,
        where: Mapping[str, Any] | None = None,
        between: tuple[str, Any, Any] | None = None,
        like: Mapping[str, str] | None = None,
        not_like: Mapping[str, str] | None = None,
    ) -> int:
        """Delete the rows matching ``where``/``between``/``like``/``not_like`` and insert
        ``frame``, atomically.

        ``where`` maps a column to a value or a list of values; ``between`` is
        ``(column, first, last)`` inclusive; ``like`` and ``not_like`` map a column to a SQL
        LIKE pattern (so two sources can share a table's partitions without deleting each
        other's rows). Returns the number of rows inserted.
        """
        with self.engine.begin() as conn:
            return self._replace(
                conn, table_name, frame, where=where, between=between, like=like,
                not_like=not_like,
            )  # fmt: skip

    def replace_together(
        self, changes: Sequence[tuple[str, pd.DataFrame | Iterable[pd.DataFrame], dict]]
    ) -> dict:
        """Several ``replace_rows`` in one transaction: ``(table, frame, options)`` each; a
        frame may come as chunks (an iterable of frames), inserted one at a time so memory holds
        one. Either every table holds its new rows or none does."""
        with self.engine.begin() as conn:
            return {
                table: self._replace(conn, table, frame, **options)
                for table, frame, options in changes
            }

    def _replace(self, conn, table_name, frame, *, where=None, between=None, like=None,
                 not_like=None) -> int:  # fmt: skip
        table = TABLES[table_name]
        delete = table.delete()
        for column, value in (where or {}).items():
            if isinstance(value, list | tuple | set):
                delete = delete.where(table.c[column].in_(list(value)))
            else:
                delete = delete.where(table.c[column] == value)
        if between is not None:
            column, first, last = between
            delete = delete.where(table.c[column].between(first, last))
        for column, pattern in (like or {}).items():
            delete = delete.where(table.c[column].like(pattern))
        for column, pattern in (not_like or {}).items():
            delete = delete.where(sa.not_(table.c[column].like(pattern)))
        if where is None and between is None:
            raise ValueError(
                "replace_rows needs a where or between clause; refusing to wipe a table"
            )
        if self.dialect == "postgresql":
            # Two runs replacing the same slice at once (a retry racing the run it retries,
            # an operator's re-run) take turns: the second deletes what the first wrote
            # instead of failing on its keys, and the slice ends whole, from one of them.
            scope = repr(
                (table_name, sorted((where or {}).items(), key=str), between, like, not_like)
            )
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": zlib.crc32(scope.encode()) - 2**31},
            )
        conn.execute(delete)
        if isinstance(frame, pd.DataFrame):
            return self._insert(conn, table_name, frame)
        return sum(self._insert(conn, table_name, chunk) for chunk in frame)

    def append_rows(self, table_name: str, frame: pd.DataFrame) -> int:
        """Insert ``frame`` in one transaction (for tables that keep every run)."""
        with self.engine.begin() as conn:
            return self._insert(conn, table_name, frame)

    def _insert(self, conn: Connection, table_name: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        table = TABLES[table_name]
        unknown = set(frame.columns) - set(table.c.keys())
        if unknown:
            raise ValueError(
                f"{table_name}: columns not in the table definition: {sorted(unknown)}"
            )
        columns = list(frame.columns)
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "postgresql" and len(frame) >= self.copy_min_rows:
            cursor = conn.connection.driver_connection.cursor()
            try:
                if copy_frame(cursor, table, names, frame):
                    return len(frame)
            except conn.dialect.loaded_dbapi.Error as exc:
                raise sa.exc.DBAPIError.instance(
                    "COPY", None, exc, conn.dialect.loaded_dbapi.Error
                ) from exc
            finally:
                cursor.close()
        rows = list(
            zip(
                *(driver_values(frame[c], table.c[c].type, self.dialect) for c in columns),
                strict=True,
            )
        )
        # Straight to the driver: SQLAlchemy's per-parameter processing costs more than the
        # insert itself at millions of rows. Same connection, so same transaction as the delete.
        cursor = conn.connection.driver_connection.cursor()
        if self.dialect == "postgresql":
            statement = f'INSERT INTO "{table.name}" ({names}) VALUES %s'
        else:
            statement = (
                f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
            )
        try:
            if self.dialect == "postgresql":
                from psycopg2.extras import execute_values

                execute_values(cursor, statement, rows, page_size=5000)
            else:
                for start in range(0, len(rows), _INSERT_CHUNK):
                    cursor.executemany(statement, rows[start : start + _INSERT_CHUNK])
        except conn.dialect.loaded_dbapi.Error as exc:
            # Same exception types as through SQLAlchemy (IntegrityError, ...), on any backend.
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, conn.dialect.loaded_dbapi.Error
            ) from exc
        finally:
            cursor.close()
        return len(frame)

    # -- reads --------------------------------------------------------------------------------

    def read_range(
        self,
        table_name: str,
        column: str,
        first: Any,
        last: Any,
        *,
        columns: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Rows whose ``column`` lies in [first, last], optionally filtered by ``where``."""
        table = TABLES[table_name]
        selected = [table.c[c] for c in columns] if columns else list(table.c)
        query = sa.select(*selected).where(table.c[column].between(first, last))
        for key, value in (where or {}).items():
            if isinstance(value, list | tuple | set):
                query = query.where(table.c[key].in_(list(value)))
            else:
                query = query.where(table.c[key] == value)
        return self.read_query(query)

    def read_query(self, query: sa.Select) -> pd.DataFrame:
        """Run a select; dates and timestamps come back as datetime64, floats as float64."""
        types = {c.name: c.type for c in query.selected_columns}
        if self.dialect == "sqlite":
            # SQLAlchemy parses SQLite's text timestamps one value at a time in Python;
            # fetching the raw text and converting whole columns in pandas is far faster.
            query = query.with_only_columns(
                *[_raw_sqlite(c) for c in query.selected_columns], maintain_column_froms=True
            )
        with self.engine.connect() as conn:
            result = conn.execute(query)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return _typed(frame, types)

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(sql), dict(params or {}))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def scalar(self, query: sa.Executable) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def count(self, table_name: str, where: Mapping[str, Any] | None = None) -> int:
        table = TABLES[table_name]
        query = sa.select(sa.func.count()).select_from(table)
        for key, value in (where or {}).items():
            query = query.where(table.c[key] == value)
        return int(self.scalar(query) or 0)

    def has_rows(self, table_name: str) -> bool:
        """Whether ``table_name`` holds any row, without counting them (sensors ask every tick)."""
        table = TABLES[table_name]
        return self.scalar(sa.select(sa.literal(1)).select_from(table).limit(1)) is not None

    def is_empty(self) -> bool:
        return not self.has_rows("daily_metrics")


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            # WAL lets the Dagster UI and analysts read while a run writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _raw_sqlite(column: sa.ColumnElement) -> sa.ColumnElement:
    if isinstance(column.type, sa.DateTime | sa.Date):
        return sa.type_coerce(column, sa.String).label(column.name)
    if isinstance(column.type, sa.Boolean):
        return sa.type_coerce(column, sa.Integer).label(column.name)
    return column


def _typed(frame: pd.DataFrame, types: Mapping[str, sa.types.TypeEngine]) -> pd.DataFrame:
    """Give columns the same pandas dtypes on SQLite and PostgreSQL."""
    for name, column_type in types.items():
        if name not in frame.columns:
            continue
        if isinstance(column_type, sa.DateTime | sa.Date):
            frame[name] = pd.to_datetime(frame[name], format="ISO8601")
        elif isinstance(column_type, sa.Float):
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        elif isinstance(column_type, sa.Boolean):
            values = frame[name]
            frame[name] = values.astype(bool) if values.notna().all() else values.astype("boolean")
    return frame

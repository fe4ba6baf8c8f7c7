"""The warehouse behaves the same on SQLite and PostgreSQL."""

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from risk_pipelines.warehouse import TABLES, Warehouse
from risk_pipelines.warehouse.store import SchemaMismatch, normalise_url
from risk_pipelines.warehouse.views import drop_views, render_data_dictionary
from tests.conftest import throwaway_postgres_database

DAY = dt.date(2026, 3, 1)


def metric_rows(day: dt.date, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ds": day,
            "unique_id": [f"m|own|c{i}|DE|all" for i in range(len(values))],
            "metric": "m",
            "platform": "own",
            "policy_category": [f"c{i}" for i in range(len(values))],
            "region": "DE",
            "surface": "all",
            "value": values,
            "numerator": None,
            "denominator": None,
            "source": "derived",
        }
    )


def test_every_design_table_is_created_on_first_use(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    names = set(sa.inspect(warehouse.engine).get_table_names())
    expected = {
        "moderation_decisions",
        "incidents",
        "daily_metrics",
        "metric_forecasts",
        "forecast_backtests",
        "forecast_accuracy",
        "risk_indicators",
        "alerts",
        "alert_notifications",
        "quarantined_rows",
    }
    assert expected <= names
    assert expected <= set(TABLES)


def test_replacing_a_partition_is_idempotent(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    for _ in range(3):
        warehouse.replace_rows("daily_metrics", metric_rows(DAY, [1.0, 2.0]), where={"ds": DAY})
    warehouse.replace_rows(
        "daily_metrics",
        metric_rows(DAY + dt.timedelta(1), [5.0]),
        where={"ds": DAY + dt.timedelta(1)},
    )
    assert warehouse.count("daily_metrics", {"ds": DAY}) == 2
    assert warehouse.count("daily_metrics") == 3


def test_a_failed_write_leaves_the_previous_rows_intact(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    warehouse.replace_rows("daily_metrics", metric_rows(DAY, [1.0, 2.0]), where={"ds": DAY})
    duplicate_keys = pd.concat([metric_rows(DAY, [3.0]), metric_rows(DAY, [4.0])])
    with pytest.raises(sa.exc.IntegrityError):
        warehouse.replace_rows("daily_metrics", duplicate_keys, where={"ds": DAY})
    kept = warehouse.read_range("daily_metrics", "ds", DAY, DAY)
    assert sorted(kept["value"]) == [1.0, 2.0]


def test_range_reads_return_the_same_types_on_both_backends(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    for offset in range(5):
        day = DAY + dt.timedelta(offset)
        warehouse.replace_rows(
            "daily_metrics", metric_rows(day, [float(offset)]), where={"ds": day}
        )
    frame = warehouse.read_range(
        "daily_metrics", "ds", DAY + dt.timedelta(1), DAY + dt.timedelta(3)
    )
    assert list(frame["value"]) == [1.0, 2.0, 3.0]
    assert str(frame["ds"].dtype).startswith("datetime64")
    assert frame["numerator"].isna().all()


def test_timestamps_round_trip_exactly(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    stamp = pd.Timestamp("2026-03-01 23:59:58.123456")
    row = pd.DataFrame(
        [
            {
                "ds": DAY,
                "incident_id": "i1",
                "started_at": stamp,
                "detected_at": stamp,
                "resolved_at": pd.NaT,
                "severity": "sev2",
                "policy_category": "violence",
                "region": "DE",
                "detection_source": "proactive",
                "title": "ünïcode title",
                "platform": "own",
                "source_file": "f.csv",
                "source_row": 1,
            }
        ]
    )
    warehouse.replace_rows("incidents", row, where={"ds": DAY})
    back = warehouse.read_range("incidents", "ds", DAY, DAY).iloc[0]
    assert back["started_at"] == stamp
    assert pd.isna(back["resolved_at"])
    assert back["title"] == "ünïcode title"


def test_refuses_to_replace_without_a_partition_clause(tmp_path):
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with pytest.raises(ValueError, match="refusing to wipe"):
        warehouse.replace_rows("daily_metrics", metric_rows(DAY, [1.0]))


def test_bare_postgres_urls_use_psycopg2():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_an_outdated_empty_table_is_rebuilt_and_a_filled_one_refused_by_name(warehouse_url):
    warehouse = Warehouse(warehouse_url)
    engine = warehouse.engine
    with engine.begin() as conn:  # forecast_accuracy as an earlier version defined it
        drop_views(conn)
        conn.execute(sa.text("DROP TABLE forecast_accuracy"))
        conn.execute(sa.text("CREATE TABLE forecast_accuracy (ds DATE, unique_id VARCHAR(300))"))
    warehouse.ensure_schema()  # what start-up does: empty, so rebuilt
    columns = {c["name"] for c in sa.inspect(engine).get_columns("forecast_accuracy")}
    assert {"run_id", "scaled_error", "covered_95"} <= columns
    with engine.begin() as conn:
        drop_views(conn)
        conn.execute(sa.text("DROP TABLE forecast_accuracy"))
        conn.execute(sa.text("CREATE TABLE forecast_accuracy (ds DATE, unique_id VARCHAR(300))"))
        conn.execute(sa.text("INSERT INTO forecast_accuracy VALUES ('2026-01-01', 'a')"))
    with pytest.raises(SchemaMismatch, match="forecast_accuracy predates this version"):
        warehouse.ensure_schema()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM forecast_accuracy"))
    warehouse.ensure_schema()  # leaves the current definition for the next test
    warehouse.dispose()


def test_the_data_dictionary_documents_every_analyst_view_as_defined():
    committed = (Path(__file__).parents[1] / "docs" / "data_dictionary.md").read_text()
    assert committed == render_data_dictionary(), (
        "docs/data_dictionary.md is stale: risk-pipelines data-dictionary > docs/data_dictionary.md"
    )


def test_bulk_loads_through_copy_read_back_exactly_as_inserts_do(warehouse_url):
    rows = pd.DataFrame(
        {
            "ds": DAY,
            "event_id": ["a", "b", "c", "d"],
            "decided_at": [
                pd.Timestamp("2026-03-02 00:00:01.25"),
                pd.Timestamp("2026-03-02 23:59:59"),
                pd.Timestamp("2026-03-02 12:00"),
                pd.Timestamp("2026-03-02 06:00"),
            ],  # fmt: skip
            "reported_at": [None, pd.Timestamp("2026-03-01 22:00"), None, None],
            "content_created_at": None,
            "policy_category": ["violence", "self_harm", "violence", "violence"],
            "region": ["DE", "FR", "IT", "DE"],
            "surface": ["video", "comment", "live", "video"],
            "detection_source": "automated",
            "action": "removed",
            "automated_decision": "fully",
            "views_before_action": pd.array([0, None, 12_345_678_901, 7], dtype="Int64"),
            "appealed": [True, False, False, True],
            "appeal_outcome": ["upheld", None, None, "overturned"],
            "platform": ["own", 'quote " comma, and\nnewline', "", "\\N"],
            "user_id_hash": [None, "00ff", "", "abc"],
            "content_id_hash": None,
            "source_file": "f.csv",
            "source_row": [1, 2, 3, 4],
        }
    )
    results = []
    for copy_min_rows in (0, 10**9):  # through COPY (on PostgreSQL), then through INSERT
        warehouse = Warehouse(warehouse_url)
        warehouse.copy_min_rows = copy_min_rows
        warehouse.replace_rows("moderation_decisions", rows, where={"ds": DAY})
        results.append(warehouse.read_sql("SELECT * FROM moderation_decisions ORDER BY event_id"))
        warehouse.dispose()
    via_copy, via_insert = results
    pd.testing.assert_frame_equal(via_copy, via_insert)
    assert via_copy["platform"].tolist() == rows["platform"].tolist()  # "" and "\N" are text
    assert via_copy["views_before_action"].iloc[2] == 12_345_678_901


@pytest.mark.postgres
def test_processes_starting_together_on_a_fresh_database_create_its_schema_once(
    postgres_server_url,
):
    # What Celery workers do when the first run reaches a new warehouse: each builds the schema.
    with throwaway_postgres_database(postgres_server_url) as url:
        start, failures = threading.Barrier(4), []

        def start_up() -> None:
            warehouse = Warehouse(url, create=False)
            start.wait()
            try:
                warehouse.ensure_schema()
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                failures.append(exc)
            finally:
                warehouse.dispose()

        threads = [threading.Thread(target=start_up) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert failures == []
        engine = sa.create_engine(url)
        created = set(sa.inspect(engine).get_table_names())
        engine.dispose()
        assert created == set(TABLES)

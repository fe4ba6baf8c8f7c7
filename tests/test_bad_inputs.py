"""The bad-input matrix: each class of broken delivery, as a real file on disk, ends in a clear
blocked day (naming file, row and column) or in quarantine rows with a reason, on SQLite and on
PostgreSQL, and for every day rows read = rows accepted + rows quarantined."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from risk_pipelines.sources.files import MAX_FIELD_CHARS, RAW_VALUE_CHARS
from risk_pipelines.sources.hashing import hash_column
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.ingest import ingest_dataset
from risk_pipelines.warehouse import Warehouse

DAY = dt.date(2026, 3, 29)  # the EU's switch to summer time: 01:00 UTC, +01:00 -> +02:00
NOW = dt.datetime(2026, 4, 1, 12, 0)
GOOD_ROWS = 200  # one bad row is 0.5%: quarantined, and the day still loads
COLUMNS = [
    "event_id", "decided_at", "reported_at", "policy_category", "region", "surface",
    "detection_source", "action", "automated_decision", "views_before_action", "appealed",
    "appeal_outcome", "user_id",
]  # fmt: skip


def decision(i: int, day: dt.date = DAY, **changes: str) -> dict[str, str]:
    row = {
        "event_id": f"ev-{day:%Y%m%d}-{i:05d}",
        "decided_at": f"{day}T{i % 24:02d}:{i % 60:02d}:00Z",
        "reported_at": "",
        "policy_category": ("scams_and_fraud", "violence", "self_harm")[i % 3],
        "region": ("DE", "FR", "PL")[i % 3],
        "surface": "video",
        "detection_source": "automated",
        "action": "removed",
        "automated_decision": "fully",
        "views_before_action": str(i % 7),
        "appealed": "false",
        "appeal_outcome": "",
        "user_id": f"user-{i}",
    }
    row.update(changes)
    return row


def csv_text(rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> str:
    lines = [",".join(columns)] + [",".join(r.get(c, "") for c in columns) for r in rows]
    return "\n".join(lines) + "\n"


def good_rows(day: dt.date = DAY) -> list[dict[str, str]]:
    return [decision(i, day) for i in range(GOOD_ROWS)]


def folder(landing: Path, day: dt.date = DAY, dataset: str = "moderation_decisions") -> Path:
    path = landing / dataset / day.isoformat()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(landing: Path, text: str | bytes, name: str = "part-0.csv", day: dt.date = DAY) -> Path:
    path = folder(landing, day) / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Case:
    name: str
    deliver: Callable[[Path], None]
    outcome: str  # quarantined | blocked | loaded
    column: str | None = None
    reason: str = ""  # a fragment of the quarantine reason or of the blocking message
    days: tuple[dt.date, ...] = (DAY,)


def with_row(row: dict[str, str]) -> Callable[[Path], None]:
    return lambda landing: write(landing, csv_text([*good_rows(), row]))


def missing_column(landing):
    write(landing, csv_text(good_rows(), [c for c in COLUMNS if c != "action"]))


def extra_column(landing):
    rows = [dict(r, favourite_colour="teal") for r in good_rows()]
    write(landing, csv_text(rows, [*COLUMNS, "favourite_colour"]))


def renamed_column(landing):
    text = csv_text(good_rows())
    write(landing, text.replace("policy_category", "category", 1))


def latin1_bytes(landing):
    text = csv_text([*good_rows(), decision(900, user_id="josé")])
    write(landing, text.encode("latin-1"))


def utf8_bom(landing):
    write(landing, "\ufeff" + csv_text(good_rows()))


def empty_file(landing):
    write(landing, "")


def truncated_row(landing):
    text = csv_text([*good_rows(), decision(900)])
    write(landing, text[: text.rindex(",scams") + 4])  # the last row stops mid-field


def semicolon_delimited(landing):
    write(landing, csv_text(good_rows()).replace(",", ";"))


def mixed_time_zones(landing):
    write(landing, csv_text([*good_rows(), decision(900, decided_at=f"{DAY}T10:00:00")]))


def dst_transition_day(landing):
    rows = good_rows()
    # 00:30 at +01:00 is 23:30 UTC the day before: inside the one-hour tolerance.
    rows.append(decision(901, decided_at=f"{DAY}T00:30:00+01:00"))
    # 03:30 at +02:00 (after the switch) is 01:30 UTC: inside the day.
    rows.append(decision(902, decided_at=f"{DAY}T03:30:00+02:00"))
    # 22:00 at +01:00 the evening before is 21:00 UTC: another day's decision.
    rows.append(decision(903, decided_at=f"{DAY - dt.timedelta(1)}T22:00:00+01:00"))
    write(landing, csv_text(rows))


def out_of_order_dates(landing):
    later_day = DAY + dt.timedelta(1)
    write(landing, csv_text(list(reversed(good_rows(later_day)))), day=later_day)
    write(landing, csv_text(list(reversed(good_rows()))))


def gap_day(landing):
    write(landing, csv_text(good_rows()))
    write(landing, csv_text(good_rows(DAY + dt.timedelta(2))), day=DAY + dt.timedelta(2))


def huge_field(landing):
    huge = "x" * (100 * 1024 * 1024)
    write(landing, csv_text([*good_rows(), decision(900, user_id=huge)]))


CASES = [
    Case("missing column", missing_column, "blocked", "action", "row 0 (header) lacks"),
    Case("extra column", extra_column, "loaded", reason="favourite_colour"),
    Case("renamed column", renamed_column, "blocked", "policy_category", "renamed?"),
    Case(
        "wrong type",
        with_row(decision(900, views_before_action="lots")),
        "quarantined",
        "views_before_action",
        "is not a number",
    ),
    Case("null key", with_row(decision(900, event_id="")), "quarantined", "event_id", "required"),
    Case(
        "duplicate id",
        with_row(decision(7)),
        "quarantined",
        "event_id",
        "duplicate event_id: first given in moderation_decisions/2026-03-29/part-0.csv row 8",
    ),
    Case(
        "future date",
        with_row(decision(900, decided_at="2026-04-09T18:00:00Z")),
        "quarantined",
        "decided_at",
        "in the future",
    ),
    Case(
        "negative count",
        with_row(decision(900, views_before_action="-5")),
        "quarantined",
        "views_before_action",
        "negative",
    ),
    Case(
        "unknown category",
        with_row(decision(900, policy_category="spam")),
        "quarantined",
        "policy_category",
        "not a DSA statement-of-reasons category",
    ),
    Case("latin-1 bytes", latin1_bytes, "quarantined", "user_id", "not UTF-8 text (byte 0xe9"),
    Case("UTF-8 byte-order mark", utf8_bom, "loaded"),
    Case("empty file", empty_file, "blocked", None, "file is empty"),
    Case("truncated row", truncated_row, "quarantined", None, "truncated row"),
    Case(
        "wrong delimiter",
        semicolon_delimited,
        "blocked",
        None,
        "row 0 (header) is semicolon-separated",
    ),
    Case(
        "CSV formula injection",
        with_row(decision(900, event_id="=cmd|' /C calc'!A0")),
        "quarantined",
        "event_id",
        "spreadsheet formula",
    ),
    Case(
        "SQL in a dimension value",
        with_row(decision(900, region="DE'; DROP TABLE moderation_decisions;--")),
        "quarantined",
        "region",
        "not a two-letter country code",
    ),
    Case(
        "mixed tz-aware and naive timestamps",
        mixed_time_zones,
        "quarantined",
        "decided_at",
        "no UTC offset while other rows of the same file do",
    ),
    Case(
        "DST transition day",
        dst_transition_day,
        "quarantined",
        "decided_at",
        "outside the partition day",
    ),
    Case(
        "out-of-order dates",
        out_of_order_dates,
        "loaded",
        days=(DAY, DAY + dt.timedelta(1)),
    ),
    Case(
        "gap day",
        gap_day,
        "blocked",
        None,
        "no landing folder for 2026-03-30",
        days=(DAY, DAY + dt.timedelta(1), DAY + dt.timedelta(2)),
    ),
    Case("100 MB single field", huge_field, "quarantined", "user_id", "over the 65,536-character"),
]
# Text a database cannot store: PostgreSQL refuses a NUL and would fail the whole day on it,
# SQLite would store it. (column, value, reason) per case.
UNSTORABLE = {
    "NUL byte in a field": ("surface", "vid\x00eo", "cannot store: a NUL byte at character 4"),
    "control character in a field": ("region", "D\x07E", "control character U+0007 at character 2"),
    "NUL byte in a raw id": ("user_id", "user\x00-900", "a NUL byte at character 5"),
}
CASES += [
    Case(name, with_row(decision(900, **{column: value})), "quarantined", column, reason)
    for name, (column, value, reason) in UNSTORABLE.items()
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_ends_in_a_clear_verdict_and_the_rows_add_up(case, warehouse_url, tmp_path):
    landing = tmp_path / "landing"
    case.deliver(landing)
    warehouse = Warehouse(warehouse_url)
    run = StageRun(landing, platform="own", hash_key="k", run_id="test-run", now=NOW)
    report = ingest_dataset(warehouse, "moderation_decisions", list(case.days), run)
    accounting = report.accounting()
    assert accounting["balanced"].all(), accounting.to_string()
    stored = warehouse.read_sql(
        "SELECT source_file, source_row, column_name, reason, raw_values FROM quarantined_rows"
    )
    assert len(stored) == accounting["rows_quarantined"].sum()

    if case.outcome == "blocked":
        messages = " ".join(m for reasons in report.blocked.values() for m in reasons)
        assert case.reason in messages
        if case.column:
            assert case.column in messages
        if case.name != "gap day":
            assert f"moderation_decisions/{DAY}/part-0.csv" in messages
        for day in report.blocked:
            assert warehouse.count("moderation_decisions", {"ds": day}) == 0
        verdicts = warehouse.read_sql(
            "SELECT ds, passed, message FROM data_quality_results WHERE check_name = 'suite'"
        )
        assert (~verdicts["passed"].astype(bool)).sum() == len(report.blocked)
        return

    assert not report.blocked, report.blocked
    written = sum(warehouse.count("moderation_decisions", {"ds": d}) for d in case.days)
    assert written == accounting["rows_accepted"].sum() == report.rows_written
    if case.outcome == "loaded":
        assert accounting["rows_quarantined"].sum() == 0
        assert written == GOOD_ROWS * len(case.days)
        if case.reason:  # a warning is expected (e.g. the schema check names the column)
            assert any(case.reason in f.message for f in report.warnings())
        return

    matching = stored[stored["reason"].str.contains(case.reason, regex=False)]
    assert len(matching) >= 1, stored.to_string()
    row = matching.iloc[0]
    assert row["column_name"] == case.column
    assert row["source_file"] == f"moderation_decisions/{DAY}/part-0.csv"
    assert row["source_row"] >= 1
    assert json.loads(row["raw_values"])  # the rejected values are kept for the investigation


def test_sql_in_a_value_is_stored_as_data_and_the_table_survives(warehouse_url, tmp_path):
    landing = tmp_path / "landing"
    injected = "DE'; DROP TABLE moderation_decisions;--"
    with_row(decision(900, region=injected))(landing)
    warehouse = Warehouse(warehouse_url)
    run = StageRun(landing, platform="own", hash_key="k", run_id="r", now=NOW)
    ingest_dataset(warehouse, "moderation_decisions", [DAY], run)
    assert warehouse.count("moderation_decisions") == GOOD_ROWS
    raw = warehouse.read_sql("SELECT raw_values FROM quarantined_rows")["raw_values"].iloc[0]
    assert json.loads(raw)["region"] == injected


def test_a_huge_field_is_clipped_in_quarantine(tmp_path):
    landing = tmp_path / "landing"
    write(landing, csv_text([*good_rows(), decision(900, region="x" * (100 * 1024 * 1024))]))
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    run = StageRun(landing, platform="own", hash_key="k", run_id="r", now=NOW)
    ingest_dataset(warehouse, "moderation_decisions", [DAY], run)
    raw = json.loads(warehouse.read_sql("SELECT raw_values FROM quarantined_rows").iloc[0, 0])
    assert len(raw["region"]) < RAW_VALUE_CHARS + 50 < MAX_FIELD_CHARS
    assert raw["region"].endswith(f"[{100 * 1024 * 1024 - RAW_VALUE_CHARS} more characters]")


def test_quarantined_rows_keep_user_and_content_ids_only_as_keyed_hashes(tmp_path):
    landing = tmp_path / "landing"
    rejected = decision(900, views_before_action="lots", user_id="u-4711", content_id="c-0815")
    columns = [*COLUMNS, "content_id"]
    write(landing, csv_text([*good_rows(), rejected], columns) + "u-4711,c-0815,too,few\n")
    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    run = StageRun(landing, platform="own", hash_key="k", run_id="r", now=NOW)
    ingest_dataset(warehouse, "moderation_decisions", [DAY], run)
    stored = warehouse.read_sql("SELECT reason, raw_values FROM quarantined_rows")
    assert len(stored) == 2
    assert not stored["raw_values"].str.contains("u-4711|c-0815").any()
    values = json.loads(stored.loc[stored["reason"].str.contains("number"), "raw_values"].iat[0])
    assert values["user_id"] == "keyed-hash:" + hash_column(pd.Series(["u-4711"]), "k").iat[0]
    assert values["content_id"].startswith("keyed-hash:")
    line = json.loads(stored.loc[stored["reason"].str.contains("field"), "raw_values"].iat[0])
    assert line["_line"].startswith("withheld: may hold raw ids")


def test_a_lone_surrogate_is_quarantined_and_stored_escaped():
    """Arrow-read files cannot hold one, but a frame built in Python can: the row is rejected
    with its column and the character, and the value kept in quarantine is escaped text."""
    from risk_pipelines.sources.landing.columns import reject_unstorable_text
    from risk_pipelines.sources.landing.rejects import Rejects

    raw = pd.DataFrame(
        {"_day": [DAY, DAY], "source_file": ["f.csv", "f.csv"], "source_row": [1, 2],
         "title": pd.Series(["fine", "bro\ud800ken"], dtype=object)}
    )  # fmt: skip
    rejects = Rejects(raw)
    reject_unstorable_text(raw, rejects)
    frame = rejects.frame()
    assert frame["source_row"].tolist() == [2] and frame["column_name"].tolist() == ["title"]
    assert "a lone surrogate U+D800 at character 4" in frame["reason"].iat[0]
    assert json.loads(frame["raw_values"].iat[0])["title"] == "bro\\ud800ken"
    assert raw.loc[1, "title"] == "bro\\ud800ken"  # nothing after this meets it raw

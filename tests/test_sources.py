"""Landing readers: canonical rows out, every bad row named by file, row and column."""

import datetime as dt
from pathlib import Path

import pandas as pd

from risk_pipelines.sources import landing
from risk_pipelines.sources.hashing import hash_column

DAY = dt.date(2026, 3, 1)
HEADER = (
    "event_id,decided_at,reported_at,policy_category,region,surface,detection_source,"
    "action,automated_decision,views_before_action,appealed,appeal_outcome,user_id\n"
)


def write(root: Path, dataset: str, name: str, text: str, day: dt.date = DAY) -> Path:
    folder = root / dataset / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def good_row(i: int) -> str:
    return (
        f"e{i},2026-03-01T10:0{i}:00Z,2026-03-01T08:00:00Z,Scams_And_Fraud,de,video,"
        f"user_report,removed,none,{i},false,,user-{i}\n"
    )


def test_reads_every_file_of_a_day_and_normalises_values(tmp_path):
    write(tmp_path, "moderation_decisions", "a.csv", HEADER + good_row(1) + good_row(2))
    frame = pd.read_csv(pd.io.common.StringIO(HEADER + good_row(3)), dtype=str)
    frame.to_parquet(tmp_path / "moderation_decisions" / DAY.isoformat() / "b.parquet")
    batch = landing.read_moderation_decisions(tmp_path, [DAY], platform="own", hash_key="k")
    assert batch.rows_read == 3 and len(batch.rows) == 3 and batch.rejects.empty
    row = batch.rows.iloc[0]
    assert row["policy_category"] == "scams_and_fraud" and row["region"] == "DE"
    assert row["decided_at"] == pd.Timestamp("2026-03-01 10:01:00")
    assert row["platform"] == "own" and not row["appealed"]
    assert sorted(batch.rows["source_file"].unique()) == [
        "moderation_decisions/2026-03-01/a.csv",
        "moderation_decisions/2026-03-01/b.parquet",
    ]


def test_raw_ids_are_replaced_by_keyed_hashes(tmp_path):
    write(tmp_path, "moderation_decisions", "a.csv", HEADER + good_row(1))
    batch = landing.read_moderation_decisions(tmp_path, [DAY], platform="own", hash_key="k1")
    assert "user_id" not in batch.rows.columns
    digest = batch.rows["user_id_hash"].iloc[0]
    assert digest != "user-1" and len(digest) == 16
    other_key = hash_column(pd.Series(["user-1"]), "k2").iloc[0]
    assert other_key != digest  # keyed: without the key the hash cannot be recomputed


def test_unparseable_rows_are_rejected_with_file_row_and_column(tmp_path):
    bad_time = good_row(2).replace("2026-03-01T10:02:00Z", "yesterday")
    bad_flag = good_row(3).replace(",false,", ",maybe,")
    write(tmp_path, "moderation_decisions", "a.csv", HEADER + good_row(1) + bad_time + bad_flag)
    batch = landing.read_moderation_decisions(tmp_path, [DAY], platform="own", hash_key="k")
    assert len(batch.rows) == 1 and batch.rows_read == 3
    rejects = batch.rejects.set_index("source_row")
    assert rejects.loc[2, "column_name"] == "decided_at"
    assert rejects.loc[3, "column_name"] == "appealed"
    assert rejects.loc[2, "source_file"] == "moderation_decisions/2026-03-01/a.csv"
    assert '"decided_at": "yesterday"' in rejects.loc[2, "raw_values"]
    accounting = batch.accounting().iloc[0]
    assert (accounting["rows_read"], accounting["rows_accepted"]) == (3, 1)
    assert accounting["rows_quarantined"] == 2 and accounting["balanced"]


def test_a_missing_required_column_blocks_the_day_naming_the_file(tmp_path):
    path = write(tmp_path, "moderation_decisions", "a.csv", "event_id,decided_at\ne1,2026-03-01\n")
    batch = landing.read_moderation_decisions(tmp_path, [DAY], platform="own", hash_key="k")
    assert str(path) in batch.day_errors[DAY] and "lacks required column" in batch.day_errors[DAY]
    assert batch.files[0].problem == batch.day_errors[DAY]


def test_an_empty_file_and_a_missing_day_are_day_errors_with_clear_messages(tmp_path):
    path = write(tmp_path, "moderation_decisions", "a.csv", "")
    next_day = DAY + dt.timedelta(1)
    batch = landing.read_moderation_decisions(
        tmp_path, [DAY, next_day], platform="own", hash_key="k"
    )
    assert batch.day_errors[DAY].startswith(f"{path}: file is empty")
    assert "no landing folder for 2026-03-02" in batch.day_errors[next_day]


def test_pre_aggregated_metrics_fill_missing_dimensions_with_all(tmp_path):
    write(
        tmp_path,
        "daily_metrics",
        "m.csv",
        "ds,metric,value,region\n2026-03-01,report_volume,120,fr\n"
        "2026-03-01,report_volume,80,\n2026-03-02,report_volume,5,fr\n",
    )
    batch = landing.read_daily_metrics(tmp_path, [DAY], platform="own")
    assert sorted(batch.rows["unique_id"]) == [
        "report_volume|own|all|FR|all",
        "report_volume|own|all|all|all",
    ]
    assert batch.rejects.iloc[0]["reason"] == "ds is not the partition day of its folder"

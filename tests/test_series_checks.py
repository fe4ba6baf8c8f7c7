"""Landed pre-aggregated metrics are judged per series on their values: every class of messy
real feed ends in a named verdict on the day or the series it concerns, the rows add up, and
every other series loads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest

from risk_pipelines.quality.series_checks import SeriesCheckSettings, series_findings
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.ingest import ingest_dataset
from risk_pipelines.warehouse import Warehouse
from tests.test_real_data_flow import day_range, land, series_frame

DAYS = day_range(dt.date(2026, 1, 1), 60)
TODAY = DAYS[-1]
NOW = dt.datetime(2026, 3, 5, 12)


def history() -> pd.DataFrame:
    return series_frame(DAYS, ["clips", "shorts"], ["violence", "scams_and_fraud"])


@dataclass
class Case:
    name: str
    change: Callable[[pd.DataFrame], pd.DataFrame]
    outcome: str  # loaded | blocked | quarantined
    check: str  # the data_quality_results check that names it
    names: str  # a fragment of its message


def drop_day(frame):
    return frame[frame["ds"] != TODAY]


def silence_platform(frame):
    return frame[~((frame["ds"] == TODAY) & (frame["platform"] == "shorts"))]


def halve_one_series(frame):
    hit = (
        (frame["ds"] == TODAY)
        & (frame["platform"] == "clips")
        & (frame["policy_category"] == "violence")
    )
    return frame.assign(value=frame["value"].where(~hit, frame["value"] * 0.05))


def rename_category(frame):
    today = (frame["ds"] == TODAY) & (frame["policy_category"] == "scams_and_fraud")
    return frame.assign(policy_category=frame["policy_category"].where(~today, "fraud"))


def nul_in_dimension(frame):
    frame = frame.copy()
    hit = frame.index[(frame["ds"] == TODAY)][:1]
    frame.loc[hit, "surface"] = "vid\x00eo"
    return frame


CASES = [
    Case("missing day", drop_day, "blocked", "suite", f"no landing folder for {TODAY}"),
    Case("platform gone silent", silence_platform, "loaded", "series",
         "statements|shorts|all|all|all has no row"),
    Case("one series drops", halve_one_series, "loaded", "series",
         "statements|clips|violence|all|all dropped to 0."),
    Case("taxonomy change", rename_category, "loaded", "category_set",
         "policy_category values 1 appeared ['fraud']; 1 vanished ['scams_and_fraud']"),
    Case("NUL byte in a dimension", nul_in_dimension, "blocked", "suite",
         "more than 1% of the day's rows are quarantined"),  # 1 of 6 rows
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_class_of_messy_feed_ends_in_a_named_verdict(case, warehouse_url, tmp_path):
    landing = tmp_path / "landing"
    land(landing, case.change(history()))
    warehouse = Warehouse(warehouse_url)
    run = StageRun(landing, now=NOW)
    ingest_dataset(warehouse, "daily_metrics", DAYS[:-1], run)  # the history, loaded
    report = ingest_dataset(warehouse, "daily_metrics", [TODAY], run)
    accounting = report.accounting()
    assert accounting["balanced"].all(), accounting.to_string()
    assert (TODAY in report.blocked) == (case.outcome == "blocked")
    verdict = warehouse.read_sql(
        "SELECT passed, message FROM data_quality_results WHERE ds = :d AND check_name = :c",
        {"d": TODAY, "c": case.check},
    )
    assert case.names in verdict["message"].iat[0], verdict["message"].iat[0]
    if case.name == "NUL byte in a dimension":
        stored = warehouse.read_sql("SELECT column_name, reason FROM quarantined_rows")
        assert stored["column_name"].tolist() == ["surface"]
        assert "a NUL byte at character 4" in stored["reason"].iat[0]


def test_a_series_back_from_an_outage_is_judged_against_its_level_before_it():
    """35 days without data, then the usual level: no jump, since the baseline is the median
    of the days *with* data, and no day is blocked for it."""
    days = day_range(dt.date(2026, 1, 1), 120)
    frame = series_frame(days, ["clips"], ["violence"])
    frame["ds_ts"] = pd.to_datetime(frame["ds"])
    outage = frame["ds"].isin(days[60:95])
    frame = frame[~outage].drop(columns="ds_ts").assign(kind="count")
    frame["unique_id"] = (
        "statements|" + frame["platform"] + "|" + frame["policy_category"] + "|all|all"
    )
    today = frame[frame["ds"] == days[95]]
    findings = series_findings(today, frame[frame["ds"] < days[95]], [days[95]])
    series = next(f for f in findings if f.check == "series")
    assert series.passed, series.message
    quiet = series_findings(
        frame[frame["ds"] == days[61]].iloc[:0], frame[frame["ds"] < days[61]], [days[61]],
        SeriesCheckSettings(),
    )  # fmt: skip
    assert "statements|clips|all|all|all has no row" in quiet[0].message

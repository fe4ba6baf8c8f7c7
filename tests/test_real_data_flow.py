"""Real feeds have gaps, silent platforms and taxonomy changes: each ends in a named verdict on
the day or series it concerns, and everything else flows on. Each test lands realistic
pre-aggregated series made here (growth, a weekly cycle, heavy-tailed noise) and runs the whole
pipeline once, headless, as a new user would: ``risk-pipelines run``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk_pipelines.cli import main
from risk_pipelines.warehouse import Warehouse

METRIC = "statements"


def series_frame(
    days: list[dt.date], platforms: list[str], categories: list[str], seed: int = 3
) -> pd.DataFrame:
    """Daily counts per platform and category plus each platform's total: a level per series,
    slow growth, a weekly cycle and log-normal noise (a heavy right tail)."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(days))
    weekly = 1 + 0.25 * np.sin(2 * np.pi * t / 7)
    rows = []
    for platform in platforms:
        totals = np.zeros(len(days))
        for category in categories:
            level = rng.uniform(150, 600)
            values = level * (1 + 0.0015 * t) * weekly * rng.lognormal(0, 0.15, len(days))
            values = np.round(values)
            totals += values
            rows.append(pd.DataFrame({"ds": days, "platform": platform,
                                      "policy_category": category, "value": values}))  # fmt: skip
        rows.append(pd.DataFrame({"ds": days, "platform": platform,
                                  "policy_category": "all", "value": totals}))  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    return frame.assign(metric=METRIC, region="all", surface="all")


def land(landing: Path, frame: pd.DataFrame) -> None:
    """One pre-aggregated CSV per day under <landing>/daily_metrics/<day>/."""
    columns = ["ds", "metric", "value", "platform", "policy_category", "region", "surface"]
    for day, rows in frame.groupby("ds"):
        folder = landing / "daily_metrics" / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        rows[columns].to_csv(folder / "metrics.csv", index=False)


def day_range(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


@pytest.fixture()
def deployment(tmp_path, monkeypatch, warehouse_url):
    """A deployment that lands only pre-aggregated metrics, on either backend."""
    monkeypatch.setenv("RISK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("RISK_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("RISK_FORECAST_WORKERS", "1")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("RISK_PIPELINES_CONFIG", raising=False)
    return tmp_path / "landing", Warehouse(warehouse_url)


def run(days: list[dt.date], capsys) -> tuple[int, list[str]]:
    """The command's exit status and what it printed on stdout (Dagster logs to stderr, and
    before the command's last lines, as a terminal shows them)."""
    status = main(["run", "--start", str(days[0]), "--end", str(days[-1])])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return status, lines if status == 0 else lines + captured.err.strip().splitlines()


def test_two_years_with_four_missing_days_run_in_one_go(deployment, capsys):
    landing, warehouse = deployment
    days = day_range(dt.date(2024, 1, 1), 731)
    missing = [days[100], days[101], days[400], days[700]]
    frame = series_frame(days, ["clips", "shorts"], ["violence", "scams_and_fraud", "self_harm"])
    land(landing, frame[~frame["ds"].isin(missing)])

    status, lines = run(days, capsys)

    assert status == 0, "\n".join(lines[-20:])
    # Sources with no landing folder are not run at all (not 731 empty partitions each).
    steps = [line.split()[0] for line in lines if "partition(s)" in line]
    assert steps[:2] == ["daily_metrics", "metric_forecasts"] and "incidents" not in steps
    # The last lines name each blocked day, its dataset and why.
    tail = "\n".join(lines[-4:])
    for day in missing:
        assert f"blocked {day} daily_metrics: daily_metrics: no landing folder for {day}" in tail
    verdicts = warehouse.read_sql(
        "SELECT ds FROM data_quality_results WHERE check_name = 'suite' AND NOT passed"
    )
    assert sorted(pd.to_datetime(verdicts["ds"]).dt.date) == missing
    metrics = warehouse.read_sql("SELECT ds, unique_id FROM daily_metrics")
    metrics["ds"] = pd.to_datetime(metrics["ds"]).dt.date
    assert not metrics["ds"].isin(missing).any()  # missing days stay missing, never zeros
    assert metrics.groupby("ds").size().eq(8).all() and metrics["ds"].nunique() == 727
    forecast = warehouse.read_sql(
        "SELECT DISTINCT unique_id FROM metric_forecasts WHERE as_of = :d AND horizon = 1 "
        "AND is_primary",
        {"d": days[-1]},
    )
    assert len(forecast) == 8  # every series forecast for the day after


def test_a_platform_that_goes_silent_raises_one_alert_per_outage(deployment, capsys):
    landing, warehouse = deployment
    days = day_range(dt.date(2025, 5, 1), 200)
    platforms = ["clips", "shorts", "stories", "lives"]
    frame = series_frame(days, platforms, ["violence", "scams_and_fraud", "self_harm",
                                           "protection_of_minors", "animal_welfare"])  # fmt: skip
    assert frame.groupby(["platform", "policy_category"]).ngroups == 24
    first_outage, second_outage = days[125:130], days[160:195]  # 5 days, then 35 days
    silent = frame["platform"].eq("lives") & frame["ds"].isin(first_outage + second_outage)
    land(landing, frame[~silent])

    status, lines = run(days, capsys)

    assert status == 0, "\n".join(lines[-20:])
    verdicts = warehouse.read_sql(
        "SELECT passed FROM data_quality_results WHERE check_name = 'suite'"
    )
    assert verdicts["passed"].all()  # no day blocked: not the healthy platforms', nor after
    alerts = warehouse.read_sql(
        "SELECT unique_id, first_breach_ds, state, message FROM alerts "
        "WHERE rule_id = 'series_silent' ORDER BY unique_id, first_breach_ds"
    )
    alerts["first_breach_ds"] = pd.to_datetime(alerts["first_breach_ds"]).dt.date
    assert alerts["unique_id"].str.contains("|lives|", regex=False).all(), alerts
    per_series = alerts.groupby("unique_id")["first_breach_ds"].apply(list)
    assert len(per_series) == 6  # the platform's total and its five categories
    assert all(found == [first_outage[0], second_outage[0]] for found in per_series)
    assert (alerts["state"] == "resolved").all()  # both outages ended: data came back
    assert alerts["message"].str.contains("on lives has no data on").all()


def test_a_taxonomy_change_is_named_and_raises_no_alert_storm(deployment, capsys):
    landing, warehouse = deployment
    days = day_range(dt.date(2025, 3, 1), 160)
    change = days[100]
    old = series_frame(days, ["clips", "shorts"], ["violence", "other_violation_tc", "scams"])
    new = series_frame(days, ["clips", "shorts"], ["violence", "terms_breach", "fraud"], seed=4)
    before = old[(old["ds"] < change) & (old["policy_category"] != "all")]
    after = new[(new["ds"] >= change) & (new["policy_category"] != "all")]
    categories = pd.concat([before, after], ignore_index=True)
    totals = categories.groupby(["ds", "platform"], as_index=False)["value"].sum()
    totals = totals.assign(policy_category="all", metric=METRIC, region="all", surface="all")
    land(landing, pd.concat([categories, totals], ignore_index=True))

    status, lines = run(days, capsys)

    assert status == 0, "\n".join(lines[-20:])
    named = warehouse.read_sql(
        "SELECT message FROM data_quality_results "
        "WHERE check_name = 'category_set' AND NOT passed AND ds = :d",
        {"d": change},
    )
    assert len(named) == 1
    message = named["message"].iat[0]
    assert "appeared ['fraud', 'terms_breach']" in message
    assert "vanished ['other_violation_tc', 'scams']" in message
    opened = warehouse.read_sql(
        "SELECT rule_id, unique_id FROM alerts WHERE first_breach_ds BETWEEN :a AND :b",
        {"a": change, "b": change + dt.timedelta(days=2)},
    )
    assert opened.empty, opened  # no per-category storm on the change
    silent = warehouse.read_sql("SELECT unique_id FROM alerts WHERE rule_id = 'series_silent'")
    assert silent.empty, silent  # the ended categories are not outages

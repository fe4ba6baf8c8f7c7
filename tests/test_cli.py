"""The command line prints what it did and fails with one line on bad input."""

import datetime as dt
from pathlib import Path

import pytest

from risk_pipelines.cli import main


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RISK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RISK_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.delenv("RISK_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


def test_demo_data_then_run_prints_a_summary(env, capsys):
    start, end = dt.date(2026, 6, 1), dt.date(2026, 7, 5)
    assert main(["demo-data", "--start", str(start), "--end", str(end), "--scale", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "wrote 35 day(s) of demo data" in out and "ground truth: report_surge" in out
    assert main(["run", "--start", str(end - dt.timedelta(days=1)), "--end", str(end)]) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and "moderation_decisions" in out and "series forecast" in out
    assert "alerts: " in out
    assert main(["alerts", "list"]) == 0


def test_a_successful_run_prints_a_line_per_step_and_keeps_dagsters_log_in_a_file(env, capfd):
    """A person sees the steps with their partitions, rows and seconds; the thousand DEBUG
    event lines of a backfill go to the file whose path is printed (the terminal with
    --verbose). Read at the file descriptors, so a Dagster handler writing to the real stderr
    would be caught too."""
    start, end = dt.date(2026, 6, 1), dt.date(2026, 6, 21)
    main(["demo-data", "--start", str(start), "--end", str(end), "--scale", "0.1"])
    capfd.readouterr()
    assert main(["run", "--start", str(start), "--end", str(end), "--no-alerts"]) == 0
    out, err = capfd.readouterr()
    printed = out + err
    assert " DEBUG " not in printed and "ASSET_MATERIALIZATION" not in printed
    step = next(line for line in out.splitlines() if line.strip().startswith("daily_metrics"))
    assert "21 partition(s)" in step and " rows" in step and step.endswith("s")
    log_line = next(line for line in out.splitlines() if "event log: " in line)
    log = Path(log_line.split("event log: ")[1])
    assert log.parent == env / "data" / "logs"
    assert "DEBUG" in log.read_text() and "ASSET_MATERIALIZATION" in log.read_text()

    assert main(["brief", "--day", str(end), "--verbose"]) == 0
    assert "ASSET_MATERIALIZATION" in capfd.readouterr().err  # --verbose: the log here too


def test_bad_input_exits_non_zero_with_one_line(env, capsys):
    assert main(["run", "--start", "2026-06-05", "--end", "2026-06-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: end 2026-06-01 is before start") and "\n" not in err
    # nothing has landed at RISK_LANDING_DIR: the run fails and says so
    assert main(["run", "--start", "2026-06-01", "--end", "2026-06-01"]) == 1
    err = capsys.readouterr().err
    assert "no source is deployed under" in err and "step daily_metrics failed" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["demo-data", "--start", "yesterday", "--end", "2026-06-01"])
    assert exit_info.value.code == 2
    assert main(["demo-data", "--start", "2026-06-02", "--end", "2026-06-01"]) == 2
    assert "is before start" in capsys.readouterr().err


def test_a_date_outside_the_partitions_is_refused(env, capsys):
    assert main(["run", "--start", "2019-01-01", "--end", "2019-01-02"]) == 2
    assert "outside the daily partitions" in capsys.readouterr().err


def test_a_blocked_day_is_named_in_the_last_lines(env, capsys):
    """The day, the dataset, the reason, and the first quarantined row's file, row and column,
    where a person reads first: at the end, not dozens of lines up in a Dagster log."""
    from tests.test_bad_inputs import csv_text, decision, good_rows, write

    day = dt.date(2026, 3, 29)
    bad = [decision(900 + i, day, region="D3") for i in range(10)]  # 5 % of the day
    write(env / "landing", csv_text([*good_rows(day), *bad]), day=day)
    assert main(["run", "--start", str(day), "--end", str(day)]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-3:]
    blocked = next(line for line in last if "blocked" in line)
    assert f"blocked {day} moderation_decisions: " in blocked
    assert "more than 1% of the day's rows are quarantined" in blocked
    assert f"first quarantined: moderation_decisions/{day}/part-0.csv row " in blocked
    assert "column region: region is not a two-letter country code" in blocked


def test_a_headless_dsa_ingest_then_a_run_forecasts_and_scores_the_dsa_series(env, capsys):
    """The DSA source without the UI or its sensor: ingest a range of dumps, then the daily run
    over the same days forecasts the new series and scores them."""
    from tests.dsa_dumps import synthetic_dump

    first, days = dt.date(2026, 5, 1), 35
    for i in range(days):
        day = first + dt.timedelta(days=i)
        (env / "landing" / "dsa").mkdir(parents=True, exist_ok=True)
        synthetic_dump(env / "landing" / "dsa", day.isoformat(), 120 + i % 7 * 10, seed=i)
    last = first + dt.timedelta(days=days - 1)
    assert main(["dsa", "ingest", "--start", str(first), "--end", str(last)]) == 0
    out = capsys.readouterr().out
    assert f"{days} day(s) loaded, none blocked" in out and "duplicates" in out
    assert main(["dsa", "ingest", "--day", str(last + dt.timedelta(days=1))]) == 1
    assert f"blocked {last + dt.timedelta(days=1)}: no dump for" in capsys.readouterr().err
    assert main(["dsa", "ingest", "--day", str(last), "--end", str(last)]) == 2

    assert main(["run", "--start", str(first), "--end", str(last), "--no-alerts"]) == 0
    from risk_pipelines.config import load_settings
    from risk_pipelines.warehouse.store import Warehouse

    warehouse = Warehouse(load_settings().warehouse_url)
    forecast = set(
        warehouse.read_sql(
            "SELECT DISTINCT unique_id FROM metric_forecasts WHERE as_of = :d", {"d": last}
        )["unique_id"]
    )
    assert "dsa_statements|Kleinanzeigen|all|all|all" in forecast
    assert "dsa_automated_detection_rate|Wallapop|all|all|all" in forecast
    scored = warehouse.read_sql(
        "SELECT COUNT(*) AS n FROM risk_indicators WHERE ds = :d AND metric LIKE 'dsa_%'",
        {"d": last},
    )["n"].iat[0]
    assert scored >= 15  # three platforms, volume and four shares each

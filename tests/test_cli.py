"""The command line prints what it did and fails with one line on bad input."""

import datetime as dt

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


def test_bad_input_exits_non_zero_with_one_line(env, capsys):
    assert main(["run", "--start", "2026-06-05", "--end", "2026-06-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: end 2026-06-01 is before start") and "\n" not in err
    # nothing has landed at RISK_LANDING_DIR: the run fails and says so
    assert main(["run", "--start", "2026-06-01", "--end", "2026-06-01"]) == 1
    err = capsys.readouterr().err
    assert "no source is deployed under" in err and "failed in ['daily_metrics']" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["demo-data", "--start", "yesterday", "--end", "2026-06-01"])
    assert exit_info.value.code == 2
    assert main(["demo-data", "--start", "2026-06-02", "--end", "2026-06-01"]) == 2
    assert "is before start" in capsys.readouterr().err


def test_a_date_outside_the_partitions_is_refused(env, capsys):
    assert main(["run", "--start", "2019-01-01", "--end", "2019-01-02"]) == 2
    assert "outside the daily partitions" in capsys.readouterr().err

"""Silences hold back notifications (never the alert itself); people acknowledge and label
alerts, and labels give each rule a precision."""

import datetime as dt
import logging

import pandas as pd
import pytest

from risk_pipelines.alerting import repository
from risk_pipelines.alerting.evaluation.rules import parse_rules
from risk_pipelines.alerting.notification.channels import LogChannel
from risk_pipelines.alerting.notification.silences import SilenceError, new_silence, parse_matchers
from risk_pipelines.cli import main
from risk_pipelines.indicators.surprise import INDICATOR_COLUMNS
from risk_pipelines.stages.alerts import evaluate_pending_days
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse import alerts as store

NOW = dt.datetime(2026, 3, 10, 9, 0)
RULES = parse_rules({"rules": [{
    "id": "report_surge", "type": "outside_interval", "severity": "high",
    "match": {"metric": "user_reports"}, "sustain": 1, "hold": 1,
}]})  # fmt: skip
SERIES = {region: f"user_reports|own|scams_and_fraud|{region}|all" for region in ("DE", "FR")}


def indicators(day: dt.date, surging: set[str]) -> pd.DataFrame:
    rows = []
    for region, uid in SERIES.items():
        value = 400.0 if region in surging else 100.0
        rows.append({
            "ds": day, "indicator": "user_reports", "unique_id": uid, "metric": "user_reports",
            "platform": "own", "policy_category": "scams_and_fraud", "region": region,
            "surface": "all", "value": value, "expected": 100.0, "lower": 80.0, "upper": 120.0,
            "score": (value - 100) / 10, "level": "critical" if value > 150 else "ok",
            "numerator": None, "denominator": None, "model": "ets", "as_of": day, "note": None,
        })  # fmt: skip
    return pd.DataFrame(rows)[INDICATOR_COLUMNS]


def evaluate(warehouse: Warehouse, day: dt.date, surging: set[str], caplog) -> list[str]:
    warehouse.replace_rows("risk_indicators", indicators(day, surging), where={"ds": day})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="risk_pipelines.alerts"):
        evaluate_pending_days(warehouse, RULES, now=NOW, channels={"log": LogChannel()})
    return [r.getMessage() for r in caplog.records if r.name == "risk_pipelines.alerts"]


def test_a_silence_needs_an_author_a_comment_known_keys_and_ends_within_30_days():
    with pytest.raises(SilenceError, match="needs a comment"):
        new_silence({"region": "DE"}, "ana", " ", NOW, NOW + dt.timedelta(hours=1))
    with pytest.raises(SilenceError, match="more than 30 days away"):
        new_silence({"region": "DE"}, "ana", "launch", NOW, NOW + dt.timedelta(days=31))
    with pytest.raises(SilenceError, match="unknown key 'country'"):
        parse_matchers(["country=DE"])
    with pytest.raises(SilenceError, match="expected key=value"):
        parse_matchers(["region"])
    silence = new_silence(parse_matchers(["rule_id=report_surge", "region=DE"]), "ana",
                          "known bot wave", NOW, NOW + dt.timedelta(days=2))  # fmt: skip
    assert silence.covers("report_surge", {"region": "DE", "metric": "user_reports"})
    assert not silence.covers("report_surge", {"region": "FR"})
    assert not silence.active(NOW + dt.timedelta(days=2))


def test_a_silenced_alert_still_fires_but_its_notification_is_held_back(warehouse_url, caplog):
    warehouse = Warehouse(warehouse_url)
    silence = new_silence({"region": "DE"}, "ana", "known bot wave, ticket T-1", NOW,
                          NOW + dt.timedelta(days=1))  # fmt: skip
    silence_id = repository.add_silence(warehouse, silence)
    sent = evaluate(warehouse, dt.date(2026, 3, 9), {"DE", "FR"}, caplog)
    assert len(sent) == 1 and "FR" in sent[0]  # DE fired too, but nobody was paged
    firing = store.list_alerts(warehouse, "firing")
    assert len(firing) == 2
    notes = warehouse.read_sql(
        "SELECT status, error FROM alert_notifications WHERE status <> 'queued' ORDER BY status"
    )
    assert notes["status"].tolist() == ["sent", "silenced"]
    assert f"silence #{silence_id} (region=DE) by ana: known bot wave" in notes["error"].iloc[1]

    store.expire_silence(warehouse, silence_id, "ana", NOW)
    # DE resolves, and that notice goes out now the silence has ended.
    sent = evaluate(warehouse, dt.date(2026, 3, 10), set(), caplog)
    assert any("RESOLVED" in m and "DE" in m for m in sent)
    with pytest.raises(ValueError, match="already ended"):
        store.expire_silence(warehouse, silence_id, "ana", NOW)


def test_labels_acknowledge_and_give_each_rule_its_precision(warehouse_url, caplog):
    warehouse = Warehouse(warehouse_url)
    evaluate(warehouse, dt.date(2026, 3, 9), {"DE", "FR"}, caplog)
    de, fr = store.list_alerts(warehouse, "firing").sort_values("region")["alert_id"].tolist()
    store.label_alert(warehouse, de, "confirmed", "ana", NOW)
    store.label_alert(warehouse, fr, "false_alarm", "ben", NOW)
    with pytest.raises(ValueError, match="expected one of"):
        store.label_alert(warehouse, fr, "meh", "ben", NOW)
    with pytest.raises(ValueError, match="alert #999 does not exist"):
        store.acknowledge(warehouse, 999, "ben", NOW)
    alerts = store.list_alerts(warehouse).set_index("alert_id")
    assert alerts.loc[de, "ack_by"] == "ana" and alerts.loc[fr, "label"] == "false_alarm"
    (row,) = store.precision_by_rule(warehouse).to_dict("records")
    assert row["rule_id"] == "report_surge" and row["fired"] == 2 and row["labelled"] == 2
    assert row["confirmed"] == 1 and row["false_alarm"] == 1 and row["precision"] == 0.5


def test_the_command_line_adds_lists_and_ends_silences(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RISK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RISK_WAREHOUSE_URL", raising=False)
    assert main(["silences", "add", "--match", "rule_id=report_surge", "--match", "region=DE",
                 "--hours", "24", "--author", "ana", "--comment", "launch in DE"]) == 0  # fmt: skip
    assert "silence #1 until" in capsys.readouterr().out
    assert main(["silences", "list"]) == 0
    assert "[active]" in capsys.readouterr().out
    assert main(["silences", "expire", "1", "--by", "ana"]) == 0
    assert main(["silences", "list"]) == 0
    assert "no active silences" in capsys.readouterr().out
    assert main(["silences", "add", "--match", "region=DE", "--hours", "24", "--author", "ana",
                 "--comment", " "]) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith("error: a silence needs a comment")
    assert main(["alerts", "precision"]) == 0
    assert "no fired alerts yet" in capsys.readouterr().out

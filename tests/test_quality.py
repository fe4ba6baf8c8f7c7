"""Quality suites: a day's verdict comes from the suite's YAML, a bad day is blocked (and keeps
what it held before), a feed fault is told from a safety event, a re-delivered file is not
loaded twice, and data engineers hear about it through the alert channels."""

import datetime as dt
import logging
import shutil
from pathlib import Path

import dagster as dg
import pytest

from risk_pipelines.alerting.notification.channels import LogChannel
from risk_pipelines.quality.gx_runner import check_suite
from risk_pipelines.quality.suite import SuiteError, load_suite
from risk_pipelines.runs import materialise_range
from risk_pipelines.sources.delivery import assess_freshness
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.ingest import KNOWN_COLUMNS, ingest_dataset
from risk_pipelines.stages.quality_alerts import evaluate_data_quality
from risk_pipelines.warehouse import Warehouse
from tests.conftest import make_resources
from tests.test_bad_inputs import DAY, GOOD_ROWS, NOW, csv_text, decision, good_rows, write


def ingest(warehouse, landing, days, dataset="moderation_decisions", now=NOW, docs_dir=None):
    run = StageRun(landing, platform="own", hash_key="k", run_id="run-1", now=now,
                   docs_dir=docs_dir)  # fmt: skip
    return ingest_dataset(warehouse, dataset, list(days), run)


def history(landing: Path, days: int = 10) -> list[dt.date]:
    """``days`` ordinary days before DAY, so the volume and mix checks have a baseline."""
    earlier = [DAY - dt.timedelta(days=i) for i in range(days, 0, -1)]
    for day in earlier:
        write(landing, csv_text(good_rows(day)), day=day)
    return earlier


@pytest.mark.parametrize("dataset", sorted(KNOWN_COLUMNS))
def test_every_packaged_suite_loads_and_builds_in_great_expectations(dataset):
    suite = load_suite(dataset)
    check_suite(suite)
    assert suite.row_expectations and suite.partition_expectations


def test_a_broken_suite_is_refused_naming_file_entry_and_field(tmp_path):
    path = tmp_path / "decisions.yaml"
    path.write_text(
        "row_expectations:\n  - expectation: expect_column_values_to_not_be_null\n"
        "    column: event_id\n  - column: region\n"
    )
    with pytest.raises(SuiteError, match=r"decisions.yaml: row_expectations entry #2 needs"):
        load_suite("decisions", tmp_path)
    path.write_text("settings: {lookback_days: -3}\nrow_expectations: []\n")
    with pytest.raises(SuiteError, match="settings.lookback_days must be a non-negative"):
        load_suite("decisions", tmp_path)
    path.write_text(
        "row_expectations:\n  - expectation: expect_column_values_to_be_purple\n    column: x\n"
    )
    with pytest.raises(SuiteError, match="entry #1: unknown Great Expectations expectation"):
        check_suite(load_suite("decisions", tmp_path))


def test_a_day_over_the_quarantine_threshold_is_blocked_and_keeps_its_previous_rows(
    warehouse_url, tmp_path
):
    landing, warehouse = tmp_path / "landing", Warehouse(warehouse_url)
    write(landing, csv_text(good_rows()))
    assert ingest(warehouse, landing, [DAY]).rows_written == GOOD_ROWS
    bad = [decision(900 + i, action="deleted") for i in range(3)]  # 3 of 203: 1.5%
    write(landing, csv_text([*good_rows(), *bad]))
    report = ingest(warehouse, landing, [DAY])
    assert "more than 1% of the day's rows are quarantined" in report.blocked[DAY][0]
    assert warehouse.count("moderation_decisions", {"ds": DAY}) == GOOD_ROWS  # untouched
    assert warehouse.count("quarantined_rows") == 3
    write(landing, csv_text([*good_rows(), bad[0]]))  # 1 of 201: 0.5%, under the threshold
    report = ingest(warehouse, landing, [DAY])
    assert not report.blocked and report.rows_written == GOOD_ROWS


def test_a_feed_that_collapses_is_blocked_as_a_data_incident(warehouse_url, tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(warehouse_url)
    ingest(warehouse, landing, history(landing))
    write(landing, csv_text(good_rows()[:15]))
    report = ingest(warehouse, landing, [DAY])
    assert "volume is outside 0.2x-5x" in report.blocked[DAY][0]
    assert "observed volume_ratio = 0.075" in report.blocked[DAY][0]


def test_a_category_mix_that_jumps_is_blocked(warehouse_url, tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(warehouse_url)
    ingest(warehouse, landing, history(landing))
    write(landing, csv_text([decision(i, policy_category="animal_welfare") for i in range(200)]))
    report = ingest(warehouse, landing, [DAY])
    assert "policy-category mix moved too far" in " ".join(report.blocked[DAY])


def test_a_redelivered_file_is_quarantined_not_loaded_twice(warehouse_url, tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(warehouse_url)
    first = write(landing, csv_text(good_rows()))
    ingest(warehouse, landing, [DAY])
    next_day = DAY + dt.timedelta(days=1)
    next_file = write(landing, csv_text(good_rows(next_day)), day=next_day)
    copy = shutil.copy(first, next_file.parent / "again.csv")
    report = ingest(warehouse, landing, [next_day])
    reasons = warehouse.read_sql("SELECT DISTINCT reason FROM quarantined_rows")["reason"]
    assert list(reasons) == [f"event_id already loaded for partition {DAY} (re-delivered?)"]
    assert report.accounting()["balanced"].all()
    # Half the day re-delivered is a delivery fault: blocked, so an engineer looks at it.
    assert next_day in report.blocked
    assert warehouse.count("moderation_decisions") == GOOD_ROWS
    Path(copy).unlink()
    assert not ingest(warehouse, landing, [next_day]).blocked
    ingest(warehouse, landing, [DAY])  # re-running a day replaces it: still no duplicates
    assert warehouse.count("moderation_decisions") == 2 * GOOD_ROWS


def test_incident_rows_must_tell_a_consistent_story(tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    header = "incident_id,started_at,detected_at,resolved_at,severity,policy_category,region,"
    header += "detection_source,title\n"
    rows = [
        f"inc-1,{DAY}T01:00:00Z,{DAY}T02:00:00Z,{DAY}T05:00:00Z,sev2,violence,DE,proactive,ok\n",
        f"inc-2,{DAY}T03:00:00Z,{DAY}T02:00:00Z,,sev2,violence,DE,proactive,started late\n",
        f"inc-3,{DAY}T01:00:00Z,{DAY}T02:00:00Z,{DAY}T01:30:00Z,sev1,violence,DE,press,x\n",
        f"inc-4,{DAY}T01:00:00Z,{DAY}T02:00:00Z,,sev1,violence,DE,press,=HYPERLINK(1)\n",
    ]
    path = landing / "incidents" / DAY.isoformat() / "i.csv"
    path.parent.mkdir(parents=True)
    path.write_text(header + "".join(rows))
    report = ingest(warehouse, landing, [DAY], dataset="incidents")
    reasons = dict(
        warehouse.read_sql("SELECT source_row, reason FROM quarantined_rows").itertuples(
            index=False
        )
    )
    assert reasons == {
        2: "detected_at is before started_at",
        3: "resolved_at is before detected_at",
        4: "title starts like a spreadsheet formula (CSV injection)",
    }
    assert DAY in report.blocked  # 3 of 4 rows is far above 1%: the day is not loaded


def test_an_appeal_outcome_without_an_appeal_is_quarantined(tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    write(landing, csv_text([*good_rows(), decision(900, appeal_outcome="overturned")]))
    ingest(warehouse, landing, [DAY])
    reason = warehouse.read_sql("SELECT column_name, reason FROM quarantined_rows").iloc[0]
    assert list(reason) == ["appeal_outcome", "appeal_outcome is given but appealed is false"]


def test_landed_metrics_are_held_to_their_kind(tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    path = landing / "daily_metrics" / DAY.isoformat() / "m.csv"
    path.parent.mkdir(parents=True)
    good = "".join(f"{DAY},report_volume,{i},DE,s{i}\n" for i in range(300))
    path.write_text(
        "ds,metric,value,region,surface\n" + good + f"{DAY},appeal_success_rate,1.4,DE,all\n"
        f"{DAY},report_volume,-2,FR,all\n"
    )
    report = ingest(warehouse, landing, [DAY], dataset="daily_metrics")
    reasons = set(warehouse.read_sql("SELECT reason FROM quarantined_rows")["reason"])
    assert reasons == {"a rate is outside [0, 1]", "a count or duration is negative"}
    assert not report.blocked and len(report.batch.rows) == 300


def test_a_header_change_between_deliveries_is_reported(tmp_path):
    landing, warehouse = tmp_path / "landing", Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    earlier = history(landing, days=1)
    ingest(warehouse, landing, earlier)
    columns = [c for c in csv_text([]).strip().split(",") if c != "user_id"]
    write(landing, csv_text(good_rows(), columns))
    report = ingest(warehouse, landing, [DAY])
    (finding,) = [f for f in report.warnings() if f.check == "schema"]
    assert finding.check == "schema" and "dropped ['user_id']" in finding.message
    assert not report.blocked


def test_freshness_names_late_and_missing_days_and_leaves_history_alone():
    day = dt.date(2026, 4, 1)
    landed_late = dt.datetime(2026, 4, 2, 9, 0)  # due 2026-04-02 06:00
    from risk_pipelines.sources.landing import FileRecord

    files = [FileRecord("d", day, "f.csv", 1, "x", [], 1, landed_late)]
    now = dt.datetime(2026, 4, 4, 12, 0)
    findings = assess_freshness(
        files, [day, day + dt.timedelta(1), dt.date(2026, 1, 1), day + dt.timedelta(3)],
        deadline_hours=30, now=now,
    )  # fmt: skip
    messages = [(f.ds.isoformat(), f.passed, f.message) for f in findings]
    assert messages[0] == (
        "2026-04-01",
        False,
        "landed 3.0 h after its deadline 2026-04-02 06:00 UTC",
    )
    assert messages[1][:2] == ("2026-04-02", False) and "not delivered" in messages[1][2]
    assert messages[2][1] and "history" in messages[2][2]
    assert messages[3] == ("2026-04-04", True, "not delivered yet; due 2026-04-05 06:00 UTC")


def test_data_engineers_are_alerted_once_and_told_when_it_is_fixed(warehouse_url, tmp_path, caplog):
    landing, warehouse = tmp_path / "landing", Warehouse(warehouse_url)
    write(landing, csv_text(good_rows()))
    write(landing, "", name="part-1.csv")  # an empty file blocks the day
    ingest(warehouse, landing, [DAY])
    caplog.set_level(logging.WARNING, logger="risk_pipelines.alerts")
    deadlines = {"moderation_decisions": 30.0}

    def tick(now=NOW):
        return evaluate_data_quality(
            warehouse,
            channels={"log": LogChannel()},
            landing_dir=landing,
            deadlines=deadlines,
            now=now,
        )

    first = tick()
    assert any("file is empty" in m for m in first.fired)
    missing = [m for m in first.fired if "not delivered" in m]
    assert missing and all(m.startswith("moderation_decisions 2026-03-") for m in missing)
    assert tick().fired == [] and tick().resolved == []  # edge-triggered: quiet when unchanged
    (landing / "moderation_decisions" / DAY.isoformat() / "part-1.csv").unlink()
    ingest(warehouse, landing, [DAY])
    fixed = tick()
    assert fixed.resolved == [m for m in first.fired if "file is empty" in m]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(first.fired) + len(fixed.resolved)
    assert all(line.endswith("owners: team:risk-data-engineering") for line in lines)
    assert sum("[RESOLVED][CRITICAL] data_quality.suite" in line for line in lines) == 1
    audit = warehouse.read_sql("SELECT channel, status FROM alert_notifications")
    # Each notification is queued, then sent: two rows of audit trail, one message.
    assert (audit["status"] == "sent").sum() == len(lines)
    assert set(audit["status"]) == {"queued", "sent"}


def test_a_bad_day_stops_only_itself_and_the_check_shows_why(tmp_path):
    """In a range, the bad day is blocked and missing downstream while the good day flows on
    (the check fails with WARN); run alone, as the schedule runs it, it stops its own
    downstream (ERROR)."""
    day1, day2 = dt.date(2026, 4, 1), dt.date(2026, 4, 2)
    landing = tmp_path / "landing"
    generate_demo_data(DemoSpec(day1, day2, scale=0.05), landing)
    bad_file = sorted((landing / "moderation_decisions" / str(day2)).glob("*.csv"))[0]
    bad_file.write_text(bad_file.read_text().replace(",removed,", ",deleted,"))
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with dg.instance_for_test() as instance:
        result = materialise_range(
            day1, day2, instance=instance, resources=make_resources(url, landing)
        )
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    suite = evaluations["moderation_decisions_suite"]
    assert result.success and not suite.passed
    assert suite.severity == dg.AssetCheckSeverity.WARN
    assert list(suite.metadata["blocked_days"].value) == [str(day2)]
    failures = {f["column"]: f for f in suite.metadata["failed_expectations"].value}
    failure = failures["action"]  # the row expectation, and the share it pushed over 1%:
    assert failures["quarantined_share"]["stage"] == "partition"
    assert failure["stage"] == "row" and failure["sample"][0] == "deleted"
    assert failure["unexpected"] > 0 and 0 < failure["percent"] < 100
    page = Path(suite.metadata["data_docs"].value)
    html = page.read_text()
    assert page.suffix == ".html" and "values must belong to this set" in html
    assert "deleted" in html  # the unexpected value, shown on the rendered page
    succeeded = {e.step_key for e in result.all_events if e.is_step_success}
    assert {"incidents", "daily_metrics", "risk_indicators"} <= succeeded
    warehouse = Warehouse(url)
    assert warehouse.count("moderation_decisions", {"ds": day1}) > 0
    assert warehouse.count("moderation_decisions", {"ds": day2}) == 0
    assert warehouse.count("quarantined_rows", {"ds": day2}) == failure["unexpected"]
    assert warehouse.count("daily_metrics", {"ds": day1}) > 0
    assert warehouse.count("daily_metrics", {"ds": day2}) == 0  # missing, never zeros
    with dg.instance_for_test() as instance:
        alone = materialise_range(
            day2, day2, instance=instance, resources=make_resources(url, landing)
        )
    checks = [e.event_specific_data for e in alone.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"]  # fmt: skip
    suite = next(c for c in checks if c.check_name == "moderation_decisions_suite")
    assert not alone.success and suite.severity == dg.AssetCheckSeverity.ERROR
    assert "daily_metrics" not in {e.step_key for e in alone.all_events if e.is_step_success}


def test_the_data_quality_sensor_raises_missing_days_through_the_alert_table(tmp_path):
    from risk_pipelines.defs.alerting.data_quality_sensor import data_quality_sensor

    landing = tmp_path / "landing"
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    write(landing, csv_text(good_rows(yesterday)), day=yesterday)  # the days after: missing
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=make_resources(url, landing))
        result = data_quality_sensor(context)
    assert isinstance(result, dg.SkipReason) and "alert(s) fired" in result.skip_message
    firing = Warehouse(url).read_sql("SELECT rule_id, unique_id, severity FROM alerts")
    missing_day = (yesterday + dt.timedelta(days=1)).isoformat()
    assert ("data_quality.freshness", f"moderation_decisions|{missing_day}", "medium") in set(
        firing.itertuples(index=False, name=None)
    )


def test_a_dsa_dump_that_does_not_arrive_by_its_deadline_raises_a_freshness_alert(tmp_path):
    landing = tmp_path / "landing"
    (landing / "dsa").mkdir(parents=True)
    now = dt.datetime(2026, 4, 10, 12, 0)
    (landing / "dsa" / "sor-global-2026-04-07-full.zip").write_bytes(b"")  # arrived
    report = evaluate_data_quality(
        Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}"),
        channels={"log": LogChannel()},
        landing_dir=landing,
        deadlines={"dsa_statements": 30.0},
        now=now,
    )
    missing = sorted(m.split(":")[0] for m in report.fired)
    assert missing == [f"dsa_statements 2026-04-0{d}" for d in (3, 4, 5, 6, 8, 9)]  # not the 7th

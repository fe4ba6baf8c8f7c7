"""The Great Expectations suite blocks a bad day and lets good days through."""

import datetime as dt

import dagster as dg
import pandas as pd

from risk_pipelines.quality.gx_runner import validate_frame
from risk_pipelines.runs import materialise_range
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data
from risk_pipelines.warehouse import Warehouse
from tests.conftest import make_resources

DAY1, DAY2 = dt.date(2026, 4, 1), dt.date(2026, 4, 2)


def canonical_rows(day: dt.date, n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ds": day,
            "event_id": [f"e{day}{i}" for i in range(n)],
            "decided_at": pd.Timestamp(day),
            "reported_at": pd.NaT,
            "content_created_at": pd.NaT,
            "policy_category": "scams_and_fraud",
            "region": "DE",
            "surface": "video",
            "detection_source": "automated",
            "action": "removed",
            "automated_decision": "fully",
            "views_before_action": 0,
            "appealed": False,
            "appeal_outcome": None,
            "platform": "own",
            "user_id_hash": None,
            "content_id_hash": None,
            "source_file": "f.csv",
            "source_row": range(1, n + 1),
        }
    )


def test_the_suite_passes_canonical_rows():
    report = validate_frame(
        pd.concat([canonical_rows(DAY1), canonical_rows(DAY2)]), "moderation_decisions"
    )
    assert report.success and report.failed_partitions == {}


def test_failures_name_the_expectation_count_sample_and_partition():
    bad = canonical_rows(DAY2)
    bad.loc[1, "action"] = "deleted"
    report = validate_frame(pd.concat([canonical_rows(DAY1), bad]), "moderation_decisions")
    assert not report.success
    failure = report.failures[0]
    assert (failure.expectation, failure.column) == ("expect_column_values_to_be_in_set", "action")
    assert failure.unexpected_count == 1 and failure.sample == ["deleted"]
    assert report.failed_partitions == {str(DAY2): 1}


def test_a_failing_day_is_not_written_and_blocks_downstream(tmp_path):
    landing = tmp_path / "landing"
    generate_demo_data(DemoSpec(DAY1, DAY2, scale=0.05), landing)
    bad_file = sorted((landing / "moderation_decisions" / str(DAY2)).glob("*.csv"))[0]
    bad_file.write_text(bad_file.read_text().replace(",removed,", ",deleted,", 1))
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with dg.instance_for_test() as instance:
        result = materialise_range(
            DAY1, DAY2, instance=instance, resources=make_resources(url, landing)
        )
        evaluation = next(
            e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ).event_specific_data
    assert not result.success  # a blocking check failure fails the run the engineer sees
    assert not evaluation.passed
    assert evaluation.metadata["blocked_partitions"].value == [str(DAY2)]
    succeeded = {e.step_key for e in result.all_events if e.is_step_success}
    assert "incidents" in succeeded and "daily_metrics" not in succeeded
    warehouse = Warehouse(url)
    assert warehouse.count("moderation_decisions", {"ds": DAY1}) > 0
    assert warehouse.count("moderation_decisions", {"ds": DAY2}) == 0

"""The ``absent`` rule: a series that had data on most recent days and has none today breaches,
once per outage; sparse series, thin rates and categories ended by a taxonomy change do not."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from risk_pipelines.alerting.evaluation.absence import evaluate_absent
from risk_pipelines.alerting.evaluation.rules import RuleError, parse_rules
from risk_pipelines.alerting.evaluation.state import step
from tests.test_real_data_flow import day_range, series_frame

DAYS = day_range(dt.date(2026, 1, 1), 90)


def rule(**fields):
    raw = {"id": "silent", "type": "absent", "severity": "medium", **fields}
    return parse_rules({"rules": [raw]}, known_routes=["log"])[0]


def metrics(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["unique_id"] = (
        "statements|" + frame["platform"] + "|" + frame["policy_category"] + "|all|all"
    )
    return frame.assign(denominator=None)


def breaching(rule_, frame, day) -> set[str]:
    return set(evaluate_absent(rule_, pd.Timestamp(day), frame).breaches)


def test_a_series_that_goes_quiet_breaches_and_the_others_do_not():
    frame = metrics(series_frame(DAYS, ["clips", "shorts"], ["violence"]))
    quiet = frame[~((frame["platform"] == "shorts") & (frame["ds"] >= DAYS[60]))]
    found = breaching(rule(), quiet, DAYS[60])
    assert found == {"statements|shorts|violence|all|all", "statements|shorts|all|all|all"}
    assert breaching(rule(), frame, DAYS[60]) == set()


def test_one_alert_per_outage_that_resolves_when_data_returns():
    frame = metrics(series_frame(DAYS, ["clips"], ["violence"]))
    outage = frame["ds"].isin(DAYS[50:55])
    frame = frame[~outage]
    open_alerts, events = {}, []
    for day in DAYS[40:70]:
        evaluation = evaluate_absent(rule(), pd.Timestamp(day), frame)
        for t in step(open_alerts, evaluation, day):
            if t.notify:
                events.append((t.notify, t.after.unique_id, day))
            key = (t.after.rule_id, t.after.unique_id)
            if t.after.state == "resolved":
                open_alerts.pop(key, None)
            else:
                open_alerts[key] = t.after
    fired = [(uid, day) for event, uid, day in events if event == "firing"]
    resolved = [(uid, day) for event, uid, day in events if event == "resolved"]
    assert sorted(fired) == sorted((uid, DAYS[50]) for uid in frame["unique_id"].unique())
    assert sorted(resolved) == sorted((uid, DAYS[55]) for uid in frame["unique_id"].unique())


def test_near_zero_counts_as_no_data_and_sparse_series_are_left_out():
    frame = metrics(series_frame(DAYS, ["clips"], ["violence"]))
    zero = frame.assign(value=frame["value"].where(frame["ds"] != DAYS[70], 0.0))
    assert breaching(rule(), zero, DAYS[70]) == set()  # a zero is data
    assert len(breaching(rule(near_zero=0), zero, DAYS[70])) == 2
    gone = frame[frame["ds"] != DAYS[70]]
    assert breaching(rule(min_level=1_000_000), gone, DAYS[70]) == set()


def test_a_category_ended_by_a_taxonomy_change_is_not_an_outage():
    old = metrics(series_frame(DAYS, ["clips", "shorts"], ["violence", "scams"]))
    new = metrics(series_frame(DAYS, ["clips", "shorts"], ["fraud"], seed=9))
    change = DAYS[70]
    frame = pd.concat(
        [old[(old["policy_category"] != "scams") | (old["ds"] < change)],
         new[(new["policy_category"] == "fraud") & (new["ds"] >= change)]],
        ignore_index=True,
    )  # fmt: skip
    assert breaching(rule(), frame, change) == set()
    # The same category gone on one platform only, with no new category: an outage.
    outage = old[~((old["platform"] == "shorts") & (old["policy_category"] == "scams")
                   & (old["ds"] >= change))]  # fmt: skip
    assert breaching(rule(), outage, change) == {"statements|shorts|scams|all|all"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_presence": 1.5}, "'min_presence' is a share of days, 0 to 1"),
        ({"lookback_days": 3}, "'lookback_days' must be >= 7"),
        ({"type": "threshold", "threshold": 1, "min_level": 5}, "belong to absent rules"),
    ],
)
def test_absent_fields_are_validated_by_name(fields, message):
    with pytest.raises(RuleError, match=message):
        rule(**fields)

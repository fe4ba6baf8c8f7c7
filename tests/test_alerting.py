"""Alert rules and the alert state machine."""

import pandas as pd
import pytest

from risk_pipelines.alerting.evaluation.evaluate import (
    Evaluation,
    evaluate_forecast_crosses,
    evaluate_outside_interval,
    evaluate_rule,
)
from risk_pipelines.alerting.evaluation.rules import RuleError, load_rules, parse_rules
from risk_pipelines.alerting.evaluation.state import step
from risk_pipelines.config import PACKAGED_CONFIG_DIR

SURGE = {
    "id": "surge",
    "type": "outside_interval",
    "severity": "high",
    "match": {"metric": "user_reports"},
    "min_abs_impact": 5,
    "min_rel_impact": 0.3,
    "sustain": 2,
    "hold": 2,
}


def rule(**overrides):
    return parse_rules({"rules": [{**SURGE, **overrides}]})[0]


def indicator(value, expected=100.0, upper=120.0, lower=80.0, uid="user_reports|own|c|DE|all"):
    return {
        "ds": pd.Timestamp("2026-03-01"),
        "unique_id": uid,
        "metric": "user_reports",
        "platform": "own",
        "policy_category": "c",
        "region": "DE",
        "surface": "all",
        "value": value,
        "expected": expected,
        "lower": lower,
        "upper": upper,
        "score": 1.0,
    }


def evaluate(r, *values):
    return evaluate_outside_interval(r, pd.DataFrame([indicator(v) for v in values]))


def apply(open_alerts, evaluation):
    transitions = step(open_alerts, evaluation)
    for t in transitions:
        key = (t.after.rule_id, t.after.unique_id)
        if t.after.state == "resolved":
            open_alerts.pop(key, None)
        else:
            open_alerts[key] = t.after
    return transitions


def test_the_packaged_rules_are_valid():
    rules = load_rules(PACKAGED_CONFIG_DIR / "alert_rules.yaml")
    assert {r.type for r in rules} == {
        "outside_interval",
        "forecast_crosses",
        "absent",
        "count_burst",
        "rate_shift",
    }
    silent = next(r for r in rules if r.type == "absent")
    assert not silent.match and silent.renotify_days == 0  # every series, once per outage


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "threshold_x"}, "rule 'surge': 'type' is 'threshold_x'"),
        ({"severity": None}, "'severity' is required"),
        ({"match": {"colour": "red"}}, "match on unknown dimension"),
        ({"sustain": 0}, "'sustain' must be >= 1"),
        ({"hold": "two"}, "'hold' must be a number"),
        ({"routes": ["pager"]}, "unknown route"),
        ({"bogus": 1}, "unknown field"),
        ({"type": "forecast_crosses"}, "needs a numeric 'threshold'"),
    ],
)
def test_invalid_rules_are_rejected_with_the_rule_and_field_named(change, message):
    with pytest.raises(RuleError, match=message):
        parse_rules({"rules": [{**SURGE, **change}]}, source="rules.yaml")


def test_duplicate_ids_and_bad_yaml_are_rejected(tmp_path):
    with pytest.raises(RuleError, match="duplicate id"):
        parse_rules({"rules": [SURGE, SURGE]})
    path = tmp_path / "alert_rules.yaml"
    path.write_text("rules: [unclosed")
    with pytest.raises(RuleError, match=f"{path}: not valid YAML"):
        load_rules(path)


def test_min_impact_gates_keep_small_breaches_quiet():
    r = rule()
    assert evaluate(r, 123).breaches == {}  # 3 past the band: below the absolute gate
    assert set(evaluate(r, 140).breaches) == {"user_reports|own|c|DE|all"}
    assert evaluate(rule(min_rel_impact=0.5), 140).breaches == {}  # +40 % < 50 %


def test_pending_then_firing_then_resolved_with_one_notice_each_edge():
    r, alerts = rule(), {}
    first = apply(alerts, evaluate(r, 150))
    assert first[0].after.state == "pending" and first[0].notify is None
    second = apply(alerts, evaluate(r, 150))
    assert second[0].after.state == "firing" and second[0].notify == "firing"
    assert apply(alerts, evaluate(r, 150))[0].notify is None  # still firing: no new notice
    assert apply(alerts, evaluate(r, 100))[0].notify is None  # one clean day: hold is 2
    last = apply(alerts, evaluate(r, 100))
    assert last[0].after.state == "resolved" and last[0].notify == "resolved"


def test_a_quiet_tick_creates_nothing():
    assert step({}, evaluate(rule(), 100, 101, 99)) == []


def test_a_pending_alert_that_clears_resolves_silently():
    r, alerts = rule(), {}
    apply(alerts, evaluate(r, 150))
    transitions = apply(alerts, evaluate(r, 100))
    assert transitions[0].after.state == "resolved" and transitions[0].notify is None


def test_recovery_is_judged_against_the_band_in_force_when_the_alert_opened():
    r, alerts = rule(sustain=1, hold=1), {}
    apply(alerts, evaluate(r, 150))
    # The forecast has adapted to the surge: 150 is now "inside" the band...
    adapted = evaluate_outside_interval(
        r, pd.DataFrame([indicator(150, expected=140, upper=170, lower=110)])
    )
    transitions = apply(alerts, adapted)
    # ...but it is still above 120, the bound when the alert opened: it keeps firing.
    assert (
        transitions[0].after.state == "firing" and "still above 120" in transitions[0].after.message
    )
    back = evaluate_outside_interval(
        r, pd.DataFrame([indicator(110, expected=140, upper=170, lower=110)])
    )
    assert apply(alerts, back)[0].after.state == "resolved"


def test_forecast_crosses_fires_when_the_upper_bound_reaches_the_threshold_in_time():
    crossing = parse_rules(
        {
            "rules": [
                {
                    "id": "x",
                    "type": "forecast_crosses",
                    "severity": "low",
                    "threshold": 0.3,
                    "within_days": 3,
                }
            ]
        }
    )[0]
    rows = pd.DataFrame(
        [
            {
                "unique_id": "overturn_rate|own|all|all|all",
                "metric": "overturn_rate",
                "platform": "own",
                "policy_category": "all",
                "region": "all",
                "surface": "all",
                "ds": pd.Timestamp("2026-03-01") + pd.Timedelta(days=h),
                "horizon": h,
                "yhat": 0.2 + 0.03 * h,
                "yhat_hi_95": 0.25 + 0.03 * h,
                "yhat_lo_95": 0.1,
            }
            for h in range(1, 8)
        ]
    )
    evaluation = evaluate_forecast_crosses(crossing, rows)
    assert evaluation.breaches["overturn_rate|own|all|all|all"].observed == pytest.approx(0.31)
    later = parse_rules(
        {
            "rules": [
                {
                    "id": "x",
                    "type": "forecast_crosses",
                    "severity": "low",
                    "threshold": 0.3,
                    "within_days": 1,
                }
            ]
        }
    )[0]
    assert evaluate_forecast_crosses(later, rows).breaches == {}
    assert isinstance(evaluation, Evaluation)
    # The value a firing alert recovers against: the path's peak, per series, for every series.
    second = rows.assign(unique_id="overturn_rate|own|violence|all|all", yhat_hi_95=0.1)
    both = evaluate_forecast_crosses(crossing, pd.concat([rows, second], ignore_index=True))
    assert both.values == {
        "overturn_rate|own|all|all|all": pytest.approx(0.34),
        "overturn_rate|own|violence|all|all": pytest.approx(0.1),
    }


def test_a_pending_alert_needs_real_breaches_to_fire_not_just_the_opening_bound():
    r, alerts = rule(sustain=2), {}
    apply(alerts, evaluate(r, 150))
    # Inside today's band but above the bound when it opened: not a second breach.
    inside = evaluate_outside_interval(
        r, pd.DataFrame([indicator(125, expected=120, upper=160, lower=90)])
    )
    transitions = apply(alerts, inside)
    assert transitions[0].after.state == "resolved" and transitions[0].notify is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "threshold"}, "threshold needs a numeric 'threshold'"),
        ({"type": "pct_change", "threshold": -0.5}, "pct_change 'threshold' is a positive"),
        ({"type": "threshold", "threshold": 100, "recovery_threshold": 120},
         "'recovery_threshold' 120 must lie on the safe side of 'threshold' 100"),
        ({"type": "indicator_level"}, "'level' is required"),
        ({"type": "indicator_level", "level": "high", "recovery_level": "critical"},
         "'recovery_level' critical is above 'level' high"),
        ({"type": "threshold", "threshold": 1, "level": "high"}, "belong to indicator_level"),
    ],
)  # fmt: skip
def test_the_newer_rule_types_are_validated_with_the_field_named(change, message):
    with pytest.raises(RuleError, match=message):
        rule(**change)


def one_day(day: str, value: float, score: float = 0.0, level: str = "ok") -> dict:
    return {**indicator(value), "ds": pd.Timestamp(day), "score": score, "level": level}


def drive(r, days: list[dict]) -> list[str]:
    """Feed one indicator row a day through the rule and the state machine; the edges."""
    open_alerts, edges = {}, []
    frame = pd.DataFrame(days)
    for ds in frame["ds"]:
        for t in apply(open_alerts, evaluate_rule(r, ds, frame, pd.DataFrame())):
            edges.append(f"{ds:%m-%d} {t.notify or t.after.state}")
    return edges


def test_a_threshold_rule_resolves_only_past_its_recovery_line():
    r = rule(type="threshold", threshold=120, recovery_threshold=100, sustain=1, hold=1)
    days = [one_day(f"2026-03-0{i}", v) for i, v in enumerate([130, 110, 105, 95], 1)]
    # 110 and 105 are under the threshold but above the recovery line: still firing.
    assert drive(r, days) == ["03-01 firing", "03-02 firing", "03-03 firing", "03-04 resolved"]


def test_pct_change_compares_with_the_same_series_a_week_before():
    r = rule(type="pct_change", threshold=1.0, min_abs_impact=20, compare_days=7)
    week_before, today = one_day("2026-03-01", 100), one_day("2026-03-08", 250)
    frame = pd.DataFrame([week_before, today])
    evaluation = evaluate_rule(r, pd.Timestamp("2026-03-08"), frame, pd.DataFrame())
    (breach,) = evaluation.breaches.values()
    assert breach.observed == pytest.approx(1.5) and "+150% against 100" in breach.message
    small = pd.DataFrame([one_day("2026-03-01", 10), one_day("2026-03-08", 25)])
    assert not evaluate_rule(r, pd.Timestamp("2026-03-08"), small, pd.DataFrame()).breaches
    down = rule(type="pct_change", threshold=0.5, direction="down", compare_days=7)
    falling = pd.DataFrame([one_day("2026-03-01", 100), one_day("2026-03-08", 40)])
    assert evaluate_rule(down, pd.Timestamp("2026-03-08"), falling, pd.DataFrame()).breaches


def test_an_indicator_level_rule_fires_at_its_level_and_recovers_below_the_recovery_level():
    r = rule(type="indicator_level", level="critical", recovery_level="elevated", hold=1,
             sustain=1)  # fmt: skip
    scores = [(5.5, "critical"), (3.5, "high"), (1.0, "ok")]
    days = [one_day(f"2026-03-0{i}", 200, s, lvl) for i, (s, lvl) in enumerate(scores, 1)]
    assert drive(r, days) == ["03-01 firing", "03-02 firing", "03-03 resolved"]


def test_a_negated_match_watches_a_category_added_later():
    """`{not: all}` watches every category, including one a taxonomy adds after the rule was
    written; `"*"` any value; the message names the platform."""
    rules = parse_rules(
        {
            "rules": [
                {"id": "per_category", "type": "threshold", "severity": "low", "threshold": 10,
                 "match": {"metric": "user_reports", "policy_category": {"not": "all"}}},
                {"id": "any_region", "type": "threshold", "severity": "low", "threshold": 10,
                 "match": {"region": "*", "policy_category": ["violence", "fraud"]}},
            ]
        }
    )  # fmt: skip
    day = pd.Timestamp("2026-07-02")
    rows = pd.DataFrame(
        [
            {"unique_id": f"user_reports|clips|{c}|all|all", "metric": "user_reports",
             "platform": "clips", "policy_category": c, "region": "all", "surface": "all",
             "ds": day, "value": 50.0}
            for c in ("all", "violence", "fraud")  # fraud: new since the rule was written
        ]
    )  # fmt: skip
    negated = evaluate_rule(rules[0], day, rows, pd.DataFrame())
    assert sorted(negated.breaches) == [
        "user_reports|clips|fraud|all|all", "user_reports|clips|violence|all|all",
    ]  # fmt: skip
    assert (
        "user_reports (fraud) on clips was 50"
        in negated.breaches["user_reports|clips|fraud|all|all"].message
    )
    listed = evaluate_rule(rules[1], day, rows, pd.DataFrame())
    assert len(listed.breaches) == 2
    assert rules[0].matches({"metric": "user_reports", "policy_category": "brand_new"})
    assert not rules[0].matches({"metric": "user_reports", "policy_category": "all"})


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ({"policy_category": {"except": "all"}}, r"match 'policy_category': a mapping must be"),
        ({"region": [["DE"]]}, r"match 'region': expected a value or a list"),
        ({"region": {"not": "*"}}, r"match 'region': expected a value or a list"),
    ],
)
def test_a_malformed_match_is_refused_by_rule_and_dimension(match, message):
    raw = {"id": "m", "type": "threshold", "severity": "low", "threshold": 1, "match": match}
    with pytest.raises(RuleError, match=r"rule 'm': " + message):
        parse_rules({"rules": [raw]})


def sparse_days(values, expected=0.6):
    """Incident indicator rows, one a day from 2026-05-01: the actual and its forecast."""
    return pd.DataFrame([
        {"ds": pd.Timestamp("2026-05-01") + pd.Timedelta(days=i), "indicator": "incidents",
         "unique_id": "incidents|own|all|all|all", "metric": "incidents", "platform": "own",
         "policy_category": "all", "region": "all", "surface": "all", "value": float(v),
         "expected": expected, "lower": 0.0, "upper": 2.9, "score": 0.0}
        for i, v in enumerate(values)
    ])  # fmt: skip


def test_a_cluster_of_sparse_incidents_breaches_over_its_window_and_a_lone_busy_day_does_not():
    cluster = parse_rules({"rules": [{
        "id": "incident_spike", "type": "count_burst", "severity": "critical",
        "match": {"metric": "incidents"}, "window_days": 3, "max_p": 0.001, "min_abs_impact": 2,
    }]})[0]  # fmt: skip
    busy_day = sparse_days([0, 1, 0, 3])  # three in a day: every few weeks by chance
    assert not evaluate_rule(cluster, pd.Timestamp("2026-05-04"), busy_day, pd.DataFrame()).breaches
    burst = sparse_days([0, 1, 3, 2, 3])  # eight in three days against 1.8 expected
    found = evaluate_rule(cluster, pd.Timestamp("2026-05-05"), burst, pd.DataFrame()).breaches
    breach = found["incidents|own|all|all|all"]
    assert breach.observed == 8 and breach.threshold == 8
    assert "8 in the 3 days to 2026-05-05 against 1.8 expected" in breach.message
    assert breach.score > 3 and breach.significance > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_p": 0.7}, "'max_p' is a probability between 0 and 0.5"),
        ({"window_days": 10}, "'window_days' must be at most 7"),
        ({"type": "outside_interval", "window_days": 3}, "belong to count_burst, rate_shift"),
    ],
)
def test_count_burst_fields_are_validated_with_the_rule_named(change, message):
    raw = {"id": "burst", "type": "count_burst", "severity": "high", **change}
    with pytest.raises(RuleError, match=message):
        parse_rules({"rules": [raw]}, source="alert_rules.yaml")


def test_a_burst_is_judged_against_the_series_own_rate_when_the_forecast_says_zero():
    """A low-volume forecast is a recent median: 0 for a series with an incident every other
    day. Against 0, any incident would be a miracle; against its own rate, three in three days
    is an ordinary week."""
    cluster = parse_rules({"rules": [{
        "id": "incident_spike", "type": "count_burst", "severity": "critical",
        "match": {"metric": "incidents"}, "window_days": 3, "max_p": 0.001, "min_abs_impact": 2,
    }]})[0]  # fmt: skip
    history = [1, 0] * 14 + [1, 1, 1]  # four weeks at 0.5 a day, then three in three days
    rows = sparse_days(history, expected=0.0)
    day = rows["ds"].max()
    assert not evaluate_rule(cluster, day, rows, pd.DataFrame()).breaches
    burst = sparse_days([1, 0] * 14 + [3, 3, 3], expected=0.0)  # nine in three days
    assert evaluate_rule(cluster, burst["ds"].max(), burst, pd.DataFrame()).breaches

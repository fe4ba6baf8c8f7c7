"""Root cause: which finer series explain an alert's deviation, against what baseline."""

import pandas as pd

from risk_pipelines.alerting.evaluation.root_cause import (
    candidates_from_indicators,
    top_contributors,
)


def _row(unique_id, indicator, value, expected=None, region="DE"):
    return {
        "unique_id": unique_id, "indicator": indicator, "metric": "dsa_statements",
        "platform": "Wallapop", "policy_category": "all", "region": region, "surface": "all",
        "value": value, "expected": expected, "denominator": None, "dimension": "region",
    }  # fmt: skip


def test_without_a_forecast_the_baseline_is_the_series_own_value_a_week_before():
    uid = "dsa_statements|Wallapop|all|DE|all"
    finer = pd.DataFrame([_row(uid, "dsa_statements", 300.0)])
    # A week before, the series and a derived indicator of it share the key.
    week_before = pd.DataFrame(
        [_row(uid, "dsa_statements", 100.0), _row(uid, "week_over_week", 0.1)]
    )
    candidates = candidates_from_indicators(finer, week_before)
    assert candidates["baseline"].tolist() == [100.0]
    (top,) = top_contributors(candidates, "up")
    assert (top["dimension"], top["value"], top["share"]) == ("region", "DE", 1.0)

"""Surprise scores and risk levels, signed by which direction is risky for the metric."""

import pandas as pd
import pytest

from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.indicators.surprise import (
    latest_prior_forecasts,
    level_for,
    surprise_indicators,
)

DAY = pd.Timestamp("2026-03-02")


def actual(metric, value, numerator=None, denominator=None):
    uid = f"{metric}|own|scams_and_fraud|DE|all"
    return {
        "ds": DAY,
        "unique_id": uid,
        "metric": metric,
        "platform": "own",
        "policy_category": "scams_and_fraud",
        "region": "DE",
        "surface": "all",
        "value": value,
        "numerator": numerator,
        "denominator": denominator,
    }


def forecast(metric, yhat, lo, hi):
    return {
        "unique_id": f"{metric}|own|scams_and_fraud|DE|all",
        "ds": DAY,
        "yhat": yhat,
        "yhat_lo_95": lo,
        "yhat_hi_95": hi,
        "model": "ets",
        "as_of": DAY - pd.Timedelta(days=1),
    }


def run(actuals, forecasts):
    out = surprise_indicators(pd.DataFrame(actuals), pd.DataFrame(forecasts), spec_for)
    return out.set_index("indicator")


def test_more_reports_than_forecast_is_a_risk_fewer_is_not():
    high = run([actual("user_reports", 160)], [forecast("user_reports", 100, 80.4, 119.6)])
    assert high.loc["user_reports", "score"] > 5 and high.loc["user_reports", "level"] == "critical"
    low = run([actual("user_reports", 40)], [forecast("user_reports", 100, 80.4, 119.6)])
    assert low.loc["user_reports", "score"] < 0 and low.loc["user_reports", "level"] == "ok"


def test_a_falling_proactive_rate_is_the_risky_direction():
    out = run(
        [actual("proactive_rate", 0.93, 930, 1000)], [forecast("proactive_rate", 0.97, 0.95, 0.985)]
    )
    row = out.loc["proactive_rate"]
    assert row["score"] > 3 and row["level"] == "high"
    assert (row["numerator"], row["denominator"]) == (930, 1000)


def test_rates_on_thin_denominators_are_stored_but_not_scored():
    out = run([actual("overturn_rate", 0.8, 4, 5)], [forecast("overturn_rate", 0.2, 0.1, 0.3)])
    row = out.loc["overturn_rate"]
    assert pd.isna(row["score"]) and row["level"] == "ok" and "denominator below" in row["note"]


def test_one_rare_event_on_a_flat_band_is_capped_by_binomial_sampling_evidence():
    # 1 overturn in 40 automated decisions where 0.1 % was expected: a "300 sigma" jump on a
    # near-flat band, yet P(at least one) = 1 - 0.999**40 = 3.9 %, about 1.76 sigma.
    out = run(
        [actual("automated_error_rate", 0.025, 1, 40)],
        [forecast("automated_error_rate", 0.001, 0.0009, 0.0011)],
    )
    row = out.loc["automated_error_rate"]
    assert 1.7 < row["score"] < 1.8 and row["level"] == "ok"


def test_a_real_shift_in_a_well_populated_rate_keeps_its_score():
    # 930 of 1000 against 97 % expected: the binomial tail is far beyond the band's 3.1 sigma.
    out = run(
        [actual("proactive_rate", 0.93, 930, 1000)], [forecast("proactive_rate", 0.97, 0.95, 0.985)]
    )
    assert out.loc["proactive_rate", "score"] == pytest.approx(0.04 / (0.02 / 1.959963984540054))


def test_a_day_without_a_prior_forecast_says_so():
    out = run([actual("user_reports", 10)], [forecast("decisions", 1, 0, 2)])
    assert out.loc["user_reports", "note"] == "no forecast made before this day"
    assert out["score"].dtype == "float64"  # still numeric for sorting and ranking


def test_levels_follow_the_documented_thresholds():
    assert [level_for(s) for s in (0.5, 2.0, 3.5, 6.0, None)] == [
        "ok",
        "elevated",
        "high",
        "critical",
        "ok",
    ]


def test_the_newest_forecast_made_before_the_day_is_used():
    rows = pd.DataFrame(
        [
            {
                "unique_id": "u",
                "ds": DAY,
                "as_of": DAY - pd.Timedelta(days=3),
                "is_primary": True,
                "yhat": 1.0,
            },
            {
                "unique_id": "u",
                "ds": DAY,
                "as_of": DAY - pd.Timedelta(days=1),
                "is_primary": True,
                "yhat": 2.0,
            },
            {
                "unique_id": "u",
                "ds": DAY,
                "as_of": DAY - pd.Timedelta(days=1),
                "is_primary": False,
                "yhat": 9.0,
            },
        ]
    )
    assert latest_prior_forecasts(rows)["yhat"].tolist() == [2.0]


def test_no_actuals_gives_an_empty_but_typed_frame():
    out = surprise_indicators(pd.DataFrame(), pd.DataFrame(), spec_for)
    assert out.empty and out["score"].dtype == "float64"
    assert out.nlargest(3, "score").empty

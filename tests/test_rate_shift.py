"""rate_shift: a rate's last days pooled on their counts against the share its forecasts
expected, with the series' own overdispersion (alerting/evaluation/rate_shift.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_pipelines.alerting.evaluation.evaluate import evaluate_rule
from risk_pipelines.alerting.evaluation.rate_shift import _baseline
from risk_pipelines.alerting.evaluation.rules import parse_rules

UID = "proactive_rate|own|hate_speech|FR|all"
DROP = parse_rules({"rules": [{
    "id": "proactive_detection_drop", "type": "rate_shift", "severity": "high",
    "match": {"metric": "proactive_rate"}, "direction": "down", "window_days": 2,
    "max_p": 0.001, "min_abs_impact": 0.01, "min_rel_impact": 0.15,
}]})[0]  # fmt: skip


def rate_days(shares, trials, expected=0.87) -> pd.DataFrame:
    """Indicator rows of one rate series, a day each from 2026-05-01: the share, its forecast
    and the decisions it was made of."""
    return pd.DataFrame([
        {"ds": pd.Timestamp("2026-05-01") + pd.Timedelta(days=i), "indicator": "proactive_rate",
         "unique_id": UID, "metric": "proactive_rate", "platform": "own",
         "policy_category": "hate_speech", "region": "FR", "surface": "all", "value": float(s),
         "expected": expected, "lower": 0.7, "upper": 0.95, "score": 0.0, "denominator": float(n)}
        for i, (s, n) in enumerate(zip(shares, trials, strict=True))
    ])  # fmt: skip


def overdispersed(rng, days, share=0.87, trials=50, concentration=60.0):
    """A thin, overdispersed rate (beta-binomial: detection works in batches, not coin flips):
    about 50 decisions a day, its daily share varying about twice as much as chance alone."""
    n = rng.poisson(trials, days).clip(min=10)
    p = rng.beta(share * concentration, (1 - share) * concentration, days)
    return rng.binomial(n, p) / n, n


def breach_days(rows: pd.DataFrame, first: int) -> list[int]:
    days = sorted(rows["ds"].unique())
    out = []
    for i, day in enumerate(days[first:], first):
        if evaluate_rule(DROP, pd.Timestamp(day), rows, pd.DataFrame()).breaches:
            out.append(i)
    return out


def test_a_regression_on_a_thin_rate_fires_within_two_days_and_the_noise_around_it_does_not():
    rng = np.random.default_rng(5)
    shares, trials = overdispersed(rng, 120)
    # Days 100-109: detection finds 45 % less and users report more of what it misses: the
    # share falls from 0.87 to about 0.62 (the demo's classifier regression).
    regression, n = overdispersed(rng, 10, share=0.62)
    shares[100:110], trials[100:110] = regression, n
    fired = breach_days(rate_days(shares, trials), first=30)
    during = [d for d in fired if d >= 100]
    assert during and during[0] <= 101, fired  # on the regression's first or second day
    assert all(d <= 111 for d in during), fired  # and it ends with the regression
    # Ordinary days: chance breaches come about once a year on such a series (next test).
    assert len(fired) - len(during) <= 1, fired


def test_ordinary_overdispersed_rates_raise_about_one_chance_alert_a_year():
    """At max_p 0.001 a window breaches by chance about once in a thousand, if its variance is
    right: the rate's own overdispersion is measured on the four weeks before the window (a
    beta-binomial of 50 a day at concentration 60 varies 1 + 49 / 61 = 1.8 times chance).
    Measured on 12 such series-years: 0.55 chance breaches a year (a normal test with the same
    dispersion: 1.4; at binomial variance, one every few weeks)."""
    breaches = 0
    for seed in (11, 12, 13):
        shares, trials = overdispersed(np.random.default_rng(seed), 395)
        rows = rate_days(shares, trials)
        breaches += len(breach_days(rows, first=30))
        measured = _baseline(rows.iloc[100:128]).loc[UID, "dispersion"]
        assert 1.2 < measured < 2.6
    assert breaches <= 3  # three series-years


def test_one_bad_day_is_not_enough_but_two_pooled_are():
    """0.72 of 50 against 0.87 is a bad day that comes about once a month; two of them are
    not chance."""
    steady = [0.87, 0.88, 0.86, 0.87] * 8
    one_bad = rate_days([*steady, 0.88, 0.72], [50] * 34)
    assert not evaluate_rule(DROP, one_bad["ds"].max(), one_bad, pd.DataFrame()).breaches
    two_bad = rate_days([*steady, 0.72, 0.72], [50] * 34)
    found = evaluate_rule(DROP, two_bad["ds"].max(), two_bad, pd.DataFrame()).breaches
    breach = found[UID]
    assert breach.observed == 0.72 and breach.threshold < 0.87
    assert "72.0% over the 2 days to 2026-06-03" in breach.message
    assert "15 of 100 fewer than the 87.0% expected" in breach.message
    assert breach.score > 3 and breach.significance > 0


def test_a_day_is_weighed_by_its_decisions():
    """A near-empty day far off counts for little beside a full day near expected."""
    steady = [0.87, 0.88, 0.86, 0.87] * 8
    rows = rate_days([*steady, 0.4, 0.86], [50] * 32 + [5, 200])
    assert not evaluate_rule(DROP, rows["ds"].max(), rows, pd.DataFrame()).breaches


def test_a_series_without_four_weeks_behind_it_or_without_counts_is_not_judged():
    young = rate_days([0.87] * 5 + [0.5, 0.5], [50] * 7)
    assert not evaluate_rule(DROP, young["ds"].max(), young, pd.DataFrame()).evaluated
    no_counts = rate_days([0.87] * 30 + [0.5, 0.5], [50] * 32).assign(denominator=np.nan)
    assert not evaluate_rule(DROP, no_counts["ds"].max(), no_counts, pd.DataFrame()).evaluated

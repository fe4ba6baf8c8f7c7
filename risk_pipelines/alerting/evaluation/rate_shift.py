"""rate_shift: a rate's last days pooled, numerators over denominators, against the share its
forecasts expected, judged on the counts it is made of.

A rate made of fifty decisions a day is noisy: 0.72 against 0.87 expected happens about once a
month on such a series, and a day-level band cannot tell that day from the first day of a
classifier regression. Two such days running are another matter, and the evidence is in the
counts: 69 of 94 against 0.88 expected comes by chance about once in a thousand windows. Pooling the
window's counts weighs each day by its volume, so a thin day counts for little and a day the
regression hits hard is not diluted by a day it happened to miss.

Chance is a beta-binomial whose variance is the binomial's times the series' own
overdispersion, measured on the ``BASELINE_DAYS`` before the window: moderated items are not
coin flips (a batch of one campaign's posts is detected together), and a rate that varies more
than chance on ordinary days must not look surprising on any of them. The measure is robust
(the median of the daily Pearson chi-squares over its value for pure chance), so a past
incident in the baseline does not blunt the rule for four weeks.
"""

from __future__ import annotations

import math

import pandas as pd

from risk_pipelines.alerting.evaluation.breaches import (
    Breach,
    Evaluation,
    describe,
    dims_of,
    matching,
)
from risk_pipelines.alerting.evaluation.rules import Rule
from risk_pipelines.alerting.evaluation.significance import breach_significance

# The days before the window whose ordinary variation sizes the test, and the fewest of them
# that make a measure worth trusting (a young series is not judged).
BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 7
# The median of a chi-square with one degree of freedom: what the median daily Pearson
# chi-square is for a rate that varies exactly as much as chance.
CHI2_1_MEDIAN = 0.4549364231195724
MAX_Z = 40.0


def evaluate_rate_shift(rule: Rule, day: pd.Timestamp, indicators: pd.DataFrame) -> Evaluation:
    """``indicators``: risk_indicators rows from ``BASELINE_DAYS`` before the window to ``day``
    (value, expected and denominator per day). A breach when the window's pooled share is this
    far from the expected one with probability below ``max_p``, and at least
    ``min_rel_impact`` (relative) and ``min_abs_impact`` (in share points) away from it."""
    from scipy.stats import norm

    first = day - pd.Timedelta(days=rule.window_days - 1)
    own = matching(rule, indicators)
    own = own[own["value"].notna() & own["expected"].notna() & (own["denominator"] > 0)]
    window = own[(own["ds"] >= first) & (own["ds"] <= day)]
    whole = window.groupby("unique_id").filter(lambda g: g["ds"].nunique() == rule.window_days)
    baseline = own[(own["ds"] < first) & (own["ds"] >= first - pd.Timedelta(days=BASELINE_DAYS))]
    usual = _baseline(baseline)
    latest = whole[whole["ds"] == day].drop_duplicates("unique_id").set_index("unique_id")
    up = rule.direction == "up"
    breaches, values = {}, {}
    for uid, days in whole.groupby("unique_id"):
        if uid not in usual.index:
            continue
        trials = int(round(days["denominator"].sum()))
        hits = int(round((days["value"] * days["denominator"]).sum()))
        expected = float((days["expected"] * days["denominator"]).sum()) / trials
        # Judged against the forecast or the share of the weeks before, whichever is nearer the
        # breach: a thin rate that is usually 1.0 (nine of nine) is forecast at 0.999 on the
        # logit scale, and against that any two misses would be a miracle.
        before = float(usual.loc[uid, "share"])
        expected = min(expected, before) if not up else max(expected, before)
        share = hits / trials
        values[uid] = share
        # Distribution methods with their shape, not scipy's frozen distributions: those parse
        # their docstrings when made, a thousand times the cost of the call.
        dispersion = float(usual.loc[uid, "dispersion"])
        dist, shape = _pooled(trials, min(max(expected, 1e-6), 1 - 1e-6), dispersion)
        p = float(dist.sf(hits - 1, *shape) if up else dist.cdf(hits, *shape))
        past = share - expected if up else expected - share
        relative = past / expected if expected > 0 else math.inf
        if p >= rule.max_p or past < rule.min_abs_impact or relative < rule.min_rel_impact:
            continue
        edge = dist.isf(rule.max_p, *shape) + 1 if up else dist.ppf(rule.max_p, *shape) - 1
        line = float(edge) / trials
        score = float(min(norm.isf(max(p, 1e-300)), MAX_Z))
        significance = breach_significance(score, past * trials)
        if significance < rule.min_significance:
            continue
        breaches[uid] = Breach(
            share, line,
            f"{describe(latest.loc[uid])} was {share:.1%} over the {rule.window_days} days to "
            f"{day:%Y-%m-%d} ({past * trials:,.0f} of {trials:,.0f} "
            f"{'more' if up else 'fewer'} than the {expected:.1%} expected; chance {p:.1g}, "
            f"the line is {line:.1%})",
            score=score, significance=significance,
        )  # fmt: skip
    return Evaluation(rule, frozenset(values), breaches, dims_of(latest.reset_index()), values)


def _pooled(trials: int, expected: float, dispersion: float) -> tuple:
    """The window's count of hits by chance: beta-binomial with the window's variance (the
    binomial's times the dispersion). Its skew matters: a share near 0.9 falls further below
    its mean than a normal curve allows, and a normal test fires on such days every month."""
    from scipy.stats import betabinom, binom

    if dispersion <= 1.0 or trials <= 1:
        return binom, (trials, expected)
    correlation = min((dispersion - 1.0) / (trials - 1), 0.5)
    spread = 1.0 / correlation - 1.0
    return betabinom, (trials, expected * spread, (1 - expected) * spread)


def _baseline(baseline: pd.DataFrame) -> pd.DataFrame:
    """Per series with enough baseline days: its pooled ``share`` over them, and how many times
    the binomial variance its ordinary days show (``dispersion``, at least 1), from the median
    daily Pearson chi-square."""
    if baseline.empty:
        return pd.DataFrame(columns=["share", "dispersion"])
    expected = baseline["expected"].clip(1e-6, 1 - 1e-6)
    trials = baseline["denominator"]
    frame = pd.DataFrame(
        {
            "unique_id": baseline["unique_id"],
            "hits": baseline["value"] * trials,
            "trials": trials,
            "chi": (baseline["value"] - expected) ** 2 * trials / (expected * (1 - expected)),
        }
    )
    stats = frame.groupby("unique_id").agg(
        hits=("hits", "sum"), trials=("trials", "sum"), chi=("chi", "median"), days=("chi", "size")
    )
    stats = stats[stats["days"] >= MIN_BASELINE_DAYS]
    return pd.DataFrame(
        {
            "share": stats["hits"] / stats["trials"],
            "dispersion": (stats["chi"] / CHI2_1_MEDIAN).clip(lower=1.0),
        }
    )

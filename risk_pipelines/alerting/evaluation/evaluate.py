"""Which series breach which rule on one day (pure functions over DataFrames)."""

from __future__ import annotations

import pandas as pd

from risk_pipelines.alerting.evaluation.absence import evaluate_absent
from risk_pipelines.alerting.evaluation.breaches import (
    Breach,
    Evaluation,
    describe,
    dims_of,
    matching,
)
from risk_pipelines.alerting.evaluation.rate_shift import evaluate_rate_shift
from risk_pipelines.alerting.evaluation.rules import LEVEL_SCORES, Rule
from risk_pipelines.alerting.evaluation.significance import breach_significance, moved_events
from risk_pipelines.domain.catalog import spec_for

# count_burst: the days before the window whose mean rate floors the expected total, and the
# fewest of them that make a rate worth trusting.
BURST_BASELINE_DAYS = 28
SEASON_DAYS = 7


def evaluate_outside_interval(rule: Rule, indicators: pd.DataFrame) -> Evaluation:
    """``indicators``: risk_indicators rows of one day (value, expected, lower, upper, score)."""
    rows = matching(rule, indicators)
    rows = rows[rows["expected"].notna() & rows["score"].notna()]
    breaches = {}
    for row in rows.to_dict("records"):
        value, expected = row["value"], row["expected"]
        if rule.direction == "up":
            past, bound = value - row["upper"], row["upper"]
        else:
            past, bound = row["lower"] - value, row["lower"]
        change = (value - expected) / abs(expected) if expected else float("inf")
        if past > 0 and past >= rule.min_abs_impact and abs(change) >= rule.min_rel_impact:
            side = "above" if rule.direction == "up" else "below"
            rate = spec_for(row["metric"]).kind == "rate"
            moved = moved_events(value, expected, row.get("denominator"), rate)
            significance = breach_significance(float(row["score"]), moved)
            if significance < rule.min_significance:
                continue  # too little evidence or volume to matter (a thin rate's noise)
            breaches[row["unique_id"]] = Breach(
                observed=value,
                threshold=bound,
                score=float(row["score"]),
                significance=significance,
                message=(
                    f"{describe(row)} was {value:,.4g} on {pd.Timestamp(row['ds']):%Y-%m-%d}, "
                    f"{side} the 95% band (expected {expected:,.4g}, bound {bound:,.4g}, "
                    f"{change:+.0%} vs expected)"
                ),
            )
    values = dict(zip(rows["unique_id"], rows["value"].astype(float), strict=True))
    return Evaluation(rule, frozenset(rows["unique_id"]), breaches, dims_of(rows), values)


def evaluate_forecast_crosses(rule: Rule, forecasts: pd.DataFrame) -> Evaluation:
    """``forecasts``: the primary full-horizon forecast rows made as of the evaluated day."""
    rows = matching(rule, forecasts)
    rows = rows[rows["horizon"] <= rule.within_days]
    if rule.bound == "yhat":
        column = "yhat"
    else:
        column = "yhat_hi_95" if rule.direction == "up" else "yhat_lo_95"
    breaches, values = {}, {}
    for uid, group in rows.groupby("unique_id"):
        path = group[column]
        values[uid] = float(path.max() if rule.direction == "up" else path.min())
        crossing = path >= rule.threshold if rule.direction == "up" else path <= rule.threshold
        if crossing.any():
            first = group[crossing].sort_values("ds").iloc[0]
            what = "forecast" if rule.bound == "yhat" else "forecast 95% bound"
            breaches[uid] = Breach(
                observed=float(first[column]),
                threshold=float(rule.threshold),
                message=(
                    f"{describe(first)}: {what} reaches {first[column]:,.4g} on "
                    f"{pd.Timestamp(first['ds']):%Y-%m-%d} (threshold {rule.threshold:,.4g}, "
                    f"within {rule.within_days} days)"
                ),
            )
    return Evaluation(rule, frozenset(rows["unique_id"]), breaches, dims_of(rows), values)


def evaluate_threshold(rule: Rule, indicators: pd.DataFrame) -> Evaluation:
    """The actual itself against a fixed line (e.g. a zero-view removal rate below 60 %)."""
    rows = matching(rule, indicators)
    rows = rows[rows["value"].notna()]
    up = rule.direction == "up"
    breaches = {}
    for row in rows.to_dict("records"):
        value = float(row["value"])
        if (value >= rule.threshold) if up else (value <= rule.threshold):
            breaches[row["unique_id"]] = Breach(
                value,
                rule.threshold,
                f"{describe(row)} was {value:,.4g} on {pd.Timestamp(row['ds']):%Y-%m-%d}, "
                f"{'at or above' if up else 'at or below'} the threshold {rule.threshold:,.4g}",
            )
    values = dict(zip(rows["unique_id"], rows["value"].astype(float), strict=True))
    return Evaluation(rule, frozenset(rows["unique_id"]), breaches, dims_of(rows), values)


def evaluate_pct_change(rule: Rule, today: pd.DataFrame, earlier: pd.DataFrame) -> Evaluation:
    """The change against the same series ``compare_days`` before (``earlier`` holds that day's
    rows), as a fraction; ``min_abs_impact`` gates on the absolute change."""
    rows = matching(rule, today)
    before = earlier.set_index("unique_id")["value"] if not earlier.empty else pd.Series()
    rows = rows.assign(before=rows["unique_id"].map(before).astype(float))
    rows = rows[rows["value"].notna() & (rows["before"] > 0)]
    sign = 1.0 if rule.direction == "up" else -1.0
    breaches, values = {}, {}
    for row in rows.to_dict("records"):
        value, previous = float(row["value"]), float(row["before"])
        change = (value - previous) / previous
        values[row["unique_id"]] = change
        if sign * change >= rule.threshold and abs(value - previous) >= rule.min_abs_impact:
            breaches[row["unique_id"]] = Breach(
                change,
                sign * rule.threshold,
                f"{describe(row)} was {value:,.4g} on {pd.Timestamp(row['ds']):%Y-%m-%d}, "
                f"{change:+.0%} against {previous:,.4g} {rule.compare_days} days before "
                f"(threshold {sign * rule.threshold:+.0%})",
            )
    return Evaluation(rule, frozenset(values), breaches, dims_of(rows), values)


def evaluate_indicator_level(rule: Rule, indicators: pd.DataFrame) -> Evaluation:
    """The indicator's risk level at or above ``level`` (its score past the level's start)."""
    rows = matching(rule, indicators)
    rows = rows[rows["score"].notna()]
    line = LEVEL_SCORES[rule.level]
    breaches = {}
    for row in rows.to_dict("records"):
        if row["score"] >= line:
            breaches[row["unique_id"]] = Breach(
                float(row["score"]),
                line,
                f"{describe(row)} is {row['level']} on {pd.Timestamp(row['ds']):%Y-%m-%d} "
                f"(surprise score {row['score']:.1f}; value {row['value']:,.4g} against "
                f"expected {row['expected']:,.4g})",
                score=float(row["score"]),
                significance=breach_significance(
                    float(row["score"]), abs(float(row["value"]) - float(row["expected"]))
                ),
            )
    values = dict(zip(rows["unique_id"], rows["score"].astype(float), strict=True))
    return Evaluation(rule, frozenset(rows["unique_id"]), breaches, dims_of(rows), values)


def evaluate_count_burst(rule: Rule, day: pd.Timestamp, indicators: pd.DataFrame) -> Evaluation:
    """The last ``window_days`` days' total of a sparse count against its expected total: a
    breach when that many or more would come by chance with probability below ``max_p`` (the
    Poisson upper tail) and the excess is at least ``min_abs_impact``. Three incidents in a day
    against 0.6 expected happen every few weeks; eight in three days against 1.8 about once in
    five years.

    The expected total is the forecast's, or the series' own mean rate over the
    ``BURST_BASELINE_DAYS`` before the window when that is higher: a low-volume forecast is a
    recent median, 0 for a series with an incident every other day, and against 0 any incident
    would be a miracle. (Half an event is added to the baseline's count, so a series with none
    in four weeks still has a rate.)"""
    from scipy.stats import norm, poisson

    first = day - pd.Timedelta(days=rule.window_days - 1)
    own = matching(rule, indicators)
    rows = own[(own["ds"] >= first) & (own["ds"] <= day)]
    rows = rows[rows["value"].notna() & rows["expected"].notna()]
    whole = rows.groupby("unique_id").filter(lambda g: g["ds"].nunique() == rule.window_days)
    if whole.empty:
        return Evaluation(rule, frozenset(), {}, {}, {})
    totals = whole.groupby("unique_id")[["value", "expected"]].sum()
    before = own[
        (own["ds"] < first) & (own["ds"] >= first - pd.Timedelta(days=BURST_BASELINE_DAYS))
    ]
    before = before.dropna(subset=["value"]).groupby("unique_id")["value"].agg(["sum", "count"])
    latest = whole[whole["ds"] == day].drop_duplicates("unique_id").set_index("unique_id")
    breaches, values = {}, {}
    for uid, total in totals.iterrows():
        observed, expected = float(total["value"]), float(total["expected"])
        if uid in before.index and before.loc[uid, "count"] >= SEASON_DAYS:
            rate = (before.loc[uid, "sum"] + 0.5) / before.loc[uid, "count"]
            expected = max(expected, rate * rule.window_days)
        expected = max(expected, 1e-6)
        values[uid] = observed
        p = float(poisson.sf(observed - 1, expected))
        if p >= rule.max_p or observed - expected < rule.min_abs_impact:
            continue
        line = float(poisson.isf(rule.max_p, expected)) + 1  # the smallest total that breaches
        z = float(min(norm.isf(max(p, 1e-300)), 40.0))
        significance = breach_significance(z, observed - expected)
        if significance < rule.min_significance:
            continue
        breaches[uid] = Breach(
            observed, line,
            f"{describe(latest.loc[uid])}: {observed:,.0f} in the {rule.window_days} days to "
            f"{day:%Y-%m-%d} against {expected:,.2g} expected (chance {p:.1g}; the line is "
            f"{line:,.0f})",
            score=z, significance=significance,
        )  # fmt: skip
    return Evaluation(rule, frozenset(values), breaches, dims_of(latest.reset_index()), values)


def evaluate_rule(
    rule: Rule,
    day: pd.Timestamp,
    indicators: pd.DataFrame,
    forecasts: pd.DataFrame,
    metrics: pd.DataFrame | None = None,
) -> Evaluation:
    """One rule on one day. ``indicators`` holds at least that day (and, for pct_change, the
    day ``compare_days`` before); ``forecasts`` the full-horizon forecasts made that day;
    ``metrics`` (absent rules) the daily_metrics rows of the rule's window through that day."""
    if rule.type == "absent":
        return evaluate_absent(rule, day, metrics if metrics is not None else pd.DataFrame())
    if rule.type == "count_burst":
        return evaluate_count_burst(rule, day, indicators)
    if rule.type == "rate_shift":
        return evaluate_rate_shift(rule, day, indicators)
    today = indicators[indicators["ds"] == day]
    if rule.type == "outside_interval":
        return evaluate_outside_interval(rule, today)
    if rule.type == "forecast_crosses":
        return evaluate_forecast_crosses(rule, forecasts)
    if rule.type == "threshold":
        return evaluate_threshold(rule, today)
    if rule.type == "pct_change":
        earlier = indicators[indicators["ds"] == day - pd.Timedelta(days=rule.compare_days)]
        return evaluate_pct_change(rule, today, earlier)
    return evaluate_indicator_level(rule, today)

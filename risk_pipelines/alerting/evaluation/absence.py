"""The ``absent`` rule: a series that went silent (Prometheus' ``absent()``, Datadog's "no
data" monitors).

A series that had data on at least ``min_presence`` of its last ``lookback_days`` and has no
row today (or, with ``near_zero``, a value at or below it) breaches; ``min_level`` leaves out
series whose recent median is smaller (a day without a row is routine for a handful a day).
It opens one alert for the outage and resolves when data returns (the series is then judged
again, present). While the outage lasts past the look-back, the series is no longer
established, so it neither breaches again nor resolves: the alert stays open until the data
is back.

A category that vanishes from the whole metric on the day other categories of it first appear
is a taxonomy change, not an outage: it is not alerted on (the ``category_set`` check names it).
Rates whose recent denominator is thin are routinely absent and are not judged.
"""

from __future__ import annotations

import pandas as pd

from risk_pipelines.alerting.evaluation.breaches import Breach, Evaluation, describe, matching
from risk_pipelines.alerting.evaluation.rules import Rule
from risk_pipelines.alerting.evaluation.significance import breach_significance
from risk_pipelines.indicators.surprise import MIN_DENOMINATOR

PRESENT, ABSENT, LINE = 1.0, 0.0, 0.5  # the values the state machine compares


def metrics_window_days(rule: Rule) -> int:
    """Days of daily_metrics before the evaluated day that the rule needs: the look-back,
    and as much again to tell a new series from an old one."""
    return 2 * rule.lookback_days


def evaluate_absent(rule: Rule, day: pd.Timestamp, metrics: pd.DataFrame) -> Evaluation:
    """``metrics``: daily_metrics rows (unique_id, ds, value, denominator and the series
    dimensions) from ``metrics_window_days`` before ``day`` through ``day``."""
    rows = matching(rule, metrics)
    if rows.empty:
        return Evaluation(rule, frozenset(), {}, {}, {})
    rows = rows.assign(ds=pd.to_datetime(rows["ds"]))
    live = rows["value"].notna()
    if rule.near_zero is not None:
        live &= rows["value"] > rule.near_zero
    seen = rows[live & (rows["ds"] <= day)]
    window = seen[seen["ds"] >= day - pd.Timedelta(days=rule.lookback_days)]
    days_present = window[window["ds"] < day].groupby("unique_id")["ds"].nunique()
    established = set(days_present[days_present >= rule.min_presence * rule.lookback_days].index)
    established -= _thin_rates(rows[rows["ds"] < day])
    level = window[window["ds"] < day].groupby("unique_id")["value"].median()
    if rule.min_level > 0:
        established -= set(level[level < rule.min_level].index)
    present_today = set(seen.loc[seen["ds"] == day, "unique_id"])
    silent = established - present_today
    silent -= _ended_by_new_categories(seen, silent, day, rule.lookback_days)
    evaluated = silent | present_today  # present series are clean: an open alert resolves
    latest = rows.sort_values("ds").drop_duplicates("unique_id", keep="last").set_index("unique_id")
    breaches = {}
    for uid in sorted(silent):
        row = latest.loc[uid]
        last_seen = seen.loc[seen["unique_id"] == uid, "ds"].max()
        breaches[uid] = Breach(
            ABSENT,
            LINE,
            f"{describe(row)} has no data on {day:%Y-%m-%d} (last seen "
            f"{last_seen:%Y-%m-%d}; data on {int(days_present[uid])} of the "
            f"{rule.lookback_days} days before): a source that went quiet?",
            significance=breach_significance(None, float(level.get(uid, 0.0))),
        )
    values = {uid: ABSENT if uid in silent else PRESENT for uid in evaluated}
    dims = {
        uid: {k: latest.loc[uid, k] for k in ("metric", "policy_category", "region", "surface",
                                                "platform")}
        for uid in evaluated
    }  # fmt: skip
    return Evaluation(rule, frozenset(evaluated), breaches, dims, values)


def _thin_rates(history: pd.DataFrame) -> set[str]:
    if "denominator" not in history:
        return set()
    rates = history[history["denominator"].notna()]
    median = rates.groupby("unique_id")["denominator"].median()
    return set(median[median < MIN_DENOMINATOR].index)


def _ended_by_new_categories(
    seen: pd.DataFrame, silent: set[str], day: pd.Timestamp, lookback: int
) -> set[str]:
    """Silent series whose policy category vanished from the whole metric (every platform)
    while another category of the metric appeared for the first time within a day of it: the
    taxonomy changed, no source went quiet."""
    if not silent:
        return set()
    first_seen = seen.groupby(["metric", "policy_category"])["ds"].min()
    new = first_seen[first_seen >= seen["ds"].min() + pd.Timedelta(days=lookback)]
    if new.empty:
        return set()
    today = seen.loc[seen["ds"] == day, ["metric", "policy_category"]]
    live_today = set(today.itertuples(index=False, name=None))
    keys = seen.drop_duplicates("unique_id").set_index("unique_id")
    stopped = seen.groupby("unique_id")["ds"].max() + pd.Timedelta(days=1)
    ended = set()
    for uid in silent:
        metric, category = keys.loc[uid, "metric"], keys.loc[uid, "policy_category"]
        if category == "all" or (metric, category) in live_today:
            continue
        starts = new[new.index.get_level_values("metric") == metric]
        if ((starts - stopped[uid]).abs() <= pd.Timedelta(days=1)).any():
            ended.add(uid)
    return ended

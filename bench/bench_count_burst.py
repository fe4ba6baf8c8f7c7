"""The count_burst rule on sparse counts: which window and which chance line catch a cluster
within two days without firing on noise?

Series of Poisson counts at rates from 0.05 to 3 a day (incidents, sev-1 incidents, a rare
abuse type), two years, with the forecast a low-volume model gives them (the median of the
last four weeks: often 0). Into one copy of each, a cluster of ``--extra`` events a day for
three days is injected at a seeded random day of the last year; the other copy stays clean.
For each window and ``max_p``, every day of the last year is evaluated with the rule
(alerting/evaluation/evaluate.py:evaluate_count_burst); a run of breaching days is one alert.

Prints, per setting: recall (a cluster detected within two days of its start), median delay,
and false alerts per series per year on the clean copy.

    python bench/bench_count_burst.py [--series 40] [--extra 2] [--seed 7]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from risk_pipelines.alerting.evaluation.evaluate import evaluate_count_burst
from risk_pipelines.alerting.evaluation.rules import parse_rules

DAYS = 730
JUDGED = 365


def series(n: int, rng) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Clean and injected indicator frames (value, expected) and each series' cluster start."""
    ds = pd.date_range("2024-07-01", periods=DAYS, freq="D")
    frames, starts = [], {}
    for i in range(n):
        rate = float(np.exp(rng.uniform(np.log(0.05), np.log(3.0))))
        values = rng.poisson(rate, DAYS).astype(float)
        median = pd.Series(values).rolling(28, min_periods=7).median().shift(1).to_numpy()
        uid = f"incidents|bench|c{i:02d}|all|all"
        frames.append(pd.DataFrame({"ds": ds, "unique_id": uid, "value": values,
                                    "expected": median}))  # fmt: skip
        starts[uid] = int(rng.integers(DAYS - JUDGED, DAYS - 5))
    clean = pd.concat(frames, ignore_index=True).assign(
        indicator="incidents", metric="incidents", platform="bench", region="all",
        surface="all", policy_category=lambda f: f["unique_id"].str.split("|").str[2],
    )  # fmt: skip
    return clean, ds, starts


def alerts(rule, frame: pd.DataFrame, days) -> pd.DataFrame:
    """(unique_id, first day) of every run of breaching days."""
    breaching = []
    for day in days:
        for uid in evaluate_count_burst(rule, day, frame).breaches:
            breaching.append((uid, day))
    hits = pd.DataFrame(breaching, columns=["unique_id", "ds"])
    if hits.empty:
        return hits
    hits = hits.sort_values(["unique_id", "ds"])
    new_run = hits.groupby("unique_id")["ds"].diff() != pd.Timedelta(days=1)
    return hits[new_run]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--extra", type=int, default=2, help="events a day the cluster adds")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    clean, ds, starts = series(args.series, rng)
    injected = clean.copy()
    for uid, start in starts.items():
        hit = (injected["unique_id"] == uid) & injected["ds"].isin(ds[start : start + 3])
        injected.loc[hit, "value"] += args.extra
    judged = ds[-JUDGED:]
    print(f"{args.series} series at 0.05-3 a day, clusters of +{args.extra} a day for 3 days")
    print("window  max_p   recall  median delay  false / series / year (clean)")
    for window in (2, 3, 4, 5):
        for max_p in (0.001, 0.002, 0.005):
            rule = parse_rules({"rules": [{
                "id": "burst", "type": "count_burst", "severity": "high",
                "match": {"metric": "incidents"}, "window_days": window, "max_p": max_p,
                "min_abs_impact": 2,
            }]})[0]  # fmt: skip
            found = alerts(rule, injected, judged)
            delays = []
            for uid, start in starts.items():
                mine = found[(found["unique_id"] == uid) & (found["ds"] >= ds[start])]
                first = mine["ds"].min() if len(mine) else None
                delay = (first - ds[start]).days if first is not None else None
                delays.append(delay if delay is not None and delay <= 2 else None)
            recall = np.mean([d is not None for d in delays])
            median = np.median([d for d in delays if d is not None]) if recall else float("nan")
            false = len(alerts(rule, clean, judged)) / args.series
            print(f"{window:6d}  {max_p:5.3f}  {recall:6.2f}  {median:12.1f}  {false:29.2f}")


if __name__ == "__main__":
    main()

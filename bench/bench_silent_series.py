"""Measure the ``absent`` rule on real series: how often it fires, on what, and at what cost.

Replays the rule day by day through the real evaluation and state machine over the real DSA
daily counts of 20 platforms (tests/fixtures/dsa_daily/: 2023-09 to 2026-01, platform totals
and platform x category series, with onboarding and stopping platforms, real gaps, backfill
bursts and the 2025-07-01 taxonomy change), for several settings. Prints, per setting:
alerts per series per quarter, how many opened on the taxonomy-change days, how many platform
totals (the series whose gaps are outages) against category series (sparse ones go quiet
often), and the seconds per evaluated day. The packaged rule's defaults are chosen from this.

    python bench/bench_silent_series.py [--settings 0.8:0,0.9:0,0.8:20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from risk_pipelines.alerting.evaluation.absence import evaluate_absent, metrics_window_days
from risk_pipelines.alerting.evaluation.rules import Rule
from risk_pipelines.alerting.evaluation.state import step

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dsa_daily"
TAXONOMY_CHANGE = (pd.Timestamp("2025-07-01"), pd.Timestamp("2025-07-02"))


def real_series() -> pd.DataFrame:
    """Platform totals and platform x category counts as daily_metrics rows."""
    totals = pd.read_csv(FIXTURES / "platform_totals.csv", parse_dates=["date"])
    totals["category"] = "all"
    categories = pd.read_csv(FIXTURES / "platform_category.csv.gz", parse_dates=["date"])
    categories["category"] = (
        categories["category"].str.removeprefix("STATEMENT_CATEGORY_").str.lower()
    )
    frame = pd.concat([totals, categories], ignore_index=True)
    frame = frame.rename(columns={"date": "ds", "category": "policy_category",
                                  "statements": "value"})  # fmt: skip
    frame = frame.assign(metric="dsa_statements", region="all", surface="all", denominator=None)
    frame["unique_id"] = (
        frame["metric"] + "|" + frame["platform"] + "|" + frame["policy_category"] + "|all|all"
    )
    return frame


def replay(frame: pd.DataFrame, rule: Rule) -> tuple[pd.DataFrame, float]:
    """Every firing the rule would have raised, with its series and day; seconds per day."""
    open_alerts, fired = {}, []
    window = pd.Timedelta(days=metrics_window_days(rule))
    days = pd.date_range(frame["ds"].min() + window, frame["ds"].max())
    started = time.perf_counter()
    for day in days:
        rows = frame[(frame["ds"] > day - window) & (frame["ds"] <= day)]
        evaluation = evaluate_absent(rule, day, rows)
        for t in step(open_alerts, evaluation, day.date()):
            key = (t.after.rule_id, t.after.unique_id)
            if t.notify == "firing":
                fired.append((t.after.unique_id, day))
            if t.after.state == "resolved":
                open_alerts.pop(key, None)
            else:
                open_alerts[key] = t.after
    seconds = (time.perf_counter() - started) / len(days)
    return pd.DataFrame(fired, columns=["unique_id", "ds"]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", default="0.8:0:0,0.9:0:0,0.9:0:10,0.95:0:10,0.9:0:100",
                        help="min_presence:near_zero:min_level triples")  # fmt: skip
    parser.add_argument("--show-change", action="store_true",
                        help="list the alerts raised on the taxonomy-change days")  # fmt: skip
    args = parser.parse_args()
    frame = real_series()
    quarters = (frame["ds"].max() - frame["ds"].min()).days / 91.3
    kinds = {"totals": frame["policy_category"] == "all"}
    kinds["categories"] = ~kinds["totals"]
    totals = frame.loc[kinds["totals"], "unique_id"].nunique()
    print(
        f"{frame['unique_id'].nunique()} real series ({totals} platform totals), "
        f"{frame['ds'].min():%Y-%m-%d}..{frame['ds'].max():%Y-%m-%d} ({quarters:.1f} quarters)"
    )
    print("presence near_zero min_level | alerts | per series per quarter: totals categories | "
          "on taxonomy change | ms/day")  # fmt: skip
    for setting in args.settings.split(","):
        presence, near_zero, level = (float(x) for x in setting.split(":"))
        rule = Rule(
            id="series_silent", type="absent", severity="medium", direction="down",
            renotify_days=0, min_presence=presence, near_zero=near_zero or None, min_level=level,
        )  # fmt: skip
        fired, seconds = replay(frame, rule)
        per = {}
        for kind, mask in kinds.items():
            series = frame.loc[mask, "unique_id"].unique()
            count = fired["unique_id"].isin(series).sum()
            per[kind] = count / len(series) / quarters
        on_change = fired["ds"].isin(TAXONOMY_CHANGE).sum()
        if args.show_change:
            print(fired[fired["ds"].isin(TAXONOMY_CHANGE)].to_string(index=False))
        print(
            f"{presence:8.2f} {near_zero:9g} {level:9g} | {len(fired):6d} | "
            f"{per['totals']:31.2f} {per['categories']:10.2f} | {on_change:18d} | "
            f"{1000 * seconds:6.1f}"
        )


if __name__ == "__main__":
    main()

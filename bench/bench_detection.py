"""Detection benchmark: how the packaged alert rules do on realistic series with labelled
anomalies, and how noisy they are on the same series clean.

Series have the shapes of real platform counts (a level per series, growth, a weekly cycle,
log-normal noise with a heavy right tail, occasional partial days). Into one copy of each,
anomalies are injected at seeded random days of the evaluated range: one-day spikes, multi-day
surges, drops, permanent level shifts up and down, and outages (no data). The other copy stays
clean. Every packaged rule that matches the series is replayed with ``rules backtest``'s
walk-forward replay (alerting/evaluation/backtest.py), and its episodes are matched to labels:

- an episode is a true positive when it fires on a series with an anomaly in the direction the
  rule watches, between the anomaly's start and two days after its end; every other episode on
  the injected copy is a false positive; on the clean copy, every episode is a false alert;
- a label is detected when some rule fires on its series within that window (delay: days from
  the anomaly's start).

Prints precision, recall and F1 per rule and per anomaly kind, median and worst delay, false
alerts per series per quarter on the clean copy, episodes open longer than 28 days, and
re-alerts after a level shift. Seeded and deterministic.

    python bench/bench_detection.py [--series 12] [--days 120] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipelines.alerting.evaluation.backtest import backtest_rule
from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_config
from risk_pipelines.warehouse.store import Warehouse

METRIC = "user_reports"
KINDS = {  # kind: (days, factor on the expected value; None: no data), direction
    "spike": (1, 4.0, "up"),
    "surge": (5, 2.5, "up"),
    "drop": (5, 0.3, "down"),
    "shift_up": (None, 1.8, "up"),
    "shift_down": (None, 0.5, "down"),
    "outage": (5, None, "down"),
}
END = dt.date(2026, 6, 30)
HISTORY = 430
OPEN_TOO_LONG = 28


@dataclass(frozen=True)
class Label:
    unique_id: str
    kind: str
    start: dt.date
    end: dt.date  # the last anomalous day (a shift: the end of the range)
    direction: str


def make_series(n: int, days: list[dt.date], rng) -> pd.DataFrame:
    t = np.arange(len(days))
    weekly = 1 + 0.3 * np.sin(2 * np.pi * t / 7 + 1.0)
    frames = []
    for i in range(n):
        level = rng.uniform(60, 2000)
        growth = 1 + rng.uniform(-0.0004, 0.0015) * t
        values = level * growth * weekly * rng.lognormal(0, 0.12, len(days))
        partial = rng.random(len(days)) < 0.01  # a partial day now and then
        values = np.where(partial, values * rng.uniform(0.4, 0.8, len(days)), values)
        category = f"category_{i:02d}"
        frames.append(pd.DataFrame({"ds": days, "policy_category": category,
                                    "value": np.round(values)}))  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.assign(metric=METRIC, platform="bench", region="all", surface="all")
    frame["unique_id"] = METRIC + "|bench|" + frame["policy_category"] + "|all|all"
    return frame


def inject(frame: pd.DataFrame, evaluated: list[dt.date], rng) -> tuple[pd.DataFrame, list]:
    """One anomaly per series, of a kind taken in turn, at a random day of the evaluated range
    (early enough for a multi-day anomaly to end inside it)."""
    frame, labels = frame.copy(), []
    kinds = list(KINDS)
    for i, uid in enumerate(sorted(frame["unique_id"].unique())):
        kind = kinds[i % len(kinds)]
        length, factor, direction = KINDS[kind]
        first = evaluated[int(rng.integers(7, len(evaluated) - 14))]
        last = evaluated[-1] if length is None else first + dt.timedelta(days=length - 1)
        hit = (frame["unique_id"] == uid) & (frame["ds"] >= first) & (frame["ds"] <= last)
        if factor is None:
            frame = frame[~hit]
        else:
            frame.loc[hit, "value"] = np.round(frame.loc[hit, "value"] * factor)
        labels.append(Label(uid, kind, first, last, direction))
    return frame, labels


def load(url: str, frame: pd.DataFrame) -> Warehouse:
    warehouse = Warehouse(url)
    rows = frame.assign(source="landed", numerator=None, denominator=None)
    warehouse.replace_rows("daily_metrics", rows, where={"source": "landed"})
    return warehouse


def replay(warehouse: Warehouse, rules, start: dt.date, workers: int) -> pd.DataFrame:
    found = []
    for rule in rules:
        result = backtest_rule(warehouse, rule, start, END, workers=workers)
        episodes = result.episodes.assign(rule_id=rule.id, direction=rule.direction)
        found.append(episodes)
    frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    for column in ("fired_on", "resolved_on"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def score(episodes: pd.DataFrame, labels: list[Label]) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_series = {label.unique_id: label for label in labels}
    slack = dt.timedelta(days=2)
    rows = []
    for e in episodes.to_dict("records"):
        label = by_series.get(e["unique_id"])
        hit = (
            label is not None
            and label.start <= e["fired_on"] <= label.end + slack
            and (e["direction"] == label.direction or e["rule_id"] == "series_silent")
        )
        rows.append({**e, "true": bool(hit), "kind": label.kind if label else None})
    scored = pd.DataFrame(rows)
    detections = []
    for label in labels:
        hits = (
            scored[(scored["unique_id"] == label.unique_id) & scored["true"]]
            if len(scored)
            else scored
        )
        first = hits["fired_on"].min() if len(hits) else None
        detections.append({"kind": label.kind, "detected": first is not None,
                           "delay": (first - label.start).days if first else None})  # fmt: skip
    return scored, pd.DataFrame(detections)


def open_days(episodes: pd.DataFrame) -> pd.Series:
    ended = episodes["resolved_on"].fillna(END)
    return pd.Series([(e - f).days for e, f in zip(ended, episodes["fired_on"], strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=12)
    parser.add_argument("--days", type=int, default=120, help="evaluated days, ending 2026-06-30")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    days = [END - dt.timedelta(days=i) for i in range(HISTORY + args.days)][::-1]
    evaluated = days[-args.days :]
    clean = make_series(args.series, days, rng)
    injected, labels = inject(clean, evaluated, rng)
    rules = [r for r in load_config(PACKAGED_CONFIG_DIR).alerts.rules
             if r.matches({"metric": METRIC, "platform": "bench", "policy_category": "x",
                           "region": "all", "surface": "all"})]  # fmt: skip
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        on_injected = replay(load(f"sqlite:///{Path(tmp) / 'i.sqlite'}", injected), rules,
                             evaluated[0], args.workers)  # fmt: skip
        on_clean = replay(load(f"sqlite:///{Path(tmp) / 'c.sqlite'}", clean), rules,
                          evaluated[0], args.workers)  # fmt: skip
    seconds = time.perf_counter() - started
    scored, detections = score(on_injected, labels)
    quarters = args.days / 91.3
    print(f"{args.series} series x {args.days} evaluated days, seed {args.seed}, "
          f"rules {[r.id for r in rules]}, replayed in {seconds:.0f}s")  # fmt: skip
    print("\nper rule (injected copy; false alerts on the clean copy)")
    print("rule                        episodes  precision  false/series/quarter(clean)")
    for rule in rules:
        mine = scored[scored["rule_id"] == rule.id] if len(scored) else scored
        precision = mine["true"].mean() if len(mine) else float("nan")
        false_clean = (on_clean["rule_id"] == rule.id).sum() / args.series / quarters
        print(f"{rule.id:27s} {len(mine):8d}  {precision:9.2f}  {false_clean:27.2f}")
    print("\nper anomaly kind")
    print("kind         labels  recall  median delay  worst delay")
    for kind, group in detections.groupby("kind", sort=False):
        delays = group["delay"].dropna()
        print(f"{kind:12s} {len(group):6d}  {group['detected'].mean():6.2f}  "
              f"{(delays.median() if len(delays) else float('nan')):12.1f}  "
              f"{(delays.max() if len(delays) else float('nan')):11.0f}")  # fmt: skip
    precision = scored["true"].mean() if len(scored) else float("nan")
    recall = detections["detected"].mean()
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    delays = detections["delay"].dropna()
    shifts = [lab for lab in labels if lab.kind.startswith("shift")]
    realerts = sum(
        int(((scored["unique_id"] == lab.unique_id)
             & (scored["fired_on"] > lab.start + dt.timedelta(days=2))).sum())
        for lab in shifts
    ) if len(scored) else 0  # fmt: skip
    print(f"\noverall: precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}, "
          f"median delay {delays.median() if len(delays) else float('nan'):.1f} d, "
          f"worst {delays.max() if len(delays) else float('nan'):.0f} d")  # fmt: skip
    both = pd.concat([on_injected, on_clean], ignore_index=True)
    false_rate = len(on_clean) / args.series / quarters
    too_long = int((open_days(both) > OPEN_TOO_LONG).sum())
    print(f"false alerts per series per quarter (clean): {false_rate:.2f}; "
          f"episodes open > {OPEN_TOO_LONG} days: {too_long}; "
          f"re-alerts after a level shift: {realerts}")  # fmt: skip


if __name__ == "__main__":
    main()

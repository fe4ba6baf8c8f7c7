"""Detection benchmark: how the packaged alert rules do on realistic series with labelled
anomalies, and how noisy they are on the same series clean.

Series have the shapes of real platform counts (a level per series, growth, a weekly cycle,
heavy-tailed noise, occasional partial days). Into one copy of each,
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
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from risk_pipelines.alerting.evaluation.backtest import backtest_rules
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
REAL_HISTORY = 300  # the real DSA series are younger: most start in the second half of 2024
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
        # Heavy-tailed day-to-day noise (Student t, 4 degrees of freedom, about 12 % a day):
        # a 4-sigma day comes every few months on a clean series, as on real counts.
        noise = np.exp(0.12 * rng.standard_t(4, len(days)) / np.sqrt(2))
        values = level * growth * weekly * noise
        partial = rng.random(len(days)) < 0.01  # a partial day now and then
        values = np.where(partial, values * rng.uniform(0.4, 0.8, len(days)), values)
        category = f"category_{i:02d}"
        frames.append(pd.DataFrame({"ds": days, "policy_category": category,
                                    "value": np.round(values)}))  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.assign(metric=METRIC, platform="bench", region="all", surface="all")
    frame["unique_id"] = METRIC + "|bench|" + frame["policy_category"] + "|all|all"
    return frame


def real_series(path: Path, evaluated_days: int) -> tuple[pd.DataFrame, list[dt.date]]:
    """Real daily counts as the series: every platform with data on 90 % of the evaluated days
    and the REAL_HISTORY days before them, its gaps and bursts left as they are."""
    raw = pd.read_csv(path, parse_dates=["date"])
    end = raw["date"].max().date()
    days = [end - dt.timedelta(days=i) for i in range(REAL_HISTORY + evaluated_days)][::-1]
    raw = raw[raw["date"].dt.date >= days[0]]
    covered = raw.groupby("platform")["date"].nunique() >= 0.9 * len(days)
    raw = raw[raw["platform"].isin(covered[covered].index)]
    frame = pd.DataFrame({"ds": raw["date"].dt.date, "value": raw["statements"].astype(float),
                          "policy_category": raw["platform"].str.replace("|", "/")})  # fmt: skip
    frame = frame.assign(metric=METRIC, platform="bench", region="all", surface="all")
    frame["unique_id"] = METRIC + "|bench|" + frame["policy_category"] + "|all|all"
    return frame.reset_index(drop=True), days


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


def replay(warehouse: Warehouse, rules, start: dt.date, end: dt.date, workers: int) -> pd.DataFrame:
    found = []
    for result in backtest_rules(warehouse, rules, start, end, workers=workers):
        rule = result.rule
        found.append(result.episodes.assign(rule_id=rule.id, direction=rule.direction))
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


def open_days(episodes: pd.DataFrame, end: dt.date) -> pd.Series:
    ended = episodes["resolved_on"].fillna(end)
    return pd.Series([(e - f).days for e, f in zip(ended, episodes["fired_on"], strict=True)])


def with_overrides(rule, overrides: list[str]):
    """The rule with ``RULE.FIELD=VALUE`` overrides that name it applied."""
    changes = {}
    for item in overrides:
        target, value = item.split("=", 1)
        rule_id, name = target.split(".", 1)
        if rule_id == rule.id:
            kind = type(getattr(rule, name))
            changes[name] = kind(float(value)) if kind in (int, float) else value
    return replace(rule, **changes) if changes else rule


def significance_table(scored: pd.DataFrame) -> None:
    """What a route's ``min_significance`` would keep: the share of true and of false episodes
    at or above each line (significance at firing, alerting/evaluation/significance.py)."""
    if "significance" not in scored or scored.empty:
        return
    true, false = scored[scored["true"]], scored[~scored["true"]]
    print("\nmin_significance  true kept  false kept")
    for line in (0, 5, 8, 10, 12, 15, 20, 25):
        kept_true = (true["significance"] >= line).mean() if len(true) else float("nan")
        kept_false = (false["significance"] >= line).mean() if len(false) else float("nan")
        print(f"{line:16d}  {kept_true:9.2f}  {kept_false:10.2f}")


def explain(scored: pd.DataFrame, on_clean: pd.DataFrame, labels: list[Label]) -> None:
    """Every false episode, placed against its series' anomaly (days from its start)."""
    by_series = {label.unique_id: label for label in labels}
    print("\nfalse episodes (injected copy): rule, series, kind, fired / resolved vs start")
    for e in scored[~scored["true"]].to_dict("records"):
        label = by_series[e["unique_id"]]
        resolved = (e["resolved_on"] - label.start).days if pd.notna(e["resolved_on"]) else None
        print(f"  {e['rule_id']:26s} {e['unique_id'][-15:]:15s} {label.kind:10s} "
              f"{(e['fired_on'] - label.start).days:+4d} / {resolved}")  # fmt: skip
    for e in on_clean.to_dict("records"):
        print(f"  clean: {e['rule_id']:26s} {e['unique_id'][-15:]:15s} {e['fired_on']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=12)
    parser.add_argument("--days", type=int, default=120, help="evaluated days, ending 2026-06-30")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--explain", action="store_true", help="list every false episode")
    parser.add_argument(
        "--real", type=Path, metavar="PLATFORM_TOTALS_CSV",
        help="real series instead of generated ones: date,platform,statements per day (e.g. "
        "tests/fixtures/dsa_daily/platform_totals.csv); their own unlabelled events count as "
        "false alerts, so precision there is a lower bound",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="RULE.FIELD=VALUE",
        help="try another value for a rule's field, e.g. report_drop.sustain=1",
    )  # fmt: skip
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.real:
        clean, days = real_series(args.real, args.days)
        args.series = clean["unique_id"].nunique()
    else:
        days = [END - dt.timedelta(days=i) for i in range(HISTORY + args.days)][::-1]
        clean = make_series(args.series, days, rng)
    evaluated = days[-args.days :]
    injected, labels = inject(clean, evaluated, rng)
    rules = [r for r in load_config(PACKAGED_CONFIG_DIR).alerts.rules
             if r.matches({"metric": METRIC, "platform": "bench", "policy_category": "x",
                           "region": "all", "surface": "all"})]  # fmt: skip
    rules = [with_overrides(rule, args.set) for rule in rules]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        on_injected = replay(load(f"sqlite:///{Path(tmp) / 'i.sqlite'}", injected), rules,
                             evaluated[0], days[-1], args.workers)  # fmt: skip
        on_clean = replay(load(f"sqlite:///{Path(tmp) / 'c.sqlite'}", clean), rules,
                          evaluated[0], days[-1], args.workers)  # fmt: skip
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
    too_long = int((open_days(both, days[-1]) > OPEN_TOO_LONG).sum())
    significance_table(scored)
    if args.explain:
        explain(scored, on_clean, labels)
    print(f"false alerts per series per quarter (clean): {false_rate:.2f}; "
          f"episodes open > {OPEN_TOO_LONG} days: {too_long}; "
          f"re-alerts after a level shift: {realerts}")  # fmt: skip


if __name__ == "__main__":
    main()

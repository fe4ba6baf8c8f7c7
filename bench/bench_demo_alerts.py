"""The demo's own ground truth: of the alerts the packaged rules raise over the demo's two
years, how many belong to an injected event, and does each event still fire within two days?

Builds the ``make run`` demo (two years, scale 0.5, seed 7: a report surge, a proactive-rate
drop and an incident cluster, all in the last 45 days) with the pipeline's own stages (ingest,
metrics; no Dagster), then replays every packaged rule walk-forward over every day after the
first ``--warmup`` days (``rules backtest``'s replay, alerting/evaluation/backtest.py).

An episode belongs to an event when it fires between the event's start and two days after its
end, on a series at or around the event's place: its category or all categories, its region or
all regions, any metric (a classifier regression also moves user reports, an incident cluster
the incident counts of every severity). The goal (issue 18): at least 80 % of the episodes
belong to an event, and each event's own series fires within two days of its start.

    python bench/bench_demo_alerts.py [--days 730] [--scale 0.5] [--warmup 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import pickle
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_detection import with_overrides

from risk_pipelines.alerting.evaluation.backtest import (
    HISTORY_DAYS,
    _matching_metrics,
    backtest_rule,
    backtest_rules,
    replay_series,
)
from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_config
from risk_pipelines.domain.series import split_series_id
from risk_pipelines.sources.demo import DemoSpec, generate_demo_data, ground_truth_events
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.ingest import ingest_source
from risk_pipelines.stages.metrics import run_metrics
from risk_pipelines.warehouse.store import Warehouse

SLACK_DAYS = 2
GOAL_SHARE = 0.8


def build(folder: Path, days: int, scale: float) -> tuple[Warehouse, list, dt.date, dt.date]:
    """The demo's warehouse through the metrics stage (reused when ``folder`` holds one)."""
    end = dt.date(2026, 6, 30)
    start = end - dt.timedelta(days=days - 1)
    spec = DemoSpec(start, end, scale=scale)
    warehouse = Warehouse(f"sqlite:///{folder / 'demo.sqlite'}")
    if (folder / "built").exists():
        return warehouse, ground_truth_events(spec), start, end
    summary = generate_demo_data(spec, folder / "landing")
    run = StageRun(landing_dir=folder / "landing", run_id="bench-demo-alerts")
    every_day = [start + dt.timedelta(days=i) for i in range(days)]
    for dataset in ("moderation_decisions", "incidents"):
        ingest_source(warehouse, dataset, every_day, run)
    run_metrics(warehouse, every_day, run)
    (folder / "built").touch()
    return warehouse, summary.events, start, end


def cached_backtest(folder: Path, warehouse, rules, start, end, workers: int) -> list:
    """``backtest_rules`` with the walk-forward replay kept beside the demo: trying another
    value of a rule's field (``--set``) then takes seconds, not the replay's minutes. The
    replay depends on which series the band rules watch and on the days, not on their lines."""
    banded = [r for r in rules if r.type not in ("absent", "forecast_crosses")]
    key = hashlib.sha1(repr(([r.match for r in banded], start, end)).encode()).hexdigest()[:12]
    path = folder / f"replay-{key}.pkl"
    if path.exists():
        replayed = pickle.loads(path.read_bytes())
    else:
        first = start - dt.timedelta(days=HISTORY_DAYS)
        parts = [_matching_metrics(warehouse, r, first, end) for r in banded]
        metrics = pd.concat(parts, ignore_index=True).drop_duplicates(["unique_id", "ds"])
        replayed = replay_series(metrics, start, end, 1, 7, workers)
        path.write_bytes(pickle.dumps(replayed))
    return [
        backtest_rule(warehouse, r, start, end, workers=workers,
                      replayed=replayed if r in banded else None)
        for r in rules
    ]  # fmt: skip


def belongs(row: dict, events) -> str | None:
    """The kind of the event the episode belongs to, if any."""
    dims = split_series_id(row["unique_id"])
    for event in events:
        start, end = dt.date.fromisoformat(event.start), dt.date.fromisoformat(event.end)
        near = dims["policy_category"] in (event.policy_category, "all") and dims["region"] in (
            event.region, "all",
        )  # fmt: skip
        if near and start <= row["fired_on"] <= end + dt.timedelta(days=SLACK_DAYS):
            return event.kind
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--warmup", type=int, default=60, help="days of history before judging")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--explain", action="store_true", help="list the episodes of no event")
    parser.add_argument("--rules", help="only these rules (comma-separated ids)")
    parser.add_argument("--keep", type=Path, help="build the demo here once and reuse it")
    parser.add_argument(
        "--set", action="append", default=[], metavar="RULE.FIELD=VALUE",
        help="try another value for a rule's field, e.g. incident_spike.sustain=2",
    )  # fmt: skip
    args = parser.parse_args()
    rules = [with_overrides(r, args.set) for r in load_config(PACKAGED_CONFIG_DIR).alerts.rules]
    if args.rules:
        rules = [r for r in rules if r.id in args.rules.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        folder = args.keep or Path(tmp)
        warehouse, events, start, end = build(folder, args.days, args.scale)
        built = time.perf_counter() - started
        judged_from = start + dt.timedelta(days=args.warmup)
        if args.keep:
            results = cached_backtest(args.keep, warehouse, rules, judged_from, end, args.workers)
        else:
            results = backtest_rules(warehouse, rules, judged_from, end, workers=args.workers)
        replayed = time.perf_counter() - started - built
    frames = [r.episodes.assign(rule_id=r.rule.id) for r in results if not r.episodes.empty]
    episodes = pd.concat(frames, ignore_index=True)
    episodes["fired_on"] = pd.to_datetime(episodes["fired_on"]).dt.date
    episodes["event"] = [belongs(e, events) for e in episodes.to_dict("records")]
    print(f"demo {start}..{end} (scale {args.scale}), judged from {judged_from}: "
          f"built in {built:.0f}s, replayed in {replayed:.0f}s")  # fmt: skip
    print("\nrule                        episodes  of an event")
    for result in results:
        mine = episodes[episodes["rule_id"] == result.rule.id]
        print(f"{result.rule.id:27s} {len(mine):8d}  {mine['event'].notna().sum():11d}")
    share = episodes["event"].notna().mean() if len(episodes) else float("nan")
    print(f"\nepisodes {len(episodes)}, of an injected event {share:.2f} (goal >= {GOAL_SHARE})")
    print("\nevent                 start       first alert on its own series  delay")
    for event in events:
        own = episodes[episodes["unique_id"].isin(event.series)]
        if args.explain:
            print(own[["rule_id", "fired_on", "resolved_on", "significance"]].to_string())
        first_day = dt.date.fromisoformat(event.start)
        hits = own[(own["fired_on"] >= first_day)]["fired_on"]
        first = hits.min() if len(hits) else None
        delay = (first - first_day).days if first else None
        print(f"{event.kind:21s} {event.start}  {str(first):29s}  {delay}")
    if args.explain:
        print("\nepisodes of no event")
        for e in episodes[episodes["event"].isna()].to_dict("records"):
            print(f"  {e['rule_id']:27s} {e['unique_id']:55s} {e['fired_on']} sig "
                  f"{e['significance']}")  # fmt: skip


if __name__ == "__main__":
    main()

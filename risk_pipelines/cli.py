"""The ``risk-pipelines`` command line. Each command prints what it did and exits non-zero
with a one-line reason on bad input."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from risk_pipelines.settings import load_settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="risk-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write synthetic landing files and ground truth")
    demo.add_argument("--start", type=_date, required=True)
    demo.add_argument("--end", type=_date, required=True)
    demo.add_argument("--out", type=Path, help="landing folder (default: RISK_LANDING_DIR)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--scale", type=float, default=1.0, help="1.0 is about 3,000 decisions a day")
    demo.add_argument("--format", choices=["csv", "parquet"], default="csv")

    run = sub.add_parser("run", help="materialise a partition range headlessly, then alert")
    run.add_argument("--start", type=_date, required=True)
    run.add_argument("--end", type=_date, required=True)
    run.add_argument("--no-alerts", action="store_true", help="skip alert evaluation")

    seed = sub.add_parser("seed-demo", help="demo data + run, only if the warehouse is empty")
    seed.add_argument("--days", type=int, default=730)
    seed.add_argument(
        "--scale",
        type=float,
        default=0.5,
        help="0.5 is about 1,700 decisions a day: two years seed in minutes",
    )

    sub.add_parser(
        "select-models",
        help="run the weekly forecast model selection now (backtests, choice, calibration)",
    )

    alerts = sub.add_parser("alerts", help="alert state")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = alerts_sub.add_parser("list", help="list alerts")
    listing.add_argument("--state", choices=["pending", "firing", "resolved"])
    listing.add_argument("--limit", type=int, default=50)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo-data":
            return _demo_data(args)
        if args.command == "run":
            return _run(args.start, args.end, alerts=not args.no_alerts)
        if args.command == "seed-demo":
            return _seed_demo(args.days, args.scale)
        if args.command == "select-models":
            return _select_models()
        if args.command == "alerts":
            return _alerts_list(args.state, args.limit)
    except (ValueError, OSError) as exc:  # LandingError, RuleError and bad input are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _demo_data(args) -> int:
    from risk_pipelines.sources.demo import DemoSpec, generate_demo_data

    settings = load_settings()
    out = args.out or settings.landing_dir
    started = time.perf_counter()
    spec = DemoSpec(
        args.start,
        args.end,
        seed=args.seed,
        scale=args.scale,
        file_format=args.format,
        platform=settings.platform,
    )
    summary = generate_demo_data(spec, out)
    print(
        f"wrote {summary.days} day(s) of demo data to {out} in "
        f"{time.perf_counter() - started:.1f}s: {summary.decisions:,} decisions, "
        f"{summary.incidents:,} incidents, {summary.files:,} files"
    )
    for event in summary.events:
        print(
            f"  ground truth: {event.kind} {event.policy_category}/{event.region} "
            f"{event.start}..{event.end}"
        )
    print(f"  ground truth file: {Path(out) / 'ground_truth.json'}")
    return 0


def _run(start: dt.date, end: dt.date, *, alerts: bool) -> int:
    from risk_pipelines.alerting.rules import load_rules
    from risk_pipelines.alerting.service import evaluate_pending_days
    from risk_pipelines.warehouse.store import Warehouse, redact_url

    settings = load_settings()
    print(
        f"materialising {start}..{end} into {redact_url(settings.warehouse_url)} "
        f"from {settings.landing_dir}",
        flush=True,
    )
    from risk_pipelines.runs import materialise_range

    started = time.perf_counter()
    result = materialise_range(start, end)
    elapsed = time.perf_counter() - started
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(
            f"error: run {result.run_id} failed in {failed or 'a blocked check'}; "
            f"see the run log in the Dagster UI",
            file=sys.stderr,
        )
        return 1
    warehouse = Warehouse(settings.warehouse_url)
    print(
        f"run {result.run_id} succeeded in {elapsed:.1f}s for {(end - start).days + 1} partition(s)"
    )
    for table in ("moderation_decisions", "incidents", "daily_metrics", "risk_indicators"):
        frame = warehouse.read_sql(
            f"SELECT COUNT(*) AS n FROM {table} WHERE ds BETWEEN :a AND :b",
            {"a": start, "b": end},
        )
        print(f"  {table:22s} {int(frame['n'].iloc[0]):>12,} rows")
    series = warehouse.read_sql(
        "SELECT COUNT(DISTINCT unique_id) AS n FROM metric_forecasts WHERE as_of = :d", {"d": end}
    )
    print(f"  {'series forecast':22s} {int(series['n'].iloc[0]):>12,} (as of {end})")
    if alerts:
        rules = load_rules(settings.config_dir / "alert_rules.yaml")
        report = evaluate_pending_days(warehouse, rules)
        print(f"  alerts: {report.summary()}")
        _print_alerts(warehouse, "firing", 20)
    return 0


def _select_models() -> int:
    from risk_pipelines.forecast_stages import latest_selection
    from risk_pipelines.runs import materialise_selection
    from risk_pipelines.warehouse.store import Warehouse

    print("selecting a forecast model per series (backtests of every candidate)", flush=True)
    started = time.perf_counter()
    result = materialise_selection()
    if not result.success:
        print(f"error: selection run {result.run_id} failed; see its log", file=sys.stderr)
        return 1
    chosen = latest_selection(Warehouse(load_settings().warehouse_url))
    counts = ", ".join(f"{m} {n}" for m, n in chosen["model"].value_counts().items())
    print(
        f"run {result.run_id} selected models for {len(chosen)} series in "
        f"{time.perf_counter() - started:.1f}s: {counts}"
    )
    return 0


def _seed_demo(days: int, scale: float) -> int:
    """For `make run`: generate demo data and materialise it, unless the warehouse has data."""
    from risk_pipelines.warehouse.store import Warehouse

    settings = load_settings()
    if not Warehouse(settings.warehouse_url).is_empty():
        print("warehouse already holds data: not seeding (delete data/ to start over)")
        return 0
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = end - dt.timedelta(days=days - 1)
    if not (settings.landing_dir / "moderation_decisions").exists():
        args = argparse.Namespace(
            start=start, end=end, out=settings.landing_dir, seed=7, scale=scale, format="csv"
        )
        _demo_data(args)
    status = _run(start, end, alerts=True)
    # The next daily run then forecasts with the selected models and calibrated bands.
    return status or _select_models()


def _print_alerts(warehouse, state: str | None, limit: int) -> None:
    from risk_pipelines.warehouse.alerts import list_alerts

    frame = list_alerts(warehouse, state).head(limit)
    if frame.empty:
        print(f"  no {state} alerts" if state else "  no alerts")
        return
    for row in frame.itertuples():
        print(
            f"  #{row.alert_id} [{row.state}] {row.severity:8s} {row.rule_id}: {row.message}"
            f" (since {row.first_breach_ds:%Y-%m-%d})"
        )


def _alerts_list(state: str | None, limit: int) -> int:
    from risk_pipelines.warehouse.store import Warehouse

    settings = load_settings()
    _print_alerts(Warehouse(settings.warehouse_url), state, limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())

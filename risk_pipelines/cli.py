"""The ``risk-pipelines`` command line. Each command prints what it did and exits non-zero
with a one-line reason on bad input."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from risk_pipelines.cli_alerts import (
    ALERT_COMMANDS,
    add_alert_commands,
    print_alerts,
    run_alert_command,
)
from risk_pipelines.cli_console import add_console_commands, run_console_command
from risk_pipelines.cli_dsa import add_dsa_commands, run_dsa_command
from risk_pipelines.config import load_settings
from risk_pipelines.run_output import RunOutput


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="risk-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    runs = argparse.ArgumentParser(add_help=False)  # the options of every command that runs a job
    runs.add_argument(
        "--verbose",
        action="store_true",
        help="print Dagster's whole event log here too (it always goes to a file)",
    )

    demo = sub.add_parser("demo-data", help="write synthetic landing files and ground truth")
    demo.add_argument("--start", type=_date, required=True)
    demo.add_argument("--end", type=_date, required=True)
    demo.add_argument("--out", type=Path, help="landing folder (default: RISK_LANDING_DIR)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--scale", type=float, default=1.0, help="1.0 is about 3,000 decisions a day")
    demo.add_argument("--format", choices=["csv", "parquet"], default="csv")

    run = sub.add_parser(
        "run", parents=[runs], help="materialise a partition range headlessly, then alert"
    )
    run.add_argument("--start", type=_date, required=True)
    run.add_argument("--end", type=_date, required=True)
    run.add_argument("--no-alerts", action="store_true", help="skip alert evaluation")

    seed = sub.add_parser(
        "seed-demo", parents=[runs], help="demo data + run, only if the warehouse is empty"
    )
    seed.add_argument("--days", type=int, default=730)
    seed.add_argument(
        "--scale",
        type=float,
        default=0.5,
        help="0.5 is about 1,700 decisions a day: two years seed in minutes",
    )

    sub.add_parser(
        "select-models",
        parents=[runs],
        help="run the weekly forecast model selection now (backtests, choice, calibration)",
    )
    sub.add_parser("data-dictionary", help="print the analyst views' data dictionary (Markdown)")
    brief = sub.add_parser(
        "brief", parents=[runs], help="write the daily risk brief (HTML and PNG) of a day"
    )
    brief.add_argument("--day", type=_date, help="default: the newest day with indicators")

    add_alert_commands(sub, _date)
    add_dsa_commands(sub, _date, runs)
    add_console_commands(sub)

    rules = sub.add_parser("rules", help="alert rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    backtest = rules_sub.add_parser(
        "backtest", help="replay a rule over history with walk-forward forecasts"
    )
    backtest.add_argument("rule_id")
    backtest.add_argument("--start", type=_date, required=True)
    backtest.add_argument("--end", type=_date, required=True)
    backtest.add_argument("--cadence", type=int, default=7, help="days between model refits")
    backtest.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo-data":
            return _demo_data(args)
        if args.command == "run":
            return _run(args.start, args.end, run_output(args), alerts=not args.no_alerts)
        if args.command == "seed-demo":
            return _seed_demo(args.days, args.scale, run_output(args))
        if args.command == "select-models":
            return _select_models(run_output(args))
        if args.command == "brief":
            return _brief(args.day, run_output(args))
        if args.command == "data-dictionary":
            from risk_pipelines.warehouse.views import render_data_dictionary

            print(render_data_dictionary(), end="")
            return 0
        if args.command in ALERT_COMMANDS:
            return run_alert_command(args)
        if args.command == "rules":
            return _rules_backtest(args)
        if args.command == "dsa":
            return run_dsa_command(args)
        if args.command == "console":
            return run_console_command(args)
    except (ValueError, OSError) as exc:  # LandingError, RuleError and bad input are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _rules_backtest(args) -> int:
    from risk_pipelines.alerting.evaluation.backtest import backtest_rule, record_backtest
    from risk_pipelines.config import load_alert_config
    from risk_pipelines.forecasting.parallel import default_workers
    from risk_pipelines.warehouse.store import Warehouse

    settings = load_settings()
    rules = {r.id: r for r in load_alert_config(settings.config_dir).rules}
    if args.rule_id not in rules:
        raise ValueError(f"no rule {args.rule_id!r}; rules: {', '.join(sorted(rules))}")
    workers = args.workers or default_workers()
    print(
        f"rule {args.rule_id}: replaying walk-forward forecasts over {args.start}..{args.end} "
        f"(refit every {args.cadence} days, {workers} worker(s))",
        flush=True,
    )
    started = time.perf_counter()
    warehouse = Warehouse(settings.warehouse_url)
    result = backtest_rule(
        warehouse,
        rules[args.rule_id],
        args.start,
        args.end,
        cadence_days=args.cadence,
        workers=workers,
    )
    print(
        f"rule {args.rule_id} over {args.start}..{args.end} ({result.days} days, "
        f"{result.series} series, models refit every {args.cadence} days) "
        f"in {time.perf_counter() - started:.1f}s"
    )
    episodes = result.episodes
    print(f"  would have fired {len(episodes)} alert(s)")
    for row in episodes.to_dict("records"):
        resolved = row["resolved_on"] or "still firing"
        label = f"  [{row['label']}]" if row["label"] else ""
        print(f"    fired {row['fired_on']}  resolved {resolved}  {row['unique_id']}{label}")
    weekly = result.alerts_per_week()
    if len(weekly):
        print(
            f"  alerts per week: mean {weekly.mean():.2f}, max {int(weekly.max())}, "
            f"{int((weekly > 0).sum())} of {len(weekly)} weeks with any"
        )
    record_backtest(warehouse, result, args.cadence, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    precision = result.precision()
    labelled = int(episodes["label"].notna().sum())
    print(
        f"  precision against labels: {precision:.0%} of {labelled} labelled"
        if precision is not None
        else "  precision against labels: no labelled live alert matches these episodes"
    )
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


def run_output(args: argparse.Namespace) -> RunOutput:
    from risk_pipelines.runs import run_log_dir

    return RunOutput(run_log_dir(), verbose=getattr(args, "verbose", False))


def _run(start: dt.date, end: dt.date, output: RunOutput, *, alerts: bool) -> int:
    from risk_pipelines.config import load_alert_config
    from risk_pipelines.stages.alerts import evaluate_with_config
    from risk_pipelines.stages.verdicts import blocked_lines
    from risk_pipelines.warehouse.store import Warehouse, redact_url

    settings = load_settings()
    print(
        f"materialising {start}..{end} into {redact_url(settings.warehouse_url)} "
        f"from {settings.landing_dir}",
        flush=True,
    )
    from risk_pipelines.runs import materialise_range

    started = time.perf_counter()
    result = materialise_range(start, end, output=output)
    elapsed = time.perf_counter() - started
    warehouse = Warehouse(settings.warehouse_url)
    blocked = blocked_lines(warehouse, result.run_id)
    print(f"  event log: {output.log_path(result.run_id)}")
    if not result.success:
        # The reason goes last, where a person reads first: blocked days, then failed steps.
        print(f"error: run {result.run_id} failed after {elapsed:.1f}s", file=sys.stderr)
        for line in [*blocked, *_step_failures(result)]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(
        f"run {result.run_id} succeeded in {elapsed:.1f}s for {(end - start).days + 1} partition(s)"
        + (f"; {len(blocked)} day(s) blocked, missing downstream (listed below)" if blocked else "")
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
    status = 0
    if alerts:
        report = evaluate_with_config(warehouse, load_alert_config(settings.config_dir))
        print(f"  alerts: {report.summary()}")
        print_alerts(warehouse, "firing", 20)
        status = _brief(end, output)
    for line in blocked:  # last: what a person must act on
        print(f"  {line}")
    return status


def _step_failures(result) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            message = (error.message if error else event.message or "").strip().splitlines()
            lines.append(f"step {event.step_key} failed: {message[0] if message else 'no message'}")
    return lines


def _brief(day: dt.date | None, output: RunOutput) -> int:
    from risk_pipelines.reporting.brief import latest_indicator_day
    from risk_pipelines.runs import materialise_brief
    from risk_pipelines.warehouse.store import Warehouse

    settings = load_settings()
    day = day or latest_indicator_day(Warehouse(settings.warehouse_url))
    if day is None:
        raise ValueError("no risk indicators yet: run the pipeline first")
    result = materialise_brief(day, output=output)
    if not result.success:
        print(f"error: brief run {result.run_id} failed", file=sys.stderr)
        for line in [f"event log: {output.log_path(result.run_id)}", *_step_failures(result)]:
            print(f"  {line}", file=sys.stderr)
        return 1
    metadata = result.asset_materializations_for_node("risk_brief")[0].metadata
    print(f"  daily risk brief {day}: {metadata['headline'].value}")
    print(f"    {metadata['html'].value}")
    print(f"    {metadata['png'].value if 'png' in metadata else metadata['png_rendering'].value}")
    return 0


def _select_models(output: RunOutput) -> int:
    from risk_pipelines.runs import materialise_selection
    from risk_pipelines.stages.forecasts import latest_selection
    from risk_pipelines.warehouse.store import Warehouse

    print("selecting a forecast model per series (backtests of every candidate)", flush=True)
    started = time.perf_counter()
    result = materialise_selection(output=output)
    if not result.success:
        print(f"error: selection run {result.run_id} failed", file=sys.stderr)
        for line in [f"event log: {output.log_path(result.run_id)}", *_step_failures(result)]:
            print(f"  {line}", file=sys.stderr)
        return 1
    chosen = latest_selection(Warehouse(load_settings().warehouse_url))
    counts = ", ".join(f"{m} {n}" for m, n in chosen["model"].value_counts().items())
    print(
        f"run {result.run_id} selected models for {len(chosen)} series in "
        f"{time.perf_counter() - started:.1f}s: {counts}"
    )
    return 0


def _demo_console_user(settings) -> None:
    """make run's console needs someone to sign in: a local demo gets an analyst, ``demo``,
    with a generated password kept (0600) beside the data. Never in prod."""
    import secrets

    from risk_pipelines.config import load_console_settings
    from risk_pipelines.console.auth import add_user

    console = load_console_settings()
    login = settings.data_dir / "console_demo_login.txt"
    if settings.env == "prod" or console.auth != "password" or console.users_file.exists():
        if login.exists():
            print(f"  risk console: {console.url} (sign in as in {login})")
        return
    password = secrets.token_urlsafe(12)
    add_user(console.users_file, "demo", "analyst", password)
    login.write_text(f"name: demo\npassword: {password}\n", encoding="utf-8")
    login.chmod(0o600)
    print(f"  risk console: {console.url}, sign in as demo / {password} (kept in {login})")


def _seed_demo(days: int, scale: float, output: RunOutput) -> int:
    """For `make run`: generate demo data and materialise it, unless the warehouse has data."""
    from risk_pipelines.runs import ensure_dagster_home
    from risk_pipelines.warehouse.store import Warehouse

    settings = load_settings()
    if settings.dagster_home is not None:  # make run's dg dev reads it next, seeded or not
        ensure_dagster_home(settings.dagster_home)
    _demo_console_user(settings)
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
    status = _run(start, end, output, alerts=True)
    if status == 0:
        # Minutes of backtests: they run after the UI is up, as a run it shows.
        print("  the first model selection starts in the UI (first_model_selection_sensor)")
    return status


if __name__ == "__main__":
    sys.exit(main())

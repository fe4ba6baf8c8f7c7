"""``risk-pipelines dsa ingest``: the DSA Transparency Database dumps of a day or a range,
headlessly, as the sensor would ingest them, with what each day came to."""

from __future__ import annotations

import datetime as dt
import sys
import time


def add_dsa_commands(sub, date_type, run_options) -> None:
    dsa = sub.add_parser("dsa", help="the EU DSA Transparency Database source")
    dsa_sub = dsa.add_subparsers(dest="dsa_command", required=True)
    ingest = dsa_sub.add_parser(
        "ingest",
        parents=[run_options],
        help="ingest the dumps of a day (--day) or a range (--start, --end)",
    )
    ingest.add_argument("--day", type=date_type, help="one day")
    ingest.add_argument("--start", type=date_type, help="first day of a range")
    ingest.add_argument("--end", type=date_type, help="last day of a range")


def run_dsa_command(args) -> int:
    start, end = _days(args)
    from risk_pipelines.config import load_settings
    from risk_pipelines.run_output import RunOutput
    from risk_pipelines.runs import materialise_dsa, run_log_dir

    settings = load_settings()
    print(f"ingesting DSA dumps {start}..{end} from {settings.landing_dir / 'dsa'}", flush=True)
    started = time.perf_counter()
    output = RunOutput(run_log_dir(), verbose=args.verbose)
    result = materialise_dsa(start, end, output=output)
    elapsed = time.perf_counter() - started
    print(f"  event log: {output.log_path(result.run_id)}")
    materialised = result.asset_materializations_for_node("dsa_statements")
    metadata = materialised[0].metadata if materialised else {}
    failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
    if metadata:
        print(
            f"run {result.run_id} in {elapsed:.1f}s: {metadata['status'].value}; "
            f"{metadata['statements'].value:,} statements of {metadata['rows_read'].value:,} "
            f"rows read ({metadata['duplicates_dropped'].value:,} duplicates, "
            f"{metadata['rows_rejected'].value:,} rejected), "
            f"{metadata['series_written'].value:,} series rows written"
        )
    if not result.success:
        print(f"error: run {result.run_id} failed after {elapsed:.1f}s", file=sys.stderr)
    for check in failed_checks:  # last: what a person must act on
        blocked = check.metadata.get("blocked_days")
        for day, reason in sorted((blocked.value if blocked else {}).items()):
            print(f"  blocked {day}: {reason}", file=sys.stderr)
    return 1 if failed_checks or not result.success else 0


def _days(args) -> tuple[dt.date, dt.date]:
    if args.day and (args.start or args.end):
        raise ValueError("give --day, or --start and --end, not both")
    if args.day:
        return args.day, args.day
    if not (args.start and args.end):
        raise ValueError("give --day D, or --start D1 --end D2")
    return args.start, args.end

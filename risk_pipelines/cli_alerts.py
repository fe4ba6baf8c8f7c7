"""The alert commands of ``risk-pipelines``: alerts, incidents and silences. Each prints what
it did; bad input raises ValueError, which the main command line turns into one line."""

from __future__ import annotations

import argparse
import datetime as dt

from risk_pipelines.config import load_settings

ALERT_COMMANDS = ("alerts", "incidents", "silences")
LABEL_CHOICES = ["confirmed", "false_alarm", "expected", "new_trend"]


def add_alert_commands(sub, date_type) -> None:
    """The alerts, incidents and silences sub-commands on the main parser's ``sub``."""
    alerts = sub.add_parser("alerts", help="alert state")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    listing = alerts_sub.add_parser("list", help="list incidents and their alerts")
    listing.add_argument("--state", choices=["pending", "firing", "resolved"])
    listing.add_argument("--limit", type=int, default=50)
    ack = alerts_sub.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("alert_id", type=int)
    ack.add_argument("--by", required=True, help="who acknowledges")
    label = alerts_sub.add_parser("label", help="give an alert feedback")
    label.add_argument("alert_id", type=int)
    label.add_argument("label", choices=LABEL_CHOICES)
    label.add_argument("--by", required=True)
    alerts_sub.add_parser("precision", help="per-rule precision from the labels")

    incidents = sub.add_parser("incidents", help="related alerts grouped under one cause")
    incidents_sub = incidents.add_subparsers(dest="incidents_command", required=True)
    incidents_list = incidents_sub.add_parser("list", help="incidents, most significant first")
    incidents_list.add_argument("--state", choices=["open", "resolved"])
    incidents_list.add_argument("--limit", type=int, default=30)
    incident_ack = incidents_sub.add_parser("ack", help="acknowledge every alert of an incident")
    incident_ack.add_argument("incident_id", type=int)
    incident_ack.add_argument("--by", required=True)
    incident_label = incidents_sub.add_parser("label", help="label every alert of an incident")
    incident_label.add_argument("incident_id", type=int)
    incident_label.add_argument("label", choices=LABEL_CHOICES)
    incident_label.add_argument("--by", required=True)

    silences = sub.add_parser("silences", help="mute matching alerts' notifications for a while")
    silences_sub = silences.add_subparsers(dest="silences_command", required=True)
    add = silences_sub.add_parser("add", help="add a silence (at most 30 days)")
    add.add_argument("--match", action="append", default=[], metavar="KEY=VALUE",
                     help="rule_id or a series dimension; repeat to narrow")  # fmt: skip
    add.add_argument("--hours", type=float, help="how long (or --until)")
    add.add_argument("--until", type=dt.datetime.fromisoformat, help="UTC, e.g. 2026-12-01T08:00")
    add.add_argument("--author", required=True)
    add.add_argument("--comment", required=True, help="why: shown with every held-back alert")
    silences_list = silences_sub.add_parser("list", help="active silences (--all: every one)")
    silences_list.add_argument("--all", action="store_true")
    expire = silences_sub.add_parser("expire", help="end a silence now")
    expire.add_argument("silence_id", type=int)
    expire.add_argument("--by", required=True)


def run_alert_command(args: argparse.Namespace) -> int:
    if args.command == "alerts":
        return _alerts(args)
    if args.command == "incidents":
        return _incidents(args)
    return _silences(args)


def print_alerts(warehouse, state: str | None, limit: int) -> None:
    """Alerts grouped by incident: each incident of two or more alerts as its headline with its
    alerts indented under it, then the alerts that stand alone."""
    from risk_pipelines.warehouse.alerts import list_alerts
    from risk_pipelines.warehouse.incidents import list_incidents

    frame = list_alerts(warehouse, state).head(limit)
    if frame.empty:
        print(f"  no {state} alerts" if state else "  no alerts")
        return
    incidents = list_incidents(warehouse).set_index("incident_id")
    sizes = frame["incident_id"].value_counts()
    grouped = [i for i in incidents.index if sizes.get(i, 0) > 1]
    for incident_id in grouped:
        incident = incidents.loc[incident_id]
        print(f"  incident #{incident_id} [{incident['state']}] {_sig(incident['significance'])}"
              f"{incident['headline']}")  # fmt: skip
        for row in frame[frame["incident_id"] == incident_id].itertuples():
            print("    " + _alert_line(row))
    for row in frame[~frame["incident_id"].isin(grouped)].itertuples():
        print("  " + _alert_line(row))


def _alert_line(row) -> str:
    return (
        f"#{row.alert_id} [{row.state}] {row.severity:8s} {_sig(row.significance)}{row.rule_id}: "
        f"{row.message} (since {row.first_breach_ds:%Y-%m-%d})"
    )


def _sig(value) -> str:
    return f"sig {value:5.1f} " if value is not None and value == value else ""


def _alerts(args) -> int:
    from risk_pipelines.warehouse import alerts as store
    from risk_pipelines.warehouse.store import Warehouse

    warehouse = Warehouse(load_settings().warehouse_url)
    now = utc_now()
    if args.alerts_command == "list":
        print_alerts(warehouse, args.state, args.limit)
    elif args.alerts_command == "ack":
        store.acknowledge(warehouse, args.alert_id, args.by, now)
        print(f"alert #{args.alert_id} acknowledged by {args.by}")
    elif args.alerts_command == "label":
        store.label_alert(warehouse, args.alert_id, args.label, args.by, now)
        print(f"alert #{args.alert_id} labelled {args.label} by {args.by}")
    else:
        table = store.precision_by_rule(warehouse)
        print(table.to_string(index=False) if not table.empty else "no fired alerts yet")
    return 0


def _incidents(args) -> int:
    from risk_pipelines.warehouse import incidents as store
    from risk_pipelines.warehouse.store import Warehouse

    warehouse = Warehouse(load_settings().warehouse_url)
    now = utc_now()
    if args.incidents_command == "list":
        frame = store.list_incidents(warehouse, args.state).head(args.limit)
        for row in frame.itertuples():
            print(
                f"  #{row.incident_id} [{row.state}] {_sig(row.significance)}"
                f"{row.alert_count} alert(s) since {row.opened_ds:%Y-%m-%d}: {row.headline}"
            )
        if frame.empty:
            print("  no incidents")
    elif args.incidents_command == "ack":
        count = store.acknowledge_incident(warehouse, args.incident_id, args.by, now)
        print(f"incident #{args.incident_id}: {count} alert(s) acknowledged by {args.by}")
    else:
        count = store.label_incident(warehouse, args.incident_id, args.label, args.by, now)
        print(f"incident #{args.incident_id}: {count} alert(s) labelled {args.label} by {args.by}")
    return 0


def _silences(args) -> int:
    from risk_pipelines.alerting import repository
    from risk_pipelines.alerting.notification.silences import (
        SilenceError,
        new_silence,
        parse_matchers,
    )
    from risk_pipelines.warehouse import alerts as store
    from risk_pipelines.warehouse.store import Warehouse

    warehouse = Warehouse(load_settings().warehouse_url)
    now = utc_now()
    if args.silences_command == "add":
        if (args.hours is None) == (args.until is None):
            raise SilenceError("give exactly one of --hours or --until")
        until = args.until or now + dt.timedelta(hours=args.hours)
        silence = new_silence(parse_matchers(args.match), args.author, args.comment, now, until)
        silence_id = repository.add_silence(warehouse, silence)
        print(f"silence #{silence_id} until {until:%Y-%m-%d %H:%M} UTC: {silence.describe()}")
    elif args.silences_command == "list":
        with warehouse.engine.connect() as conn:
            found = repository.load_silences(conn, now, active_only=not args.all)
        for silence in found:
            state = "active" if silence.active(now) else "ended"
            print(f"  [{state}] until {silence.expires_at:%Y-%m-%d %H:%M} {silence.describe()}")
        if not found:
            print("  no active silences" if not args.all else "  no silences")
    else:
        store.expire_silence(warehouse, args.silence_id, args.by, now)
        print(f"silence #{args.silence_id} ended by {args.by}")
    return 0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)

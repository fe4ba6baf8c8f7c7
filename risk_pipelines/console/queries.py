"""What the console's pages read: the alert list with its filters and counts, one alert with
everything that explains it, per-rule figures, and the brief archive. Reads only; every write
goes through the same core functions as the command line (warehouse.alerts, alerting)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import yaml

from risk_pipelines.domain.series import split_series_id
from risk_pipelines.warehouse.schema import (
    alert_incidents,
    alert_notifications,
    alert_silences,
    alerts,
    investigations,
    rule_backtests,
)
from risk_pipelines.warehouse.store import Warehouse

FILTERS = ("state", "severity", "policy_category", "platform", "region", "rule_id")
PAGE_SIZE = 100
BRIEF_NAME = re.compile(r"^risk-brief-\d{4}-\d{2}-\d{2}\.html$")


@dataclass
class AlertList:
    rows: list[dict]
    total: int  # matching the filters, over every page
    counts: dict[str, int]  # per state, over the filters but the state
    choices: dict[str, list[str]]  # each filter's values, for its menu
    page: int
    pages: int


@dataclass
class AlertPage:
    alert: dict
    dims: dict[str, str]
    contributors: list[dict] = field(default_factory=list)
    related: list[dict] = field(default_factory=list)
    incident: dict | None = None
    notifications: list[dict] = field(default_factory=list)
    silences: list[dict] = field(default_factory=list)
    rule_yaml: str = ""


def alert_list(warehouse: Warehouse, filters: dict[str, str], page: int = 1) -> AlertList:
    frame = _alerts_frame(warehouse)
    choices = {key: sorted(v for v in frame[key].dropna().unique() if v) for key in FILTERS}
    chosen = {k: v for k, v in filters.items() if k in FILTERS and v}
    others = _filtered(frame, {k: v for k, v in chosen.items() if k != "state"})
    counts = others["state"].value_counts().to_dict()
    matching = _filtered(others, {"state": chosen["state"]} if "state" in chosen else {})
    matching = matching.sort_values(
        ["significance", "alert_id"], ascending=[False, False], na_position="last"
    )
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = matching.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return AlertList(
        rows=shown.to_dict("records"), total=len(matching),
        counts={state: int(counts.get(state, 0)) for state in ("pending", "firing", "resolved")},
        choices=choices, page=page, pages=pages,
    )  # fmt: skip


def _alerts_frame(warehouse: Warehouse) -> pd.DataFrame:
    a = alerts.c
    frame = warehouse.read_query(
        sa.select(
            a.alert_id, a.rule_id, a.unique_id, a.state, a.severity, a.metric, a.policy_category,
            a.region, a.first_breach_ds, a.last_evaluated_ds, a.significance, a.label, a.ack_by,
            a.incident_id, a.message,
        )
    )  # fmt: skip
    # The platform is the series key's second part (metric|platform|category|region|surface).
    frame["platform"] = frame["unique_id"].str.split("|").str[1]
    frame["first_breach_ds"] = pd.to_datetime(frame["first_breach_ds"]).dt.date
    return frame


def _filtered(frame: pd.DataFrame, chosen: dict[str, str]) -> pd.DataFrame:
    for key, value in chosen.items():
        frame = frame[frame[key] == value]
    return frame


def alert_page(warehouse: Warehouse, alert_id: int, rules_file: Path) -> AlertPage | None:
    with warehouse.engine.connect() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.alert_id == alert_id)).mappings()
        alert = next(iter(row), None)
        if alert is None:
            return None
        alert = dict(alert)
        notifications = _rows(
            conn,
            sa.select(alert_notifications)
            .where(alert_notifications.c.alert_id == alert_id)
            .order_by(alert_notifications.c.notification_id),
        )
        related, incident = [], None
        if alert["incident_id"] is not None:
            members = sa.select(alerts).where(
                alerts.c.incident_id == alert["incident_id"], alerts.c.alert_id != alert_id
            )
            related = _rows(conn, members.order_by(alerts.c.alert_id))
            found = _rows(
                conn,
                sa.select(alert_incidents).where(
                    alert_incidents.c.incident_id == alert["incident_id"]
                ),
            )
            incident = found[0] if found else None
        silences = _rows(conn, sa.select(alert_silences).order_by(alert_silences.c.silence_id))
    dims = split_series_id(alert["unique_id"])
    covering = [s for s in silences if _covers(s, alert["rule_id"], dims)]
    return AlertPage(
        alert=alert, dims=dims, contributors=_json_list(alert.get("contributors")),
        related=related, incident=incident, notifications=notifications, silences=covering,
        rule_yaml=rule_as_written(rules_file, alert["rule_id"]),
    )  # fmt: skip


def _rows(conn, query) -> list[dict]:
    return [dict(r) for r in conn.execute(query).mappings()]


def _covers(silence: dict, rule_id: str, dims: dict[str, str]) -> bool:
    matcher = json.loads(silence["matcher"])
    return all({"rule_id": rule_id, **dims}.get(k) == v for k, v in matcher.items())


def _json_list(text: str | None) -> list[dict]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return value if isinstance(value, list) else [value]


def series_chart(warehouse: Warehouse, alert: dict) -> str | None:
    """The brief's chart of an alert's series up to its last evaluated day, base64 PNG."""
    from risk_pipelines.reporting.brief import series_chart_png

    png = series_chart_png(warehouse, alert["unique_id"], alert["last_evaluated_ds"])
    return base64.b64encode(png).decode() if png else None


def rule_as_written(rules_file: Path, rule_id: str) -> str:
    """The rule's entry in alert_rules.yaml, as its author wrote it (not as parsed)."""
    try:
        rules = (yaml.safe_load(rules_file.read_text(encoding="utf-8")) or {}).get("rules", [])
    except (OSError, yaml.YAMLError):
        return ""
    entry = next((r for r in rules if isinstance(r, dict) and r.get("id") == rule_id), None)
    return yaml.safe_dump(entry, sort_keys=False, allow_unicode=True) if entry else ""


def alerts_per_week(warehouse: Warehouse, weeks: int = 12) -> pd.DataFrame:
    """Per rule, alerts fired in each of the last ``weeks`` weeks (columns: week starts)."""
    frame = warehouse.read_query(
        sa.select(alerts.c.rule_id, alerts.c.fired_at).where(alerts.c.fired_at.is_not(None))
    )
    if frame.empty:
        return pd.DataFrame()
    week = pd.to_datetime(frame["fired_at"]).dt.to_period("W-SUN").dt.start_time.dt.date
    table = pd.crosstab(frame["rule_id"], week)
    return table[sorted(table.columns)[-weeks:]]


def latest_backtests(warehouse: Warehouse) -> dict[str, dict]:
    """Each rule's newest ``rules backtest``."""
    t = rule_backtests
    with warehouse.engine.connect() as conn:
        rows = _rows(conn, sa.select(t).order_by(t.c.ran_at, t.c.backtest_id))
    return {row["rule_id"]: row for row in rows}  # the newest last, so it wins


def briefs(folder: Path) -> list[dict]:
    found = sorted(
        (p for p in folder.glob("risk-brief-*.html") if BRIEF_NAME.match(p.name)), reverse=True
    )
    return [
        {"name": p.name, "day": p.name[len("risk-brief-") : -len(".html")],
         "written": dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)}
        for p in found
    ]  # fmt: skip


def brief_path(folder: Path, name: str) -> Path | None:
    """Only a brief's own file name resolves: nothing else in (or outside) the folder."""
    path = folder / name
    return path if BRIEF_NAME.match(name) and path.is_file() else None


def incident_list(warehouse: Warehouse, state: str = "") -> list[dict]:
    """Incidents, most significant first, with their investigation's status and owner."""
    i, inv = alert_incidents, investigations
    query = (
        sa.select(i, inv.c.status.label("investigation"), inv.c.owner)
        .select_from(i.outerjoin(inv, inv.c.incident_id == i.c.incident_id))
        .order_by(i.c.significance.desc().nulls_last(), i.c.incident_id.desc())
    )
    if state:
        query = query.where(i.c.state == state)
    with warehouse.engine.connect() as conn:
        return _rows(conn, query)


def incident_with_alerts(warehouse: Warehouse, incident_id: int) -> tuple[dict, list[dict]] | None:
    with warehouse.engine.connect() as conn:
        found = _rows(
            conn, sa.select(alert_incidents).where(alert_incidents.c.incident_id == incident_id)
        )
        if not found:
            return None
        members = _rows(
            conn,
            sa.select(alerts)
            .where(alerts.c.incident_id == incident_id)
            .order_by(alerts.c.significance.desc().nulls_last(), alerts.c.alert_id),
        )
    return found[0], members

"""Evaluate the alert rules for every day not yet evaluated, in order, and deliver changes.

The days already evaluated are recorded in the warehouse (``alert_evaluations``), so the
sensor and the command line can both call this and no day is evaluated twice. Evaluating a day
is one transaction: alert states and the evaluation record change together.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting.channels import Channel, Notification, default_channels
from risk_pipelines.alerting.evaluate import evaluate_rule
from risk_pipelines.alerting.rules import Rule
from risk_pipelines.alerting.silences import covering
from risk_pipelines.alerting.state import step
from risk_pipelines.metrics.series import split_series_id
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse.forecast_runs import newest_runs
from risk_pipelines.warehouse.schema import metric_forecasts, risk_indicators
from risk_pipelines.warehouse.store import Warehouse

log = logging.getLogger(__name__)


@dataclass
class EvaluationReport:
    days: list[dt.date] = field(default_factory=list)
    opened: int = 0
    fired: int = 0
    resolved: int = 0
    notifications: int = 0
    suppressed_history: int = 0
    firing_now: int = 0
    skipped_days: int = 0
    silenced: int = 0

    def summary(self) -> str:
        if not self.days:
            return "no new day to evaluate"
        return (
            f"evaluated {len(self.days)} day(s) {self.days[0]}..{self.days[-1]}: "
            f"{self.fired} fired, {self.resolved} resolved, {self.firing_now} firing now, "
            f"{self.notifications} notification(s) sent"
            + (f", {self.silenced} held back by silences" if self.silenced else "")
        )


def evaluate_pending_days(
    warehouse: Warehouse,
    rules: list[Rule],
    *,
    now: dt.datetime | None = None,
    max_catchup_days: int = 90,
    notify_within_days: int = 3,
    channels: dict[str, Channel] | None = None,
) -> EvaluationReport:
    """Evaluate every day with indicators newer than the last evaluated day.

    On a first run over a long backfill, only the last ``max_catchup_days`` are evaluated, and
    only changes on the last ``notify_within_days`` days are sent: replayed history is recorded
    (notification status ``skipped``) rather than paged to leadership.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    channels = channels or default_channels()
    report = EvaluationReport()
    through = alert_store.evaluated_through(warehouse)
    days = _days_with_indicators(warehouse, after=through)
    if not days:
        return report
    if len(days) > max_catchup_days:
        report.skipped_days = len(days) - max_catchup_days
        log.info("catching up: skipping %d older day(s)", report.skipped_days)
        days = days[-max_catchup_days:]
    lookback = max((r.compare_days for r in rules if r.type == "pct_change"), default=0)
    first = days[0] - dt.timedelta(days=lookback)
    indicators = warehouse.read_range("risk_indicators", "ds", first, days[-1])
    longest = max((r.within_days for r in rules if r.type == "forecast_crosses"), default=0)
    forecasts = _full_horizon_forecasts(warehouse, days[0], days[-1], longest)
    latest_day = days[-1]
    for day in days:
        ts = pd.Timestamp(day)
        today_fc = forecasts[forecasts["as_of"] == ts] if not forecasts.empty else forecasts
        notify = (latest_day - day).days < notify_within_days
        _evaluate_day(warehouse, rules, ts, indicators, today_fc, now, notify, channels, report)
        report.days.append(day)
    report.firing_now = len(alert_store.list_alerts(warehouse, "firing"))
    return report


def _evaluate_day(warehouse, rules, day, indicators, forecasts, now, notify, channels, report):
    owners = {r.id: r.owners for r in rules}
    routes = {r.id: r.routes for r in rules}
    outbox = []
    with warehouse.engine.begin() as conn:
        open_alerts = alert_store.load_open_alerts(conn)
        counts = {"opened": 0, "fired": 0, "resolved": 0}
        for rule in rules:
            evaluation = evaluate_rule(rule, day, indicators, forecasts)
            transitions = step(open_alerts, evaluation)
            states = alert_store.apply_transitions(
                conn, transitions, day.date(), now, evaluation.dims
            )
            for t, state in zip(transitions, states, strict=True):
                counts["opened"] += t.before is None
                counts["fired"] += t.notify == "firing"
                counts["resolved"] += t.notify == "resolved"
                if t.notify:
                    outbox.append(
                        Notification(
                            state.alert_id,
                            t.notify,
                            state.severity,
                            state.rule_id,
                            state.unique_id,
                            state.message,
                            owners[state.rule_id],
                        )
                    )
        firing = sum(1 for a in alert_store.load_open_alerts(conn).values() if a.state == "firing")
        alert_store.record_evaluation(
            conn, day.date(), now, rules=len(rules), firing_after=firing, **counts
        )
    # Delivery happens after the state is committed; every attempt is recorded.
    with warehouse.engine.begin() as conn:
        silences = alert_store.load_silences(conn, now)
        for note in outbox:
            silence = covering(silences, note.rule_id, _series_dims(note.unique_id), now)
            for route in routes[note.rule_id]:
                if silence is not None:
                    status, attempts, error = "silenced", 0, silence.describe()
                    report.silenced += 1
                elif notify:
                    delivery = channels[route].send(note)
                    report.notifications += delivery.status == "sent"
                    status, attempts, error = delivery.status, delivery.attempts, delivery.error
                else:
                    status, attempts, error = "skipped", 0, "historical replay: not sent"
                    report.suppressed_history += 1
                alert_store.record_notification(
                    conn, note.alert_id, note.event, route, status, attempts, error, now
                )
    report.opened += counts["opened"]
    report.fired += counts["fired"]
    report.resolved += counts["resolved"]


def _series_dims(unique_id: str) -> dict[str, str]:
    try:
        return split_series_id(unique_id)
    except ValueError:
        return {}


def _days_with_indicators(warehouse: Warehouse, after: dt.date | None) -> list[dt.date]:
    query = sa.select(risk_indicators.c.ds).distinct().order_by(risk_indicators.c.ds)
    if after is not None:
        query = query.where(risk_indicators.c.ds > after)
    frame = warehouse.read_query(query)
    return [ts.date() for ts in frame["ds"]]


def _full_horizon_forecasts(warehouse, first, last, within_days) -> pd.DataFrame:
    if within_days <= 0:
        return pd.DataFrame()
    t = metric_forecasts
    query = sa.select(t).where(
        t.c.as_of.between(first, last), t.c.is_primary.is_(True), t.c.horizon <= within_days
    )
    frame = newest_runs(warehouse.read_query(query))
    # A backfilled day has only its one-step forecast: a crossing rule needs the full horizon.
    if frame.empty:
        return frame
    full = frame.groupby("as_of")["horizon"].transform("max") > 1
    return frame[full]

"""Evaluate the alert rules for every day not yet evaluated, in order, and deliver changes.

The days already evaluated are recorded in the warehouse (``alert_evaluations``), so the
sensor and the command line can both call this and no day is evaluated twice. Evaluating a day
is one transaction: alert states, the evaluation record and the queued notifications change
together; delivery (``dispatch``) comes after, from the queue, so a channel that is down can
neither undo an evaluation nor lose a notification.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting import repository
from risk_pipelines.alerting.evaluation import root_cause
from risk_pipelines.alerting.evaluation.absence import metrics_window_days
from risk_pipelines.alerting.evaluation.evaluate import BURST_BASELINE_DAYS, evaluate_rule
from risk_pipelines.alerting.evaluation.grouping import FiredAlert
from risk_pipelines.alerting.evaluation.rules import Rule
from risk_pipelines.alerting.evaluation.state import step
from risk_pipelines.alerting.notification.calendar import Calendar
from risk_pipelines.alerting.notification.channels import Channel
from risk_pipelines.alerting.notification.dispatch import DispatchReport
from risk_pipelines.alerting.notification.mutes import (
    HistoryReplayMute,
    KnownEventMute,
    NewTrendMute,
    Notice,
    SilenceMute,
    first_mute,
)
from risk_pipelines.alerting.notification.routes import DEFAULT_ROUTES, RouteConfig
from risk_pipelines.config import AlertConfig
from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.stages.delivery import deliver
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse.aggregates import decision_breakdown
from risk_pipelines.warehouse.alerts import Notification
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
    incidents: int = 0  # incidents opened or joined
    firing_now: int = 0
    skipped_days: int = 0
    silenced: int = 0
    suppressed: int = 0
    queued: int = 0
    delivery: DispatchReport = field(default_factory=DispatchReport)

    def summary(self) -> str:
        delivered = self.delivery.summary()
        if not self.days:
            return "no new day to evaluate; " + delivered
        return (
            f"evaluated {len(self.days)} day(s) {self.days[0]}..{self.days[-1]}: "
            f"{self.fired} fired, {self.resolved} resolved, {self.firing_now} firing now; "
            + delivered
            + (f"; {self.silenced} held back by silences" if self.silenced else "")
            + (f"; {self.suppressed} suppressed by known events" if self.suppressed else "")
        )


@dataclass(frozen=True)
class CatchUp:
    """How far a first evaluation after a long backfill reaches back, and which of its days
    may still page someone (older changes are recorded as history, not sent)."""

    max_days: int = 90
    notify_within_days: int = 3


def evaluate_pending_days(
    warehouse: Warehouse,
    rules: list[Rule],
    *,
    routes: RouteConfig = DEFAULT_ROUTES,
    calendar: Calendar | None = None,
    now: dt.datetime | None = None,
    channels: dict[str, Channel] | None = None,
    catch_up: CatchUp = CatchUp(),
) -> EvaluationReport:
    """Evaluate every day with indicators newer than the last evaluated day, then deliver.

    On a first run over a long backfill, only the last ``catch_up.max_days`` are evaluated,
    and only changes on its last ``catch_up.notify_within_days`` days are sent: replayed
    history is recorded (notification status ``skipped``) rather than paged to leadership.
    Whatever earlier calls left undelivered is retried here too, even when there is no new day.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    calendar = calendar or Calendar()
    report = EvaluationReport()
    through = alert_store.evaluated_through(warehouse)
    days = _days_with_indicators(warehouse, after=through)
    if len(days) > catch_up.max_days:
        report.skipped_days = len(days) - catch_up.max_days
        log.info("catching up: skipping %d older day(s)", report.skipped_days)
        days = days[-catch_up.max_days :]
    if days:
        lookback = max((r.compare_days for r in rules if r.type == "pct_change"), default=0)
        if any(r.type in ("count_burst", "rate_shift") for r in rules):  # window and baseline
            lookback = max(lookback, BURST_BASELINE_DAYS + 7)
        first = days[0] - dt.timedelta(days=max(lookback, 7))
        indicators = warehouse.read_range("risk_indicators", "ds", first, days[-1])
        longest = max((r.within_days for r in rules if r.type == "forecast_crosses"), default=0)
        forecasts = _full_horizon_forecasts(warehouse, days[0], days[-1], longest)
        context = _AlertContext(warehouse, indicators, calendar, routes, now)
        context.metrics = _metrics_for_absent_rules(warehouse, rules, days)
        for day in days:
            ts = pd.Timestamp(day)
            today_fc = forecasts[forecasts["as_of"] == ts] if not forecasts.empty else forecasts
            notify = (days[-1] - day).days < catch_up.notify_within_days
            _evaluate_day(context, rules, ts, today_fc, notify, report)
            report.days.append(day)
        report.firing_now = len(alert_store.list_alerts(warehouse, "firing"))
    report.delivery = deliver(warehouse, routes, now, channels)
    report.notifications = report.delivery.sent
    return report


def evaluate_with_config(warehouse: Warehouse, config: AlertConfig, **options) -> EvaluationReport:
    """``evaluate_pending_days`` with the rules, routes and calendar of a config folder."""
    return evaluate_pending_days(
        warehouse, config.rules, routes=config.routes, calendar=config.calendar, **options
    )


def _evaluate_day(context: _AlertContext, rules, day, forecasts, notify, report) -> None:
    warehouse, indicators, now = context.warehouse, context.indicators, context.now
    counts = {"opened": 0, "fired": 0, "resolved": 0}
    fired: list[FiredAlert] = []  # grouped into incidents once every rule has run
    with warehouse.engine.begin() as conn:
        open_alerts = repository.load_open_alerts(conn)
        muted = alert_store.muted_identities(conn, day.date())
        mutes = (
            SilenceMute(repository.load_silences(conn, now), now),
            KnownEventMute(context.calendar),
            NewTrendMute(muted),
            HistoryReplayMute(live=notify),
        )
        for rule in rules:
            evaluation = evaluate_rule(rule, day, indicators, forecasts, context.metrics)
            transitions = step(open_alerts, evaluation, day.date(), muted)
            states = repository.apply_transitions(
                conn, transitions, day.date(), now, evaluation.dims
            )
            clean = [
                uid
                for uid in evaluation.evaluated - set(evaluation.breaches)
                if (rule.id, uid) in muted
            ]
            alert_store.unmute(conn, rule.id, clean)
            for t, state in zip(transitions, states, strict=True):
                if t.notify == "firing":
                    dims = evaluation.dims.get(state.unique_id, {})
                    fired.append(FiredAlert(state.alert_id, rule.id, state.unique_id, dims,
                                            rule.direction, state.significance))  # fmt: skip
                counts["opened"] += t.before is None
                counts["fired"] += t.notify == "firing"
                counts["resolved"] += t.notify == "resolved"
                if t.after.state == "resolved" or state.alert_id is None:
                    open_alerts.pop((state.rule_id, state.unique_id), None)
                else:
                    open_alerts[(state.rule_id, state.unique_id)] = state
                if t.notify:
                    dims = evaluation.dims.get(state.unique_id, {})
                    notice = Notice(rule.id, state.unique_id, dims, day.date(), t.notify)
                    _queue(conn, context, rule, state, notice, mutes, report)
        report.incidents += repository.record_incidents(conn, fired, day.date())
        firing = sum(1 for a in open_alerts.values() if a.state == "firing")
        alert_store.record_evaluation(
            conn, day.date(), now, rules=len(rules), firing_after=firing, **counts
        )
    report.opened += counts["opened"]
    report.fired += counts["fired"]
    report.resolved += counts["resolved"]


# What each mute status counts towards in the evaluation report.
_MUTE_COUNTERS = {
    "silenced": "silenced",
    "suppressed": "suppressed",
    "muted": "suppressed",
    "skipped": "suppressed_history",
}


def _queue(conn, context, rule, state, notice: Notice, mutes, report) -> None:
    """Queue one notification per route that takes it, or record which mute held it back."""
    event, day, dims = notice.event, notice.day, dict(notice.dims)
    if event in ("firing", "escalated"):
        contributors = context.contributors(pd.Timestamp(day), dims, rule.direction)
        events = context.calendar.on(day, dims)
        annotation = "; ".join(e.describe() for e in events) or None
        alert_store.set_alert_context(
            conn,
            state.alert_id,
            contributors=json.dumps(contributors) if contributors else None,
            annotation=annotation,
        )
    muted = first_mute(mutes, notice)
    for route_name in rule.routes:
        route = context.routes.routes.get(route_name)
        taken = route is None or route.takes(
            state.severity, dims.get("policy_category"), state.significance
        )
        if not taken:
            continue
        if muted is None:
            status, error = "queued", None
            report.queued += 1
        else:
            status, error = muted.status, muted.reason
            counter = _MUTE_COUNTERS[muted.status]
            setattr(report, counter, getattr(report, counter) + 1)
        alert_store.queue_notification(
            conn,
            Notification(
                alert_id=state.alert_id,
                event=event,
                route=route_name,
                key=f"{state.alert_id}:{event}:{day:%Y-%m-%d}:{route_name}",
                severity=state.severity,
                message=state.message if event != "resolved" else f"resolved: {state.message}",
                owners=rule.owners,
                status=status,
                error=error,
            ),
            context.now,
        )


class _AlertContext:
    """One evaluation's surroundings: where alerts are written and routed, when it runs, and
    what an alert carries besides its own numbers (root cause and known events)."""

    def __init__(self, warehouse: Warehouse, indicators: pd.DataFrame, calendar: Calendar,
                 routes: RouteConfig, now: dt.datetime) -> None:  # fmt: skip
        self.warehouse, self.indicators, self.calendar = warehouse, indicators, calendar
        self.routes, self.now = routes, now
        self.metrics: pd.DataFrame | None = None  # daily_metrics, for absent rules

    def contributors(self, day: pd.Timestamp, dims: dict, direction: str) -> list[dict]:
        if not dims:
            return []
        today = self.indicators[self.indicators["ds"] == day]
        week_before = self.indicators[self.indicators["ds"] == day - pd.Timedelta(days=7)]
        finer = root_cause.finer_series(today, dims)
        rate = spec_for(dims["metric"]).kind == "rate"
        candidates = root_cause.candidates_from_indicators(finer, week_before)
        found = root_cause.top_contributors(candidates, direction, rate=rate)
        if found:
            return found
        # A leaf series has no finer series stored: split its raw decisions instead.
        return self._from_raw_decisions(day.date(), dims, direction)

    def _from_raw_decisions(self, day: dt.date, dims: dict, direction: str) -> list[dict]:
        """Split the series' raw rows (decisions or incidents) along each dimension it
        aggregates, today against the same weekday a week before."""
        week_before = day - dt.timedelta(days=7)
        rate = spec_for(dims["metric"]).kind == "rate"
        frames = []
        for by in RAW_SPLITS:
            if dims.get(by, "all") != "all":
                continue
            counts = decision_breakdown(
                self.warehouse, dims["metric"], dims, by, [day, week_before]
            )
            if counts.empty:
                continue
            if rate:
                counts = counts.assign(n=counts["n"] / counts["d"].where(counts["d"] > 0))
            wide = counts.pivot_table(index=by, columns="ds", values="n")
            today_rows = counts[counts["ds"] == day].set_index(by)
            frames.append(
                pd.DataFrame(
                    {
                        "dimension": by,
                        "value": wide.index,
                        "actual": wide.get(day, pd.Series(dtype=float)).reindex(wide.index),
                        "baseline": wide.get(week_before, pd.Series(dtype=float)).reindex(
                            wide.index
                        ),
                        "weight": today_rows["d"].reindex(wide.index) if rate else float("nan"),
                    }
                ).fillna({"actual": 0.0, "baseline": 0.0} if not rate else {})
            )
        if not frames:
            return []
        candidates = pd.concat(frames, ignore_index=True)
        return root_cause.top_contributors(candidates, direction, rate=rate)


# The raw-table columns a leaf series can be split by (those its series key does not fix).
RAW_SPLITS = ("surface", "detection_source", "policy_category", "region")


def _metrics_for_absent_rules(warehouse: Warehouse, rules, days) -> pd.DataFrame | None:
    """The daily_metrics rows absent rules look back on: presence is judged on the metrics
    themselves, since a silent series has no indicator either."""
    window = max((metrics_window_days(r) for r in rules if r.type == "absent"), default=0)
    if not window:
        return None
    first = days[0] - dt.timedelta(days=window)
    return warehouse.read_range("daily_metrics", "ds", first, days[-1])


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

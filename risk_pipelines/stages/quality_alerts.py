"""Operational alerts for data engineers: a blocked day, a late or missing delivery, a changed
header, and a failed pipeline run. Failed checks do not fail runs, so nothing else would tell
anyone.

Each problem is an alert with identity ``(data_quality.<check>, <dataset>|<day>)`` in the same
``alerts`` table and through the same channels as risk alerts, edge-triggered: it fires once
when the problem appears and resolves once when a later verdict passes or the day lands.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting import repository
from risk_pipelines.alerting.notification.channels import Channel
from risk_pipelines.alerting.notification.dispatch import DispatchReport
from risk_pipelines.alerting.notification.routes import DEFAULT_ROUTES, RouteConfig
from risk_pipelines.sources import landing
from risk_pipelines.sources.delivery import assess_freshness
from risk_pipelines.stages.context import StageRun
from risk_pipelines.stages.delivery import deliver
from risk_pipelines.warehouse import alerts as alert_store
from risk_pipelines.warehouse.alerts import Notification
from risk_pipelines.warehouse.schema import alerts, data_quality_results
from risk_pipelines.warehouse.store import Warehouse

RULE_PREFIX = "data_quality."
OWNERS = ("team:risk-data-engineering",)
SEVERITY = {"suite": "critical", "freshness": "medium", "schema": "medium"}
# Findings the alert rules judge themselves, per series and with state: a series that went
# quiet raises the `absent` rule once per outage, where a data-quality alert per day would
# repeat it for every day of the outage.
RULE_JUDGED_CHECKS = ("series",)
# The DSA dumps land as <landing>/dsa/sor-global-<day>-full.zip, judged like a landing folder.
DSA_DATASET = "dsa_statements"


@dataclass
class DataQualityReport:
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    notifications: int = 0

    def summary(self) -> str:
        return (
            f"data quality: {len(self.fired)} alert(s) fired, {len(self.resolved)} resolved, "
            f"{self.notifications} notification(s) sent"
        )


def current_problems(
    warehouse: Warehouse,
    landing_dir: Path,
    deadlines: dict[str, float],
    now: dt.datetime,
    lookback_days: int = 7,
) -> dict[tuple[str, str], str]:
    """(rule_id, unique_id) -> message for every failing check of the last ``lookback_days``,
    plus every day past its deadline that has not landed at all (no run needed to notice)."""
    problems: dict[tuple[str, str], str] = {}
    first = (now - dt.timedelta(days=lookback_days)).date()
    t = data_quality_results
    failing = warehouse.read_query(
        sa.select(t.c.dataset, t.c.ds, t.c.check_name, t.c.message).where(
            t.c.ds >= first, t.c.passed.is_(False), t.c.check_name.not_in(RULE_JUDGED_CHECKS)
        )
    )
    for row in failing.itertuples(index=False):
        problems[_key(row.check_name, row.dataset, _date(row.ds))] = row.message
    for dataset, deadline in deadlines.items():
        if not _deployed(Path(landing_dir), dataset):
            continue
        days = [first + dt.timedelta(days=i) for i in range((now.date() - first).days)]
        absent = [d for d in days if not _arrived(Path(landing_dir), dataset, d)]
        for finding in assess_freshness(
            [], absent, deadline_hours=deadline, now=now, judge_within_days=lookback_days
        ):
            if not finding.passed:
                problems[_key("freshness", dataset, finding.ds)] = finding.message
    return problems


def _arrived(landing_dir: Path, dataset: str, day: dt.date) -> bool:
    """Whether anything landed for ``day``: its folder, or for the DSA source its dump."""
    if dataset == DSA_DATASET:
        return any((landing_dir / "dsa").glob(f"sor-global-{day.isoformat()}-*.zip"))
    return (landing_dir / dataset / day.isoformat()).is_dir()


def _deployed(landing_dir: Path, dataset: str) -> bool:
    folder = "dsa" if dataset == DSA_DATASET else dataset
    return (landing_dir / folder).is_dir()


def evaluate_data_quality(
    warehouse: Warehouse,
    routes: RouteConfig = DEFAULT_ROUTES,
    *,
    channels: dict[str, Channel] | None = None,
    landing_dir: Path,
    deadlines: dict[str, float],
    now: dt.datetime,
    lookback_days: int = 7,
) -> DataQualityReport:
    problems = current_problems(warehouse, landing_dir, deadlines, now, lookback_days)
    report = DataQualityReport()
    outbox: list[tuple] = []
    with warehouse.engine.begin() as conn:
        open_alerts = {
            key: state
            for key, state in repository.load_open_alerts(conn).items()
            if key[0].startswith(RULE_PREFIX)
        }
        for key, message in problems.items():
            if key in open_alerts:
                continue
            rule_id, unique_id = key
            check = rule_id.removeprefix(RULE_PREFIX)
            day = dt.date.fromisoformat(unique_id.split("|")[1])
            values = dict(
                rule_id=rule_id, unique_id=unique_id, state="firing",
                severity=SEVERITY.get(check, "medium"), first_breach_ds=day,
                last_evaluated_ds=day, opened_at=now, fired_at=now, breach_count=1,
                clean_count=0, message=f"{unique_id.split('|')[0]} {day}: {message}",
            )  # fmt: skip
            alert_id = conn.execute(sa.insert(alerts).values(**values)).inserted_primary_key[0]
            outbox.append((alert_id, "firing", values["severity"], values["message"]))
            report.fired.append(values["message"])
        for key, state in open_alerts.items():
            if key in problems or _still_failing_outside_window(conn, key, now, lookback_days):
                continue
            conn.execute(
                sa.update(alerts)
                .where(alerts.c.alert_id == state.alert_id)
                .values(state="resolved", resolved_at=now, clean_count=1)
            )
            outbox.append(
                (state.alert_id, "resolved", state.severity, f"resolved: {state.message}")
            )
            report.resolved.append(state.message)
    with warehouse.engine.begin() as conn:
        for alert_id, event, severity, message in outbox:
            for route in routes.data_quality_routes:
                alert_store.queue_notification(
                    conn,
                    Notification(
                        alert_id=alert_id,
                        event=event,
                        route=route,
                        key=f"{alert_id}:{event}:{route}",
                        severity=severity,
                        message=message,
                        owners=OWNERS,
                    ),
                    now,
                )  # fmt: skip
    report.notifications = deliver(warehouse, routes, now, channels).sent
    return report


def check_deliveries(warehouse: Warehouse, run: StageRun) -> DataQualityReport:
    """The operational alert stage: every landing dataset's blocked, late or missing days and
    changed headers of the last week, judged against its suite's freshness deadline."""
    deadlines = {
        dataset: run.config.suite(dataset).settings.freshness_deadline_hours
        for dataset in (*landing.DATASETS, DSA_DATASET)
    }
    return evaluate_data_quality(
        warehouse,
        run.config.alerts.routes,
        landing_dir=run.landing_dir,
        deadlines=deadlines,
        now=run.now,
    )


def _still_failing_outside_window(conn, key, now, lookback_days) -> bool:
    """An alert older than the window stays open until a verdict for its day passes."""
    rule_id, unique_id = key
    dataset, day = unique_id.split("|")
    if dt.date.fromisoformat(day) >= (now - dt.timedelta(days=lookback_days)).date():
        return False
    t = data_quality_results
    passed = conn.execute(
        sa.select(t.c.passed).where(
            t.c.dataset == dataset,
            t.c.ds == dt.date.fromisoformat(day),
            t.c.check_name == rule_id.removeprefix(RULE_PREFIX),
        )
    ).scalar()
    return not passed


def _key(check: str, dataset: str, day: dt.date) -> tuple[str, str]:
    return f"{RULE_PREFIX}{check}", f"{dataset}|{day.isoformat()}"


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


RUN_FAILURE_RULE = "pipeline.run_failure"


def record_run_failure(
    warehouse: Warehouse,
    routes: RouteConfig,
    *,
    job_name: str,
    run_id: str,
    error: str,
    now: dt.datetime,
    channels: dict[str, Channel] | None = None,
) -> DispatchReport | None:
    """Open a firing alert for the run and notify the data-quality routes; None when this run
    was already recorded (a sensor re-evaluating the same run repeats nothing)."""
    unique_id = f"{job_name}|{run_id}"
    message = f"run {run_id} of {job_name} failed: {error.strip().splitlines()[0][:300]}"
    with warehouse.engine.begin() as conn:
        seen = conn.execute(
            sa.select(alerts.c.alert_id).where(
                alerts.c.rule_id == RUN_FAILURE_RULE, alerts.c.unique_id == unique_id
            )
        ).first()
        if seen is not None:
            return None
        alert_id = conn.execute(
            sa.insert(alerts).values(
                rule_id=RUN_FAILURE_RULE, unique_id=unique_id, state="firing", severity="high",
                first_breach_ds=now.date(), last_evaluated_ds=now.date(), opened_at=now,
                fired_at=now, breach_count=1, clean_count=0, message=message,
            )
        ).inserted_primary_key[0]  # fmt: skip
        for route in routes.data_quality_routes:
            alert_store.queue_notification(
                conn,
                Notification(
                    alert_id=alert_id,
                    event="firing",
                    route=route,
                    key=f"{alert_id}:firing:{route}",
                    severity="high",
                    message=message,
                    owners=OWNERS,
                ),
                now,
            )  # fmt: skip
    return deliver(warehouse, routes, now, channels)

"""The alert state machine: pending -> firing -> resolved, per identity (rule_id, unique_id).

Edge-triggered: a notification goes out when an alert starts firing and when it resolves,
never for a quiet evaluation; besides those, a firing alert is re-notified every
``renotify_days`` evaluated days it keeps breaching, and at once when it escalates (its
breach passes the rule's ``escalate_at``, raising its severity to ``escalate_to``).
``sustain`` breaching evaluations are needed to fire and ``hold`` clean ones to resolve, so
one noisy day neither pages leadership nor silences a real alert.

Recovery is judged against the bound in force when the alert opened (kept as its
``threshold``): forecasts adapt to a sustained surge within days, and an alert must not resolve
because the model has come to call the surge normal, only when the series is back inside the
band it broke out of.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from risk_pipelines.alerting.evaluation.evaluate import Breach, Evaluation


@dataclass(frozen=True)
class AlertState:
    rule_id: str
    unique_id: str
    state: str  # pending | firing | resolved
    severity: str
    breach_count: int
    clean_count: int
    observed_value: float | None
    threshold: float | None
    message: str
    alert_id: int | None = None
    notified_ds: dt.date | None = None  # the evaluated day of the last notice
    escalated_from: str | None = None


@dataclass(frozen=True)
class Transition:
    before: AlertState | None
    after: AlertState
    notify: str | None  # "firing" | "resolved" | "renotify" | "escalated" | None


def step(
    open_alerts: dict[tuple[str, str], AlertState],
    evaluation: Evaluation,
    day: dt.date | None = None,
    muted: frozenset[tuple[str, str]] = frozenset(),
) -> list[Transition]:
    """Apply one rule's evaluation of ``day`` to the open alerts of that rule.

    ``muted`` identities (re-baselined after a ``new_trend`` label) open no new alert."""
    rule = evaluation.rule
    transitions = []
    for uid in sorted(evaluation.evaluated | set(evaluation.breaches)):
        current = open_alerts.get((rule.id, uid))
        breach = evaluation.breaches.get(uid)
        if current is None and (rule.id, uid) in muted:
            continue
        if breach is None and current is not None and current.state == "firing":
            # Only recovery uses the opening bound; a pending alert must earn ``sustain``
            # breaches of the rule itself.
            breach = _still_beyond_opening_bound(current, evaluation, uid)
        if breach is not None:
            if current is None:
                after = AlertState(
                    rule.id,
                    uid,
                    "pending",
                    rule.severity,
                    1,
                    0,
                    breach.observed,
                    breach.threshold,
                    breach.message,
                )
            else:
                after = replace(
                    current,
                    breach_count=current.breach_count + 1,
                    clean_count=0,
                    observed_value=breach.observed,
                    message=breach.message,
                )
            notify = None
            if after.state == "pending" and after.breach_count >= rule.sustain:
                after, notify = replace(after, state="firing"), "firing"
                if rule.escalate_at is not None and rule.escalates(breach):
                    after = replace(after, severity=rule.escalate_to, escalated_from=rule.severity)
            elif after.state == "firing":
                after, notify = _reminder_or_escalation(rule, after, breach, day)
            if notify and day is not None:
                after = replace(after, notified_ds=day)
            transitions.append(Transition(current, after, notify))
        elif current is not None:
            after = replace(current, clean_count=current.clean_count + 1)
            notify = None
            if current.state == "pending":
                after = replace(after, state="resolved")  # never fired: nobody was told
            elif after.clean_count >= rule.hold:
                after, notify = replace(after, state="resolved"), "resolved"
            transitions.append(Transition(current, after, notify))
    return transitions


def _still_beyond_opening_bound(current: AlertState, evaluation: Evaluation, uid: str):
    value = evaluation.values.get(uid)
    # A rule's own recovery line (hysteresis) wins over the bound the alert opened at.
    recovery = evaluation.rule.recovery_value()
    reference = recovery if recovery is not None else current.threshold
    if value is None or reference is None:
        return None
    up = evaluation.rule.direction == "up"
    if (value > reference) if up else (value < reference):
        side = "above" if up else "below"
        return Breach(
            value,
            reference,
            f"{current.message.split(';')[0]}; latest {value:,.4g}, still {side} "
            f"{reference:,.4g}, "
            + ("its recovery line" if recovery is not None else "the bound when the alert opened"),
        )
    return None


def _reminder_or_escalation(rule, alert: AlertState, breach: Breach, day: dt.date | None):
    if rule.escalate_at is not None and alert.escalated_from is None and rule.escalates(breach):
        return replace(alert, severity=rule.escalate_to, escalated_from=alert.severity), "escalated"
    due = rule.renotify_days and day is not None and alert.notified_ds is not None
    if due and (day - alert.notified_ds).days >= rule.renotify_days:
        return alert, "renotify"
    return alert, None

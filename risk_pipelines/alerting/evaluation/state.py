"""The alert state machine: pending -> firing -> resolved, per identity (rule_id, unique_id).

Edge-triggered: a notification goes out when an alert starts firing and when it resolves,
never for a quiet evaluation; besides those, a firing alert is re-notified every
``renotify_days`` evaluated days it keeps breaching, and at once when it escalates (its
breach passes the rule's ``escalate_at``, raising its severity to ``escalate_to``).
``sustain`` breaching evaluations are needed to fire and ``hold`` clean ones to resolve, so
one noisy day neither pages leadership nor silences a real alert.

Recovery, for a band rule, is judged first against the bound in force when the alert opened
(kept as its ``threshold``): forecasts adapt to a surge within days, and a five-day surge must
not resolve because the model has come to call it normal. But a series that stays at its new
level is a level shift, not an endless breach: once an alert has been open ``rebaseline_days``
and the series sits inside the current band while still beyond the opening bound, the alert
says so once (``level_shift``: the new level, since when) and from then on recovers against the
current band, so it resolves after ``hold`` days and the rule watches the new level. Whatever
the rule, an alert without a fresh breach of the rule itself for ``max_open_days`` resolves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from risk_pipelines.alerting.evaluation.evaluate import Breach, Evaluation
from risk_pipelines.alerting.evaluation.significance import breach_significance, with_duration


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
    opened_ds: dt.date | None = None  # its first breach
    fresh_ds: dt.date | None = None  # the last day the rule itself breached
    shift_level: float | None = None  # the new level, once the alert was found a level shift
    significance: float | None = None  # the largest so far (alerting/evaluation/significance.py)


@dataclass(frozen=True)
class Transition:
    before: AlertState | None
    after: AlertState
    # "firing" | "resolved" | "renotify" | "escalated" | "level_shift" | None
    notify: str | None


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
        if breach is not None:
            transitions.append(_breaching(rule, uid, current, breach, day))
        elif current is not None:
            transitions.append(_not_breaching(rule, current, evaluation, uid, day))
    return transitions


def _breaching(rule, uid: str, current: AlertState | None, breach: Breach, day, fresh=True):
    """``fresh``: the rule itself breached today (not only the opening bound)."""
    if current is None:
        after = AlertState(
            rule.id, uid, "pending", rule.severity, 1, 0, breach.observed,
            breach.threshold, breach.message, opened_ds=day, fresh_ds=day,
        )  # fmt: skip
    else:
        after = replace(
            current,
            breach_count=current.breach_count + 1,
            clean_count=0,
            observed_value=breach.observed,
            message=breach.message,
            fresh_ds=day if fresh else current.fresh_ds,
        )
    if fresh and (breach.significance is not None or breach.score is not None):
        # A rule without a band or a score (a fixed threshold, a forecast crossing) carries
        # none: it says by its own line how much it matters, and no route filters it out.
        one_day = breach.significance or breach_significance(breach.score, None)
        now = with_duration(one_day, after.breach_count)
        after = replace(after, significance=max(now, after.significance or 0.0))
    notify = None
    if after.state == "pending" and after.breach_count >= rule.sustain:
        after, notify = replace(after, state="firing"), "firing"
        if rule.escalate_at is not None and rule.escalates(breach):
            after = replace(after, severity=rule.escalate_to, escalated_from=rule.severity)
    elif after.state == "firing":
        after, notify = _reminder_or_escalation(rule, after, breach, day)
    if notify and day is not None:
        after = replace(after, notified_ds=day)
    return Transition(current, after, notify)


def _not_breaching(rule, current: AlertState, evaluation: Evaluation, uid: str, day):
    """A day the rule does not breach: a pending alert ends, a firing one counts towards
    ``hold`` unless it is still beyond its opening bound (and young enough to be judged by it)."""
    if current.state == "pending":  # never fired: nobody was told
        return Transition(current, replace(current, state="resolved", clean_count=1), None)
    if _stale(rule, current, day):
        after = replace(
            current, state="resolved", clean_count=current.clean_count + 1,
            message=f"{current.message}; no fresh breach for {rule.max_open_days} days",
        )  # fmt: skip
        return Transition(current, after, "resolved")
    beyond = _still_beyond_opening_bound(current, evaluation, uid)
    if beyond is not None and current.shift_level is None:
        if not _rebaselines(rule, current, day):
            return _breaching(rule, uid, current, beyond, day, fresh=False)
        # Inside today's band, still beyond the opening one, for rebaseline_days: a new level.
        after = replace(
            current, shift_level=beyond.observed, clean_count=1,
            message=_level_shift_message(current, beyond.observed), notified_ds=day,
        )  # fmt: skip
        if rule.hold <= 1:
            return Transition(current, replace(after, state="resolved"), "resolved")
        return Transition(current, after, "level_shift")
    after = replace(current, clean_count=current.clean_count + 1)
    if after.clean_count >= rule.hold:
        return Transition(current, replace(after, state="resolved"), "resolved")
    return Transition(current, after, None)


def _rebaselines(rule, current: AlertState, day) -> bool:
    """Whether a firing band alert is old enough to be judged against the current band."""
    if rule.type not in ("outside_interval", "rate_shift") or rule.recovery_value() is not None:
        return False  # a fixed line or a hysteresis line is a level on purpose
    if day is None or current.opened_ds is None:
        return False
    return (day - current.opened_ds).days >= rule.rebaseline_days


def _stale(rule, current: AlertState, day) -> bool:
    if day is None or rule.max_open_days <= 0:
        return False
    since = current.fresh_ds or current.opened_ds
    return since is not None and (day - since).days >= rule.max_open_days


def _level_shift_message(current: AlertState, level: float) -> str:
    what = current.message.split(" was ")[0].split(";")[0]
    since = f" since {current.opened_ds:%Y-%m-%d}" if current.opened_ds else ""
    return (
        f"{what}: level shift to about {level:,.4g}{since} (the band it broke out of ended at "
        f"{current.threshold:,.4g}); re-baselined, now judged against the current forecast"
    )


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

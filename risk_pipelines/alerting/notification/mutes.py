"""Why a notification is held back: the mute stages of the notification pipeline.

Each cause is one small object with a ``status`` (what the notification row records) and a
``reason`` for a notice, or None when it lets the notice through. The pipeline asks the stages
in order and the first that answers wins, as Alertmanager's inhibit and silence stages do:

1. ``SilenceMute``: an operator's silence covers the rule and series (``silenced``);
2. ``KnownEventMute``: a known event of calendar.yaml suppresses the day (``suppressed``);
3. ``NewTrendMute``: the series was labelled ``new_trend`` and is being re-baselined
   (``muted``; the state machine also opens no new alert for it meanwhile);
4. ``HistoryReplayMute``: a replayed historical day is recorded, never paged (``skipped``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from risk_pipelines.alerting.notification.calendar import Calendar
from risk_pipelines.alerting.notification.silences import Silence, covering


@dataclass(frozen=True)
class Notice:
    """One notification about to be queued: which rule and series, which day, which event."""

    rule_id: str
    unique_id: str
    dims: Mapping[str, str]
    day: dt.date
    event: str


@dataclass(frozen=True)
class Muted:
    status: str
    reason: str


class MuteStage(Protocol):
    status: str

    def reason(self, notice: Notice) -> str | None: ...


@dataclass(frozen=True)
class SilenceMute:
    silences: Sequence[Silence]
    now: dt.datetime
    status: str = "silenced"

    def reason(self, notice: Notice) -> str | None:
        silence = covering(self.silences, notice.rule_id, dict(notice.dims), self.now)
        return silence.describe() if silence is not None else None


@dataclass(frozen=True)
class KnownEventMute:
    calendar: Calendar
    status: str = "suppressed"

    def reason(self, notice: Notice) -> str | None:
        events = self.calendar.on(notice.day, dict(notice.dims))
        suppressing = next((e for e in events if e.effect == "suppress"), None)
        return suppressing.describe() if suppressing is not None else None


@dataclass(frozen=True)
class NewTrendMute:
    identities: Collection[tuple[str, str]] = field(default_factory=frozenset)
    status: str = "muted"

    def reason(self, notice: Notice) -> str | None:
        if (notice.rule_id, notice.unique_id) in self.identities:
            return "labelled new_trend: the series is being re-baselined"
        return None


@dataclass(frozen=True)
class HistoryReplayMute:
    live: bool
    status: str = "skipped"

    def reason(self, notice: Notice) -> str | None:
        return None if self.live else "historical replay: not sent"


def first_mute(stages: Sequence[MuteStage], notice: Notice) -> Muted | None:
    """The first stage that holds ``notice`` back, or None: the notice is sent."""
    for stage in stages:
        reason = stage.reason(notice)
        if reason is not None:
            return Muted(stage.status, reason)
    return None

"""Delivery channels. Every attempt becomes an ``alert_notifications`` row (auditable)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("risk_pipelines.alerts")


@dataclass(frozen=True)
class Notification:
    alert_id: int
    event: str  # firing | resolved
    severity: str
    rule_id: str
    unique_id: str
    message: str
    owners: tuple[str, ...]


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | failed | skipped
    attempts: int
    error: str | None = None


class Channel(Protocol):
    name: str

    def send(self, notification: Notification) -> Delivery: ...


class LogChannel:
    """Writes each notification as one log line (the Dagster run or sensor log shows it)."""

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log

    def send(self, notification: Notification) -> Delivery:
        headline = "FIRING" if notification.event == "firing" else "RESOLVED"
        owners = f" owners={','.join(notification.owners)}" if notification.owners else ""
        self.logger.warning(
            "[%s][%s] %s: %s (alert %s)%s",
            headline,
            notification.severity.upper(),
            notification.rule_id,
            notification.message,
            notification.alert_id,
            owners,
        )
        return Delivery("sent", 1)


def default_channels() -> dict[str, Channel]:
    return {"log": LogChannel()}

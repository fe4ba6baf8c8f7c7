"""The alerting configuration folder (RISK_PIPELINES_CONFIG): rules, routes and calendar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from risk_pipelines.alerting.evaluation.rules import Rule, load_rules
from risk_pipelines.alerting.notification.calendar import Calendar, load_calendar
from risk_pipelines.alerting.notification.routes import RouteConfig, load_routes


@dataclass(frozen=True)
class AlertConfig:
    rules: list[Rule]
    routes: RouteConfig
    calendar: Calendar


def load_alert_config(config_dir: Path) -> AlertConfig:
    """alert_rules.yaml, channels.yaml and calendar.yaml; the latter two are optional (log
    only; no known events beyond public holidays)."""
    config_dir = Path(config_dir)
    routes = load_routes(config_dir / "channels.yaml")
    return AlertConfig(
        rules=load_rules(config_dir / "alert_rules.yaml", known_routes=list(routes.routes)),
        routes=routes,
        calendar=load_calendar(config_dir / "calendar.yaml"),
    )

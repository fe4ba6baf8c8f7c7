"""Where notifications go: named routes declared in ``channels.yaml``, validated on load.

```yaml
routes:
  log: {channel: log}                      # always available
  risk-slack:
    channel: slack                         # Slack incoming webhook (Block Kit)
    webhook_url_env: RISK_SLACK_WEBHOOK_URL
    min_severity: medium                   # this route takes medium and above
  leadership-email:
    channel: email                         # HTML over SMTP, chart inline
    smtp_host_env: RISK_SMTP_HOST          # defaults: localhost, port 25, no login, no TLS
    smtp_port_env: RISK_SMTP_PORT
    username_env: RISK_SMTP_USER           # optional; password from password_env
    password_env: RISK_SMTP_PASSWORD
    starttls: false
    sender: risk-alerts@example.com
    recipients_env: RISK_LEADERSHIP_EMAILS # comma-separated
    min_severity: high
    min_significance: 8                    # significant alerts only (see significance.py)
  incident-webhook:
    channel: webhook                       # JSON, signed with HMAC-SHA256
    url_env: RISK_ALERT_WEBHOOK_URL
    secret_env: RISK_ALERT_WEBHOOK_SECRET
    policy_categories: [protection_of_minors, violence]
data_quality_routes: [log]                 # where data-quality alerts go (data engineers)
```

A rule names its routes; a route's own filters (``min_severity``, ``policy_categories``) then
decide what it takes, so leadership's route can stay high-severity only whatever rules say.
Secrets and addresses come only from the environment: the YAML names the variables. A route
whose variables are unset is *disabled*: its notifications are recorded as ``skipped`` with the
variable named, so a missing secret shows in ``alert_notifications`` instead of passing quietly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SEVERITIES = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    """Position in SEVERITIES, so severities sort and compare; an unknown one ranks lowest."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


CHANNEL_TYPES = ("log", "slack", "email", "webhook")
_REQUIRED_ENV = {
    "log": (),
    "slack": ("webhook_url_env",),
    "email": ("recipients_env",),
    "webhook": ("url_env", "secret_env"),
}
_OPTIONAL = {
    "log": (),
    "slack": (),
    "email": (
        "smtp_host_env",
        "smtp_port_env",
        "username_env",
        "password_env",
        "starttls",
        "sender",
    ),
    "webhook": (),
}
_COMMON = ("channel", "min_severity", "min_significance", "policy_categories", "description")


class RouteError(ValueError):
    """A channels file that cannot be used; the message names the file, route and field."""


@dataclass(frozen=True)
class Route:
    name: str
    channel: str
    settings: dict[str, Any] = field(default_factory=dict)
    min_severity: str = "info"
    policy_categories: tuple[str, ...] = ()
    min_significance: float = 0.0

    def takes(
        self, severity: str, policy_category: str | None, significance: float | None = None
    ) -> bool:
        """``significance`` None (an alert without one, e.g. data quality) passes the filter."""
        if severity_rank(severity) < severity_rank(self.min_severity):
            return False
        if significance is not None and significance < self.min_significance:
            return False
        return not self.policy_categories or policy_category in self.policy_categories

    def missing_env(self, environ: Mapping[str, str]) -> list[str]:
        return [
            self.settings[key]
            for key in _REQUIRED_ENV[self.channel]
            if not environ.get(self.settings[key])
        ]


@dataclass(frozen=True)
class RouteConfig:
    routes: dict[str, Route]
    data_quality_routes: tuple[str, ...] = ("log",)


DEFAULT_ROUTES = RouteConfig({"log": Route("log", "log")})


def load_routes(path: Path) -> RouteConfig:
    path = Path(path)
    if not path.exists():
        return DEFAULT_ROUTES  # a config folder without channels.yaml logs only
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RouteError(f"{path}: not valid YAML: {exc}") from exc
    return parse_routes(document, source=str(path))


def parse_routes(document: Any, source: str = "<channels>") -> RouteConfig:
    if not isinstance(document, dict) or not isinstance(document.get("routes"), dict):
        raise RouteError(f"{source}: expected a mapping with a 'routes' mapping")
    routes = {"log": Route("log", "log")}
    for name, raw in document["routes"].items():
        routes[str(name)] = _parse_route(str(name), raw, f"{source}: route {name!r}")
    dq = document.get("data_quality_routes", ["log"])
    if not isinstance(dq, list) or not dq:
        raise RouteError(f"{source}: 'data_quality_routes' must be a non-empty list of routes")
    unknown = [r for r in dq if r not in routes]
    if unknown:
        raise RouteError(
            f"{source}: data_quality_routes names unknown route(s) {unknown}; "
            f"known: {sorted(routes)}"
        )
    return RouteConfig(routes, tuple(dq))


def _parse_route(name: str, raw: Any, where: str) -> Route:
    if not isinstance(raw, dict):
        raise RouteError(f"{where}: expected a mapping")
    channel = raw.get("channel")
    if channel not in CHANNEL_TYPES:
        raise RouteError(f"{where}: 'channel' is {channel!r}; expected one of {CHANNEL_TYPES}")
    allowed = set(_COMMON) | set(_REQUIRED_ENV[channel]) | set(_OPTIONAL[channel])
    unknown = set(raw) - allowed
    if unknown:
        raise RouteError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    for key in _REQUIRED_ENV[channel]:
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise RouteError(
                f"{where}: {channel} needs '{key}', the name of the environment variable that "
                "holds it (secrets never go in the YAML)"
            )
    for key, value in raw.items():
        if key.endswith("_env") and not (isinstance(value, str) and value.isupper()):
            raise RouteError(
                f"{where}: '{key}' must name an environment variable (upper case), got {value!r}"
            )
    min_severity = raw.get("min_severity", "info")
    if min_severity not in SEVERITIES:
        raise RouteError(
            f"{where}: 'min_severity' is {min_severity!r}; expected one of {SEVERITIES}"
        )
    categories = raw.get("policy_categories") or []
    if not isinstance(categories, list):
        raise RouteError(f"{where}: 'policy_categories' must be a list")
    significance = raw.get("min_significance", 0.0)
    if isinstance(significance, bool) or not isinstance(significance, int | float):
        raise RouteError(f"{where}: 'min_significance' must be a number, got {significance!r}")
    if significance < 0:
        raise RouteError(f"{where}: 'min_significance' must be >= 0, got {significance}")
    settings = {k: v for k, v in raw.items() if k not in _COMMON}
    return Route(
        name, channel, settings, min_severity, tuple(map(str, categories)), float(significance)
    )

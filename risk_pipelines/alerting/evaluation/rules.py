"""Alert rules declared in YAML and validated with messages that name the rule and the field.

```yaml
rules:
  - id: report_surge                # unique, stable: it is half of an alert's identity
    type: outside_interval          # or forecast_crosses
    match: {metric: user_reports}   # any series dimension: a value, a list, "*" (any value) or
                                    #   {not: value or list}; omitted = any
    direction: up                   # up | down
    min_abs_impact: 10              # outside_interval: distance past the band, in metric units
    min_rel_impact: 0.3             # outside_interval: |actual - expected| / expected
    severity: high                  # info | low | medium | high | critical
    sustain: 1                      # breaching evaluations before it fires
    hold: 3                         # clean evaluations before a firing alert resolves
    routes: [log]
    owners: [risk-analysis]
  - id: overturn_rate_heading_up
    type: forecast_crosses
    match: {metric: overturn_rate}
    bound: upper                    # yhat | upper (the 95 % upper bound; lower when down)
    threshold: 0.45
    within_days: 14
  - id: zero_view_removals_high
    type: threshold                 # the actual itself against a fixed line
    match: {metric: zero_view_removal_rate}
    direction: down
    threshold: 0.6
    recovery_threshold: 0.65        # hysteresis: resolves only once back above 0.65
  - id: reports_doubling
    type: pct_change                # change against the same day compare_days before
    match: {metric: user_reports}
    threshold: 1.0                  # +100 % (down: -100 % ... as a positive fraction)
    compare_days: 7
    min_abs_impact: 20              # and at least 20 more reports
  - id: any_critical_series
    type: indicator_level           # the indicator's risk level (ok < elevated < high < critical)
    level: critical
    recovery_level: elevated        # resolves only once below elevated again
  - id: incident_cluster
    type: count_burst               # a sparse count's last days against the forecast: Poisson
    match: {metric: incidents}      #   tail of the window's total given its expected total
    window_days: 3                  # 1 to 7
    max_p: 0.001                    # that many would come by chance once in 1,000 windows
    min_abs_impact: 3               # and at least 3 more than expected over the window
  - id: detection_regression
    type: rate_shift                # a rate's last days pooled (numerators over denominators)
    match: {metric: proactive_rate} #   against the expected share, on its counts
    direction: down
    window_days: 2                  # 1 to 7
    max_p: 0.0001                   # that far out by chance once in 10,000 windows or less
  - id: series_silent
    type: absent                    # a series with data on most recent days has none today
    lookback_days: 28
    min_presence: 0.8               # data on at least 80 % of those days makes a gap news
    near_zero: 0                    # optional: a value at or below this counts as no data
    min_level: 10                   # judge only series whose recent median is at least 10: a
                                    #   day without a row is routine for a handful a day
```

Every rule can also carry:

```yaml
    renotify_days: 7                # remind while still firing, every 7 evaluated days (0: never)
    rebaseline_days: 7              # outside_interval, rate_shift: after 7 days open, a series
                                    #   inside the current band but beyond the opening bound
                                    #   is a level shift: said once, then judged against the
                                    #   current band
    max_open_days: 28               # resolve after 28 days without a fresh breach (0: never)
    min_significance: 5             # outside_interval, count_burst: a breach that weighs less
                                    #   (alerting/evaluation/significance.py) does not count
    escalate_at: 5                  # past this, severity rises to escalate_to and a notice goes
    escalate_to: critical           #   out at once (surprise score for outside_interval and
                                    #   indicator_level; otherwise the compared value)
    indicator: week_over_week       # judge a derived indicator of the matched series instead of
                                    #   the metric itself (risk_indicators.indicator)
    routes: [log, risk-slack]       # routes declared in channels.yaml beside this file
```

and ``recovery_threshold`` (``recovery_level`` for indicator_level):
a separate line the series must come back past before a firing alert resolves. Without it, an
outside_interval alert recovers against the band it broke out of, and the other types against
their own threshold.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from risk_pipelines.alerting.evaluation.matchers import Matcher, MatcherError, parse_matcher
from risk_pipelines.alerting.notification.routes import SEVERITIES, load_routes
from risk_pipelines.domain.series import SERIES_DIMENSIONS
from risk_pipelines.indicators.surprise import LEVEL_THRESHOLDS

RULE_TYPES = (
    "outside_interval", "forecast_crosses", "threshold", "pct_change", "indicator_level", "absent",
    "count_burst", "rate_shift",
)  # fmt: skip
# The score at which each risk level starts (indicators/surprise.py documents the levels).
LEVEL_SCORES = {level: score for level, score in LEVEL_THRESHOLDS}


class RuleError(ValueError):
    """An alert rule file that cannot be used; the message names the file, rule and field."""


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    severity: str
    match: dict[str, Matcher] = field(default_factory=dict)
    direction: str = "up"
    min_abs_impact: float = 0.0
    min_rel_impact: float = 0.0
    threshold: float | None = None
    within_days: int = 14
    bound: str = "upper"
    sustain: int = 1
    hold: int = 1
    routes: tuple[str, ...] = ("log",)
    owners: tuple[str, ...] = ()
    description: str = ""
    recovery_threshold: float | None = None
    compare_days: int = 7
    level: str | None = None
    recovery_level: str | None = None
    renotify_days: int = 7
    escalate_at: float | None = None
    escalate_to: str | None = None
    indicator: str | None = None
    lookback_days: int = 28
    min_presence: float = 0.8
    near_zero: float | None = None
    min_level: float = 0.0
    rebaseline_days: int = 7
    max_open_days: int = 28
    window_days: int = 3
    max_p: float = 0.001
    min_significance: float = 0.0

    def matches(self, dims: dict[str, str]) -> bool:
        return all(m.accepts(dims.get(k)) for k, m in self.match.items())

    def escalates(self, breach) -> bool:
        """Whether a breach is past ``escalate_at``, on the scale the rule compares: the
        surprise score for outside_interval, indicator_level, count_burst and rate_shift,
        else the observed value (the change as a positive fraction for pct_change)."""
        if self.escalate_at is None:
            return False
        if self.type in ("outside_interval", "indicator_level", "count_burst", "rate_shift"):
            value, up = breach.score, True
        elif self.type == "pct_change":
            value = breach.observed if self.direction == "up" else -breach.observed
            up = True
        else:
            value, up = breach.observed, self.direction == "up"
        if value is None:
            return False
        return value >= self.escalate_at if up else value <= self.escalate_at

    def recovery_value(self) -> float | None:
        """The line a firing alert's value must come back past to count as clean, on the scale
        of the value the rule compares; None: the bound in force when the alert opened."""
        if self.type == "indicator_level":
            return LEVEL_SCORES[self.recovery_level or self.level]
        line = self.recovery_threshold
        if self.type in ("threshold", "pct_change") and line is None:
            line = self.threshold
        if self.type == "pct_change" and line is not None and self.direction == "down":
            return -line
        return line


def load_rules(path: Path, known_routes: Collection[str] | None = None) -> list[Rule]:
    """``known_routes``: the routes of the channels.yaml beside the rules file by default."""
    path = Path(path)
    if known_routes is None:
        known_routes = list(load_routes(path.parent / "channels.yaml").routes)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuleError(f"{path}: alert rule file not found") from exc
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    return parse_rules(document, source=str(path), known_routes=known_routes)


def parse_rules(
    document: Any, source: str = "<rules>", known_routes: Collection[str] = ("log",)
) -> list[Rule]:
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleError(f"{source}: expected a mapping with a 'rules' list")
    rules, seen = [], set()
    for position, raw in enumerate(document["rules"], 1):
        where = f"{source}: rule #{position}"
        if not isinstance(raw, dict):
            raise RuleError(f"{where}: expected a mapping, got {type(raw).__name__}")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip():
            raise RuleError(f"{where}: 'id' is required (a non-empty string)")
        where = f"{source}: rule {rule_id!r}"
        if rule_id in seen:
            raise RuleError(f"{where}: duplicate id")
        seen.add(rule_id)
        rules.append(_parse_rule(raw, where, known_routes))
    return rules


_FIELDS = {
    "id",
    "type",
    "severity",
    "match",
    "direction",
    "min_abs_impact",
    "min_rel_impact",
    "threshold",
    "within_days",
    "bound",
    "sustain",
    "hold",
    "routes",
    "owners",
    "description",
    "recovery_threshold",
    "compare_days",
    "level",
    "recovery_level",
    "renotify_days",
    "escalate_at",
    "escalate_to",
    "indicator",
    "lookback_days",
    "min_presence",
    "near_zero",
    "min_level",
    "rebaseline_days",
    "max_open_days",
    "window_days",
    "max_p",
    "min_significance",
}


def _parse_rule(raw: dict, where: str, known_routes) -> Rule:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise RuleError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    rule_type = _choice(raw, "type", RULE_TYPES, where, required=True)
    severity = _choice(raw, "severity", SEVERITIES, where, required=True)
    direction = _choice(raw, "direction", ("up", "down"), where, default="up")
    bound = _choice(raw, "bound", ("yhat", "upper"), where, default="upper")
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        raise RuleError(f"{where}: 'match' must be a mapping of series dimensions")
    bad_dims = set(match) - set(SERIES_DIMENSIONS)
    if bad_dims:
        raise RuleError(
            f"{where}: match on unknown dimension(s) {sorted(bad_dims)}; "
            f"use {list(SERIES_DIMENSIONS)}"
        )
    match_values = {}
    for dimension, raw_match in match.items():
        try:
            match_values[dimension] = parse_matcher(raw_match)
        except MatcherError as exc:
            raise RuleError(f"{where}: match '{dimension}': {exc}") from None
    threshold = _number(raw, "threshold", where, default=None)
    if rule_type in ("forecast_crosses", "threshold", "pct_change") and threshold is None:
        raise RuleError(f"{where}: {rule_type} needs a numeric 'threshold'")
    if rule_type == "pct_change" and threshold <= 0:
        raise RuleError(
            f"{where}: pct_change 'threshold' is a positive fraction (0.5 = 50 %); the "
            f"direction says up or down, got {threshold}"
        )
    recovery = _number(raw, "recovery_threshold", where, default=None)
    if recovery is not None and threshold is not None:
        up = direction == "up" or rule_type == "pct_change"
        if (recovery > threshold) if up else (recovery < threshold):
            raise RuleError(
                f"{where}: 'recovery_threshold' {recovery:g} must lie on the safe side of "
                f"'threshold' {threshold:g} ({'at or below' if up else 'at or above'} it)"
            )
    if rule_type == "absent":
        direction = "down"  # present is 1, absent 0: below the line breaches
    elif any(k in raw for k in ("lookback_days", "min_presence", "near_zero", "min_level")):
        raise RuleError(
            f"{where}: 'lookback_days', 'min_presence', 'near_zero' and 'min_level' belong to "
            "absent rules"
        )
    if rule_type not in ("count_burst", "rate_shift") and ("window_days" in raw or "max_p" in raw):
        raise RuleError(f"{where}: 'window_days' and 'max_p' belong to count_burst, rate_shift")
    max_p = _number(raw, "max_p", where, default=0.001, minimum=0.0)
    if not 0 < max_p < 0.5:
        raise RuleError(f"{where}: 'max_p' is a probability between 0 and 0.5, got {max_p}")
    window = int(_number(raw, "window_days", where, default=3, minimum=1))
    if window > 7:
        raise RuleError(f"{where}: 'window_days' must be at most 7 (a week), got {window}")
    level = recovery_level = None
    if rule_type == "indicator_level":
        level = _choice(raw, "level", tuple(LEVEL_SCORES), where, required=True)
        recovery_level = _choice(raw, "recovery_level", (*LEVEL_SCORES, None), where, default=None)
        if recovery_level and LEVEL_SCORES[recovery_level] > LEVEL_SCORES[level]:
            raise RuleError(f"{where}: 'recovery_level' {recovery_level} is above 'level' {level}")
        direction = "up"  # scores are signed so that positive is the risky direction
    elif "level" in raw or "recovery_level" in raw:
        raise RuleError(f"{where}: 'level' and 'recovery_level' belong to indicator_level rules")
    routes = tuple(raw.get("routes") or ("log",))
    bad_routes = set(routes) - set(known_routes)
    if bad_routes:
        raise RuleError(
            f"{where}: unknown route(s) {sorted(bad_routes)}; known: {sorted(known_routes)} "
            "(routes are declared in channels.yaml)"
        )
    escalate_at = _number(raw, "escalate_at", where, default=None)
    escalate_to = _choice(raw, "escalate_to", (*SEVERITIES, None), where, default=None)
    if (escalate_at is None) != (escalate_to is None):
        raise RuleError(f"{where}: 'escalate_at' and 'escalate_to' go together")
    if escalate_to and SEVERITIES.index(escalate_to) <= SEVERITIES.index(severity):
        raise RuleError(
            f"{where}: 'escalate_to' {escalate_to} must be more severe than 'severity' {severity}"
        )
    indicator = raw.get("indicator")
    if indicator is not None and not isinstance(indicator, str):
        raise RuleError(f"{where}: 'indicator' must be a string (an indicator name)")
    return Rule(
        id=raw["id"],
        type=rule_type,
        severity=severity,
        match=match_values,
        direction=direction,
        min_abs_impact=_number(raw, "min_abs_impact", where, default=0.0, minimum=0.0),
        min_rel_impact=_number(raw, "min_rel_impact", where, default=0.0, minimum=0.0),
        threshold=threshold,
        within_days=int(_number(raw, "within_days", where, default=14, minimum=1)),
        bound=bound,
        sustain=int(_number(raw, "sustain", where, default=1, minimum=1)),
        hold=int(_number(raw, "hold", where, default=1, minimum=1)),
        routes=routes,
        owners=tuple(raw.get("owners") or ()),
        description=str(raw.get("description", "")),
        recovery_threshold=recovery,
        compare_days=int(_number(raw, "compare_days", where, default=7, minimum=1)),
        level=level,
        recovery_level=recovery_level,
        renotify_days=int(_number(raw, "renotify_days", where, default=7, minimum=0)),
        escalate_at=escalate_at,
        escalate_to=escalate_to,
        indicator=indicator,
        lookback_days=int(_number(raw, "lookback_days", where, default=28, minimum=7)),
        min_presence=_presence(raw, where),
        near_zero=_number(raw, "near_zero", where, default=None, minimum=0.0),
        min_level=_number(raw, "min_level", where, default=0.0, minimum=0.0),
        rebaseline_days=int(_number(raw, "rebaseline_days", where, default=7, minimum=1)),
        max_open_days=int(_number(raw, "max_open_days", where, default=28, minimum=0)),
        window_days=window,
        max_p=max_p,
        min_significance=_number(raw, "min_significance", where, default=0.0, minimum=0.0),
    )


def _presence(raw, where) -> float:
    value = _number(raw, "min_presence", where, default=0.8, minimum=0.0)
    if value > 1:
        raise RuleError(f"{where}: 'min_presence' is a share of days, 0 to 1; got {value}")
    return value


def _choice(raw, key, allowed, where, *, required=False, default=None):
    value = raw.get(key, default)
    if value is None and required:
        raise RuleError(f"{where}: '{key}' is required; one of {list(allowed)}")
    if value not in allowed:
        raise RuleError(f"{where}: '{key}' is {value!r}; expected one of {list(allowed)}")
    return value


def _number(raw, key, where, *, default, minimum=None):
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where}: '{key}' must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise RuleError(f"{where}: '{key}' must be >= {minimum}, got {value}")
    return float(value)

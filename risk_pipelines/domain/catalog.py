"""What each metric means: its kind (count, rate, duration) and which direction is risky.

Forecasting uses the kind to keep counts non-negative and rates inside [0, 1]; indicators use
the direction to score only the risky side of a surprise.
"""

from __future__ import annotations

from dataclasses import dataclass

from risk_pipelines.domain.taxonomy import ACTIONS, DETECTION_SOURCES, SEVERITIES


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # count | rate | duration
    direction: str  # up | down | both: which surprise is a risk
    description: str


_SPECS = [
    MetricSpec("decisions", "count", "up", "moderation decisions"),
    MetricSpec(
        "user_reports",
        "count",
        "up",
        "decisions that started from a user or trusted-flagger report",
    ),
    MetricSpec(
        "proactive_rate", "rate", "down", "share of actioned content found by automated detection"
    ),
    MetricSpec("removals", "count", "up", "decisions that removed content"),
    MetricSpec("appeals", "count", "up", "actioned decisions appealed"),
    MetricSpec(
        "overturn_rate", "rate", "up", "share of decided appeals that overturned the decision"
    ),
    MetricSpec("median_hours_to_action", "duration", "up", "median hours from report to decision"),
    MetricSpec("zero_view_removal_rate", "rate", "down", "share of removals made before any view"),
    MetricSpec("incidents", "count", "up", "incidents detected"),
    MetricSpec("enforcement_yield", "rate", "both", "share of reports that led to an action"),
    MetricSpec("automated_share", "rate", "both", "share of decisions taken fully automatically"),
    MetricSpec("removed_within_24h_rate", "rate", "down", "share of reported removals within 24 h"),
    MetricSpec("appeal_rate", "rate", "up", "share of actioned decisions appealed"),
    MetricSpec(
        "automated_error_rate",
        "rate",
        "up",
        "error proxy: overturned fully-automated decisions / fully-automated decisions",
    ),
    MetricSpec("trusted_flagger_share", "rate", "both", "share of reports from trusted flaggers"),
    MetricSpec(
        "severity_weighted_incidents",
        "count",
        "up",
        "incidents weighted by severity (sev0 20, sev1 10, sev2 4, sev3 1, sev4 0.25)",
    ),
    MetricSpec("incident_mttd_hours", "duration", "up", "median hours from start to detection"),
    MetricSpec(
        "incident_mttr_hours", "duration", "up", "median hours from detection to resolution"
    ),
    MetricSpec(
        "proactive_incident_share", "rate", "down", "share of incidents detected proactively"
    ),
    # Peer data from the DSA Transparency Database (sources/dsa_metrics.py).
    MetricSpec("dsa_statements", "count", "both", "DSA statements of reasons submitted"),
    MetricSpec(
        "dsa_automated_detection_rate",
        "rate",
        "both",
        "share of DSA statements with automated_detection = Yes (notices included)",
    ),
    MetricSpec(
        "dsa_own_initiative_rate",
        "rate",
        "both",
        "share of DSA statements acted on without a notice (source_type SOURCE_VOLUNTARY)",
    ),
    MetricSpec(
        "dsa_fully_automated_rate",
        "rate",
        "both",
        "share of DSA statements decided fully automatically",
    ),
    MetricSpec(
        "dsa_moderation_delay_days",
        "duration",
        "up",
        "median whole days from the content's date to the DSA decision",
    ),
    MetricSpec(
        "dsa_illegal_content_rate",
        "rate",
        "both",
        "share of DSA statements on illegal content (the rest: terms and conditions)",
    ),
    *[MetricSpec(f"actions_{a}", "count", "up", f"decisions with action {a}") for a in ACTIONS],
    *[
        MetricSpec(f"detections_{s}", "count", "up", f"decisions detected by {s}")
        for s in DETECTION_SOURCES
    ],
    *[
        MetricSpec(f"incidents_{s}", "count", "up", f"incidents of severity {s}")
        for s in SEVERITIES
    ],
]
CATALOG: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}


def spec_for(metric: str) -> MetricSpec:
    """Known metrics from the catalogue; landed metrics we do not know are counts, risky upward,
    unless their name says rate."""
    if metric in CATALOG:
        return CATALOG[metric]
    kind = "rate" if metric.endswith("_rate") or metric.endswith("_share") else "count"
    return MetricSpec(metric, kind, "up", "pre-aggregated upstream metric")

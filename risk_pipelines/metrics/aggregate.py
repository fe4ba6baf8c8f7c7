"""Grouped counts -> daily metric series (docs/architecture.md, "Daily metric series").

The counting happens in the database (``warehouse.aggregates``); this module decides what the
series are: which rates, which zero-filled combinations, which dimensions say ``all``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from risk_pipelines.domain.series import add_series_key
from risk_pipelines.domain.taxonomy import ACTIONS, ALL, DETECTION_SOURCES, SEVERITIES
from risk_pipelines.warehouse.aggregates import DecisionAggregates

METRIC_COLUMNS = [
    "ds",
    "metric",
    "platform",
    "policy_category",
    "region",
    "surface",
    "value",
    "numerator",
    "denominator",
]
OVERALL = {"policy_category": ALL, "region": ALL, "surface": ALL}


def derive_decision_metrics(agg: DecisionAggregates, days: Sequence) -> pd.DataFrame:
    """Counts and rates per day. Every day x every category x region the platform has gets a
    row (a quiet day is a zero, not a gap); a rate with no denominator is not emitted."""
    if agg.by_platform.empty:
        return _empty()
    days = sorted(days)
    frames = []

    region = _fill(agg.by_region, days, ["platform", "policy_category", "region"])
    frames += [
        _counts(region, "decisions", surface=ALL),
        _counts(region, "user_reports", column="reported", surface=ALL),
        _rate(region, "proactive_rate", "proactive", "actioned", surface=ALL),
    ]
    category = _fill(agg.by_category, days, ["platform", "policy_category"])
    frames += [
        _counts(category, "removals", column="removed", region=ALL, surface=ALL),
        _counts(category, "appeals", column="appealed", region=ALL, surface=ALL),
        _rate(category, "overturn_rate", "overturned", "appeal_decided", region=ALL, surface=ALL),
        _rate(
            category,
            "zero_view_removal_rate",
            "zero_view_removal",
            "removed_with_views",
            region=ALL,
            surface=ALL,
        ),
    ]
    frames += _enforcement_rates(category, region=ALL, surface=ALL)
    hours = agg.hours_to_action.groupby(["ds", "platform", "policy_category"])["hours"]
    median = pd.DataFrame({"value": hours.median(), "denominator": hours.size()}).reset_index()
    frames.append(median.assign(metric="median_hours_to_action", region=ALL, surface=ALL))

    # Platform-wide figures for leadership, and rates thick enough to forecast.
    platform = _fill(agg.by_platform, days, ["platform"])
    frames += [
        _counts(platform, "user_reports", column="reported", **OVERALL),
        _rate(platform, "proactive_rate", "proactive", "actioned", **OVERALL),
        _rate(platform, "overturn_rate", "overturned", "appeal_decided", **OVERALL),
        _rate(
            platform, "zero_view_removal_rate", "zero_view_removal", "removed_with_views", **OVERALL
        ),
    ]
    frames += _enforcement_rates(platform, **OVERALL)
    surfaces = _fill(agg.by_surface, days, ["platform", "surface"])
    frames.append(_counts(surfaces, "decisions", policy_category=ALL, region=ALL))
    frames.append(_one_hot(agg.by_action, days, "action", ACTIONS, "actions_"))
    frames.append(
        _one_hot(
            agg.by_detection_source, days, "detection_source", DETECTION_SOURCES, "detections_"
        )
    )
    return _finish(frames)


# Rates of the enforcement funnel, per policy category and platform-wide: (metric, numerator,
# denominator) as named in DecisionAggregates.
ENFORCEMENT_RATES = (
    ("enforcement_yield", "actioned_reported", "reported"),
    ("automated_share", "automated", "decisions"),
    ("removed_within_24h_rate", "removed_within_24h", "removed_reported"),
    ("appeal_rate", "appealed", "actioned"),
    ("automated_error_rate", "automated_overturned", "automated"),
    ("trusted_flagger_share", "trusted_flagged", "reported"),
)


def _enforcement_rates(frame: pd.DataFrame, **dims) -> list[pd.DataFrame]:
    return [
        _rate(frame, metric, numerator, denominator, **dims)
        for metric, numerator, denominator in ENFORCEMENT_RATES
        if numerator in frame and denominator in frame
    ]


# Weights of the severity-weighted incident count: a sev0 weighs as much as ten sev3s.
SEVERITY_WEIGHTS = {"sev0": 20.0, "sev1": 10.0, "sev2": 4.0, "sev3": 1.0, "sev4": 0.25}


def derive_incident_outcomes(details: pd.DataFrame, days: Sequence, platform: str) -> pd.DataFrame:
    """Platform-wide, per day of detection: severity-weighted incidents, median hours to
    detect (MTTD: started -> detected) and to resolve (MTTR: detected -> resolved, over the
    incidents resolved so far), and the share detected proactively."""
    days = sorted(days)
    if details.empty:
        details = pd.DataFrame(columns=["ds", "platform", "severity", "detection_source",
                                        "started_at", "detected_at", "resolved_at"])  # fmt: skip
    details = details.assign(
        **{c: pd.to_datetime(details[c]) for c in ("started_at", "detected_at", "resolved_at")}
    )
    frame = details.assign(
        weight=details["severity"].map(SEVERITY_WEIGHTS).fillna(1.0),
        proactive=(details["detection_source"] == "proactive").astype(int),
        detect_hours=(details["detected_at"] - details["started_at"]).dt.total_seconds() / 3600,
        resolve_hours=(details["resolved_at"] - details["detected_at"]).dt.total_seconds() / 3600,
    )
    grouped = frame.groupby("ds")
    index = pd.Index(days, name="ds")
    n = grouped.size().reindex(index, fill_value=0)
    weighted = grouped["weight"].sum().reindex(index, fill_value=0.0)
    proactive = grouped["proactive"].sum().reindex(index, fill_value=0)
    mttd = grouped["detect_hours"].median().reindex(index)
    mttr = grouped["resolve_hours"].median().reindex(index)
    resolved = grouped["resolve_hours"].count().reindex(index, fill_value=0)
    out = [
        pd.DataFrame({"value": weighted, "metric": "severity_weighted_incidents"}),
        pd.DataFrame({"value": mttd, "denominator": n, "metric": "incident_mttd_hours"}),
        pd.DataFrame({"value": mttr, "denominator": resolved, "metric": "incident_mttr_hours"}),
        pd.DataFrame({"value": proactive / n.where(n > 0), "numerator": proactive,
                      "denominator": n, "metric": "proactive_incident_share"}),
    ]  # fmt: skip
    frames = [f.reset_index().dropna(subset=["value"]).assign(platform=platform, **OVERALL)
              for f in out]  # fmt: skip
    return _finish(frames)


def derive_incident_metrics(counts: pd.DataFrame, days: Sequence, platform: str) -> pd.DataFrame:
    """Incidents by day and severity; every severity gets a row every day (zeros included)."""
    if counts.empty:
        counts = pd.DataFrame(
            {"ds": [sorted(days)[0]], "platform": [platform], "severity": [SEVERITIES[0]], "n": [0]}
        )
    total = counts.groupby(["ds", "platform"], as_index=False)["n"].sum()
    total = _fill(total.rename(columns={"n": "value"}), sorted(days), ["platform"])
    frames = [total.assign(metric="incidents", **OVERALL)]
    frames.append(
        _one_hot(
            counts.rename(columns={"n": "decisions"}), days, "severity", SEVERITIES, "incidents_"
        )
    )
    return _finish(frames)


def _fill(frame: pd.DataFrame, days, keys: list[str]) -> pd.DataFrame:
    """Reindex to every day x every combination of the platform's own dimension values."""
    combos = []
    for platform, group in frame.groupby("platform", sort=True):
        values = [sorted(group[k].unique()) for k in keys[1:]]
        combos += [(platform, *rest) for rest in itertools.product(*values)]
    index = pd.MultiIndex.from_tuples(
        [(day, *combo) for day in days for combo in combos], names=["ds", *keys]
    )
    return frame.set_index(["ds", *keys]).reindex(index, fill_value=0).reset_index()


def _counts(frame: pd.DataFrame, metric: str, *, column: str | None = None, **dims) -> pd.DataFrame:
    keys = [c for c in ("ds", "platform", "policy_category", "region", "surface") if c in frame]
    out = frame[keys].assign(value=frame[column or metric])
    return out.assign(metric=metric, **dims)


def _rate(frame: pd.DataFrame, metric: str, numerator: str, denominator: str, **dims):
    keys = [c for c in ("ds", "platform", "policy_category", "region") if c in frame]
    out = frame[keys].assign(numerator=frame[numerator], denominator=frame[denominator])
    out = out[out["denominator"] > 0]
    return out.assign(value=out["numerator"] / out["denominator"], metric=metric, **dims)


def _one_hot(frame: pd.DataFrame, days, column: str, values, prefix: str) -> pd.DataFrame:
    platforms = sorted(frame["platform"].unique())
    index = pd.MultiIndex.from_tuples(
        [(d, p, v) for d in sorted(days) for p in platforms for v in values],
        names=["ds", "platform", column],
    )
    counts = frame.set_index(["ds", "platform", column])["decisions"]
    counts = counts.groupby(level=[0, 1, 2]).sum().reindex(index, fill_value=0).reset_index()
    counts["metric"] = prefix + counts.pop(column)
    return counts.rename(columns={"decisions": "value"}).assign(**OVERALL)


def _empty() -> pd.DataFrame:
    return add_series_key(pd.DataFrame(columns=METRIC_COLUMNS))


def _finish(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True)
    for column in ("numerator", "denominator"):
        if column not in out:
            out[column] = float("nan")
    out = out[METRIC_COLUMNS]
    for column in ("value", "numerator", "denominator"):
        out[column] = out[column].astype("float64")
    out["source"] = "derived"
    return add_series_key(out).sort_values(["ds", "unique_id"], ignore_index=True)

"""Raw decisions and incidents -> daily metric series (DESIGN.md "Daily metric series")."""

from __future__ import annotations

import itertools

import pandas as pd

from risk_pipelines.metrics.series import add_series_key
from risk_pipelines.taxonomy import ACTIONS, ALL, DETECTION_SOURCES, REPORT_SOURCES, SEVERITIES

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


def derive_decision_metrics(decisions: pd.DataFrame) -> pd.DataFrame:
    """Counts and rates per day. Combinations seen in the batch but absent on a day count 0
    (a day without reports is a zero, not a gap); a rate with no denominator is not emitted."""
    if decisions.empty:
        return _empty()
    d = decisions.assign(
        actioned=decisions["action"] != "no_violation",
        reported=decisions["detection_source"].isin(REPORT_SOURCES),
        removed=decisions["action"] == "removed",
    )
    d["proactive"] = d["actioned"] & (d["detection_source"] == "automated")
    d["overturned"] = d["appeal_outcome"] == "overturned"
    d["appeal_decided"] = d["appeal_outcome"].isin(["upheld", "overturned"])
    d["zero_view_removal"] = d["removed"] & (d["views_before_action"] == 0).fillna(False)
    d["removed_with_views"] = d["removed"] & d["views_before_action"].notna()
    d["hours_to_action"] = (d["decided_at"] - d["reported_at"]).dt.total_seconds() / 3600.0

    days = sorted(d["ds"].unique())
    frames = []

    by_region = _grid(d, days, ["platform", "policy_category", "region"])
    g = d.groupby(["ds", "platform", "policy_category", "region"])
    sums = g[["actioned", "reported", "proactive"]].sum()
    sums["decisions"] = g.size()
    sums = sums.reindex(by_region, fill_value=0)
    frames.append(_counts(sums, "decisions", surface=ALL))
    frames.append(_counts(sums, "user_reports", column="reported", surface=ALL))
    frames.append(_rate(sums, "proactive_rate", "proactive", "actioned", surface=ALL))

    by_category = _grid(d, days, ["platform", "policy_category"])
    g = d.groupby(["ds", "platform", "policy_category"])
    sums = (
        g[
            [
                "removed",
                "appealed",
                "overturned",
                "appeal_decided",
                "zero_view_removal",
                "removed_with_views",
            ]
        ]
        .sum()
        .reindex(by_category, fill_value=0)
    )
    frames.append(_counts(sums, "removals", column="removed", region=ALL, surface=ALL))
    frames.append(_counts(sums, "appeals", column="appealed", region=ALL, surface=ALL))
    frames.append(
        _rate(sums, "overturn_rate", "overturned", "appeal_decided", region=ALL, surface=ALL)
    )
    frames.append(
        _rate(
            sums,
            "zero_view_removal_rate",
            "zero_view_removal",
            "removed_with_views",
            region=ALL,
            surface=ALL,
        )
    )
    reported = d[d["hours_to_action"].notna()]
    hours = reported.groupby(["ds", "platform", "policy_category"])["hours_to_action"]
    median = pd.DataFrame({"value": hours.median(), "denominator": hours.size()}).reset_index()
    median = median.assign(
        metric="median_hours_to_action", region=ALL, surface=ALL, numerator=float("nan")
    )
    frames.append(median)

    # Platform-wide figures for leadership, and rates thick enough to forecast.
    platforms = _grid(d, days, ["platform"])
    g = d.groupby(["ds", "platform"])
    sums = (
        g[
            [
                "reported",
                "actioned",
                "proactive",
                "overturned",
                "appeal_decided",
                "zero_view_removal",
                "removed_with_views",
            ]
        ]
        .sum()
        .reindex(platforms, fill_value=0)
    )
    overall = {"policy_category": ALL, "region": ALL, "surface": ALL}
    frames.append(_counts(sums, "user_reports", column="reported", **overall))
    frames.append(_rate(sums, "proactive_rate", "proactive", "actioned", **overall))
    frames.append(_rate(sums, "overturn_rate", "overturned", "appeal_decided", **overall))
    frames.append(
        _rate(sums, "zero_view_removal_rate", "zero_view_removal", "removed_with_views", **overall)
    )
    surfaces = d.groupby(["ds", "platform", "surface"]).size().rename("value")
    surface_grid = pd.MultiIndex.from_tuples(
        [(ds, p, s) for ds, p in platforms for s in sorted(d["surface"].unique())],
        names=["ds", "platform", "surface"],
    )
    surfaces = surfaces.reindex(surface_grid, fill_value=0).reset_index()
    frames.append(surfaces.assign(metric="decisions", policy_category=ALL, region=ALL))
    frames.append(_one_hot_counts(d, platforms, "action", ACTIONS, "actions_"))
    frames.append(
        _one_hot_counts(d, platforms, "detection_source", DETECTION_SOURCES, "detections_")
    )
    return _finish(frames)


def derive_incident_metrics(incidents: pd.DataFrame, days, platform: str) -> pd.DataFrame:
    """Incidents by day and severity; every severity gets a row every day (zeros included)."""
    platforms = pd.MultiIndex.from_tuples(
        [(pd.Timestamp(day).date(), platform) for day in days], names=["ds", "platform"]
    )
    if not incidents.empty:
        extra = set(zip(incidents["ds"], incidents["platform"], strict=True)) - set(platforms)
        platforms = platforms.append(
            pd.MultiIndex.from_tuples(sorted(extra), names=platforms.names)
        )
    total = (
        incidents.groupby(["ds", "platform"]).size().rename("value")
        if not incidents.empty
        else pd.Series(dtype="int64", name="value")
    )
    total = total.reindex(platforms, fill_value=0).reset_index()
    frames = [total.assign(metric="incidents", policy_category=ALL, region=ALL, surface=ALL)]
    frames.append(_one_hot_counts(incidents, platforms, "severity", SEVERITIES, "incidents_"))
    return _finish(frames)


def _grid(d: pd.DataFrame, days, keys: list[str]) -> pd.MultiIndex:
    """Every day x every combination of the platform's own dimension values (categories x
    regions it has), so a quiet combination on a day is a zero rather than a missing day."""
    combos = []
    for platform, group in d.groupby("platform", sort=True):
        values = [sorted(group[k].unique()) for k in keys[1:]]
        combos += [(platform, *rest) for rest in itertools.product(*values)]
    return pd.MultiIndex.from_tuples(
        [(day, *combo) for day in days for combo in combos], names=["ds", *keys]
    )


def _counts(sums: pd.DataFrame, metric: str, *, column: str | None = None, **dims) -> pd.DataFrame:
    frame = sums[[column or metric]].rename(columns={column or metric: "value"}).reset_index()
    return frame.assign(metric=metric, **dims)


def _rate(
    sums: pd.DataFrame, metric: str, numerator: str, denominator: str, **dims
) -> pd.DataFrame:
    frame = (
        sums[[numerator, denominator]]
        .rename(columns={numerator: "numerator", denominator: "denominator"})
        .reset_index()
    )
    frame = frame[frame["denominator"] > 0]
    frame = frame.assign(value=frame["numerator"] / frame["denominator"], metric=metric, **dims)
    return frame


def _one_hot_counts(frame, platforms: pd.MultiIndex, column, values, prefix) -> pd.DataFrame:
    grid = pd.MultiIndex.from_tuples(
        [(*key, v) for key in platforms for v in values], names=["ds", "platform", column]
    )
    if frame.empty:
        counts = pd.Series(0, index=grid, name="value")
    else:
        counts = frame.groupby(["ds", "platform", column]).size().rename("value")
        counts = counts.reindex(grid, fill_value=0)
    counts = counts.reset_index()
    counts["metric"] = prefix + counts.pop(column)
    return counts.assign(policy_category=ALL, region=ALL, surface=ALL)


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

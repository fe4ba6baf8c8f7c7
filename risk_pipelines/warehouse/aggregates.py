"""Aggregations pushed into the database where the raw rows already are.

Deriving daily metrics from millions of decisions by reading them back into pandas costs more
than the ingest itself; the database returns a few hundred grouped rows per day instead. Every
expression is portable SQL except hours-to-action, which needs each dialect's date arithmetic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.domain.taxonomy import REPORT_SOURCES
from risk_pipelines.warehouse.schema import incidents, moderation_decisions
from risk_pipelines.warehouse.store import Warehouse


@dataclass
class DecisionAggregates:
    by_region: pd.DataFrame  # ds, platform, policy_category, region: decisions, reported, ...
    by_category: pd.DataFrame  # ds, platform, policy_category: removed, appealed, ...
    by_platform: pd.DataFrame  # ds, platform: all of the above
    by_surface: pd.DataFrame  # ds, platform, surface: n
    by_action: pd.DataFrame  # ds, platform, action: n
    by_detection_source: pd.DataFrame  # ds, platform, detection_source: n
    hours_to_action: pd.DataFrame  # ds, platform, policy_category, hours (reported rows only)


def _flag(condition) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def decision_aggregates(warehouse: Warehouse, first: dt.date, last: dt.date) -> DecisionAggregates:
    t = moderation_decisions
    actioned = t.c.action != "no_violation"
    removed = t.c.action == "removed"
    reported = t.c.detection_source.in_(REPORT_SOURCES)
    automated = t.c.automated_decision == "fully"
    hours = _hours_to_action(warehouse)
    sums = {
        "decisions": sa.func.count(),
        "reported": _flag(t.c.detection_source.in_(REPORT_SOURCES)),
        "actioned": _flag(actioned),
        "proactive": _flag(sa.and_(actioned, t.c.detection_source == "automated")),
        "removed": _flag(removed),
        "appealed": _flag(t.c.appealed),
        "overturned": _flag(t.c.appeal_outcome == "overturned"),
        "appeal_decided": _flag(t.c.appeal_outcome.in_(["upheld", "overturned"])),
        "zero_view_removal": _flag(sa.and_(removed, t.c.views_before_action == 0)),
        "removed_with_views": _flag(sa.and_(removed, t.c.views_before_action.is_not(None))),
        "actioned_reported": _flag(sa.and_(actioned, reported)),
        "automated": _flag(automated),
        "automated_overturned": _flag(sa.and_(automated, t.c.appeal_outcome == "overturned")),
        "trusted_flagged": _flag(t.c.detection_source == "trusted_flagger"),
        "removed_reported": _flag(sa.and_(removed, t.c.reported_at.is_not(None))),
        "removed_within_24h": _flag(sa.and_(removed, t.c.reported_at.is_not(None), hours <= 24.0)),
    }
    in_range = t.c.ds.between(first, last)

    def grouped(keys: list[str], measures: list[str]) -> pd.DataFrame:
        columns = [t.c[k] for k in keys]
        query = (
            sa.select(*columns, *[sums[m].label(m) for m in measures])
            .where(in_range)
            .group_by(*columns)
        )
        frame = warehouse.read_query(query)
        frame["ds"] = frame["ds"].dt.date
        for m in measures:
            frame[m] = frame[m].astype("int64")
        return frame

    region_measures = ["decisions", "reported", "actioned", "proactive"]
    category_measures = [
        "removed",
        "appealed",
        "overturned",
        "appeal_decided",
        "zero_view_removal",
        "removed_with_views",
        "actioned_reported",
        "automated",
        "automated_overturned",
        "trusted_flagged",
        "removed_reported",
        "removed_within_24h",
    ]
    hours_query = sa.select(t.c.ds, t.c.platform, t.c.policy_category, hours.label("hours")).where(
        in_range, t.c.reported_at.is_not(None)
    )
    hours_frame = warehouse.read_query(hours_query)
    hours_frame["ds"] = hours_frame["ds"].dt.date
    hours_frame["hours"] = hours_frame["hours"].astype("float64")
    # Each scan of a large table costs seconds: scan twice at a fine grain and add the counts
    # up in pandas (every measure is additive).
    measures = region_measures + category_measures
    fine = grouped(["ds", "platform", "policy_category", "region"], measures)
    kinds = grouped(["ds", "platform", "surface", "action", "detection_source"], ["decisions"])

    def rollup(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
        return frame.groupby(keys, as_index=False, sort=True)[columns].sum()

    return DecisionAggregates(
        by_region=fine[["ds", "platform", "policy_category", "region", *region_measures]],
        by_category=rollup(fine, ["ds", "platform", "policy_category"], category_measures),
        by_platform=rollup(fine, ["ds", "platform"], measures),
        by_surface=rollup(kinds, ["ds", "platform", "surface"], ["decisions"]),
        by_action=rollup(kinds, ["ds", "platform", "action"], ["decisions"]),
        by_detection_source=rollup(kinds, ["ds", "platform", "detection_source"], ["decisions"]),
        hours_to_action=hours_frame,
    )


def _hours_to_action(warehouse: Warehouse) -> sa.ColumnElement:
    t = moderation_decisions
    if warehouse.dialect == "sqlite":
        return (sa.func.julianday(t.c.decided_at) - sa.func.julianday(t.c.reported_at)) * 24.0
    return sa.extract("epoch", t.c.decided_at - t.c.reported_at) / 3600.0


def incident_details(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """One row per incident detected in the range (a few a day): what MTTD, MTTR, the
    severity-weighted count and the proactive share are computed from."""
    t = incidents
    query = sa.select(
        t.c.ds, t.c.platform, t.c.policy_category, t.c.severity, t.c.detection_source,
        t.c.started_at, t.c.detected_at, t.c.resolved_at,
    ).where(t.c.ds.between(first, last))  # fmt: skip
    frame = warehouse.read_query(query)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    for column in ("started_at", "detected_at", "resolved_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def incident_counts(warehouse: Warehouse, first: dt.date, last: dt.date) -> pd.DataFrame:
    """ds, platform, severity, n."""
    t = incidents
    query = (
        sa.select(t.c.ds, t.c.platform, t.c.severity, sa.func.count().label("n"))
        .where(t.c.ds.between(first, last))
        .group_by(t.c.ds, t.c.platform, t.c.severity)
    )
    frame = warehouse.read_query(query)
    frame["ds"] = frame["ds"].dt.date
    frame["n"] = frame["n"].astype("int64")
    return frame


# Count metrics derived straight from decisions, and the rows each one counts: root cause can
# break a leaf series (no finer series stored) down by any other column of the raw table.
DECISION_COUNT_FILTERS = {
    "decisions": lambda t: sa.true(),
    "user_reports": lambda t: t.c.detection_source.in_(REPORT_SOURCES),
    "removals": lambda t: t.c.action == "removed",
    "appeals": lambda t: t.c.appealed,
}


# Rates whose numerator and denominator root cause can split the same way: (numerator rows,
# denominator rows) of the raw table.
DECISION_RATE_PARTS = {
    "proactive_rate": (
        lambda t: sa.and_(t.c.action != "no_violation", t.c.detection_source == "automated"),
        lambda t: t.c.action != "no_violation",
    ),
    "overturn_rate": (
        lambda t: t.c.appeal_outcome == "overturned",
        lambda t: t.c.appeal_outcome.in_(["upheld", "overturned"]),
    ),
}


def decision_breakdown(
    warehouse: Warehouse,
    metric: str,
    dims: dict[str, str],
    by: str,
    days: list[dt.date],
) -> pd.DataFrame:
    """ds, ``by``, n (and d, the denominator, for a rate): the raw rows behind one series on
    ``days``, split by ``by`` (e.g. surface). Empty for a metric not counted from decisions
    or incidents."""
    if metric.startswith("incidents"):
        return _incident_breakdown(warehouse, metric, by, days)
    t = moderation_decisions
    if metric in DECISION_COUNT_FILTERS:
        measures = [sa.func.count().label("n")]
        conditions = [DECISION_COUNT_FILTERS[metric](t)]
    elif metric in DECISION_RATE_PARTS:
        numerator, denominator = DECISION_RATE_PARTS[metric]
        measures = [_flag(numerator(t)).label("n"), _flag(denominator(t)).label("d")]
        conditions = []
    else:
        return pd.DataFrame(columns=["ds", by, "n"])
    conditions.append(t.c.ds.in_(days))
    for key in ("platform", "policy_category", "region", "surface"):
        if dims.get(key, "all") != "all":
            conditions.append(t.c[key] == dims[key])
    query = sa.select(t.c.ds, t.c[by], *measures).where(*conditions).group_by(t.c.ds, t.c[by])
    frame = warehouse.read_query(query)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    return frame


def _incident_breakdown(warehouse, metric: str, by: str, days: list[dt.date]) -> pd.DataFrame:
    t = incidents
    if by not in ("policy_category", "region", "detection_source"):
        return pd.DataFrame(columns=["ds", by, "n"])
    conditions = [t.c.ds.in_(days)]
    severity = metric.removeprefix("incidents_")
    if severity != metric:
        conditions.append(t.c.severity == severity)
    query = (
        sa.select(t.c.ds, t.c[by], sa.func.count().label("n"))
        .where(*conditions)
        .group_by(t.c.ds, t.c[by])
    )
    frame = warehouse.read_query(query)
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    return frame

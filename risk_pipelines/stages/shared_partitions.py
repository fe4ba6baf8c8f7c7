"""Two sources share the daily partitions of two tables: our own feed (landing files) and the
EU DSA dumps. Each rewrites only its own rows of a day, so loading one never deletes the other's.
This module is the one place that says which rows are whose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from risk_pipelines.sources.dsa import DSA_SOURCE_PREFIX
from risk_pipelines.sources.dsa_metrics import SOURCE as DSA_METRIC_SOURCE
from risk_pipelines.warehouse.schema import TABLES

# Followed DSA platforms' statements are kept in moderation_decisions with this file prefix.
_DSA_FILES = f"{DSA_SOURCE_PREFIX}%"
# Our own feed's series in daily_metrics: derived from the raw tables, or landed pre-aggregated.
OWN_METRIC_SOURCES = ("derived", "landed")


def own_feed_scope(table: str, days: Sequence[dt.date]) -> dict[str, Any]:
    """``replace_rows`` options that rewrite our own feed's rows of ``days`` in ``table``."""
    if table == "moderation_decisions":
        return {"where": {"ds": list(days)}, "not_like": {"source_file": _DSA_FILES}}
    if table == "daily_metrics":
        return {"where": {"ds": list(days), "source": list(OWN_METRIC_SOURCES)}}
    return {"where": {"ds": list(days)}}


def dsa_scope(table: str, day: dt.date) -> dict[str, Any]:
    """``replace_rows`` options that rewrite the DSA source's rows of ``day`` in ``table``."""
    if table == "moderation_decisions":
        return {"where": {"ds": day}, "like": {"source_file": _DSA_FILES}}
    if table == "daily_metrics":
        return {"where": {"ds": day, "source": DSA_METRIC_SOURCE}}
    return {"where": {"ds": day}}


def landed_history(table: str) -> sa.ColumnElement[bool] | None:
    """The rows a landing dataset's volume and mix checks compare a new day against: what that
    dataset itself landed before (not the DSA's rows, nor series derived from it)."""
    t = TABLES[table]
    if table == "moderation_decisions":
        return sa.not_(t.c.source_file.like(_DSA_FILES))
    if table == "daily_metrics":
        return t.c.source == "landed"
    return None

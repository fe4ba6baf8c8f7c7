"""Moderation decisions: one row per decision, ids kept only as keyed hashes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from risk_pipelines.sources.hashing import hash_column
from risk_pipelines.sources.landing.batch import LandingBatch, read_dataset
from risk_pipelines.sources.landing.columns import (
    DECISION_REQUIRED,
    boolean_column,
    number_column,
    reject_duplicates,
    reject_formula_like,
    require_text,
    text_column,
    timestamp_column,
)
from risk_pipelines.sources.landing.rejects import Rejects


def read_moderation_decisions(
    landing_dir: Path,
    days: Sequence[dt.date],
    *,
    platform: str,
    hash_key: str,
    loaded_ids: pd.Series | None = None,
) -> LandingBatch:
    """``loaded_ids`` maps event ids already in the warehouse (other partitions) to their day,
    so a re-delivered file is quarantined rather than loaded twice."""
    return read_dataset(
        landing_dir,
        "moderation_decisions",
        days,
        lambda raw, rejects: _normalise_decisions(raw, rejects, platform, hash_key, loaded_ids),
        DECISION_REQUIRED,
        hash_key=hash_key,
    )


def _normalise_decisions(raw, rejects: Rejects, platform, hash_key, loaded_ids) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    out["ds"] = raw["_day"]
    out["event_id"] = text_column(raw, "event_id", lower=False)
    require_text(out["event_id"], "event_id", rejects)
    reject_formula_like(out["event_id"], "event_id", rejects)
    out["decided_at"] = timestamp_column(raw, "decided_at", rejects, required=True)
    out["reported_at"] = timestamp_column(raw, "reported_at", rejects, required=False)
    out["content_created_at"] = timestamp_column(raw, "content_created_at", rejects, required=False)
    for column in (
        "policy_category",
        "region",
        "surface",
        "detection_source",
        "action",
        "automated_decision",
    ):
        out[column] = text_column(raw, column, lower=column != "region")
        require_text(out[column], column, rejects)
    out["region"] = out["region"].str.upper()
    out["views_before_action"] = number_column(
        raw, "views_before_action", rejects, required=False, integer=True
    ).astype("Int64")
    out["appealed"] = boolean_column(raw, "appealed", rejects)
    out["appeal_outcome"] = text_column(raw, "appeal_outcome")
    out["platform"] = text_column(raw, "platform", lower=False).fillna(platform)
    out["user_id_hash"] = hash_column(text_column(raw, "user_id", lower=False), hash_key)
    out["content_id_hash"] = hash_column(text_column(raw, "content_id", lower=False), hash_key)
    out["source_file"] = raw["source_file"]
    out["source_row"] = raw["source_row"]
    reject_duplicates(raw, out["event_id"], "event_id", rejects, loaded_ids)
    return out.loc[~rejects.bad]

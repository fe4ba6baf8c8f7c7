"""Incidents: one row per incident, on the UTC day it was detected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from risk_pipelines.sources.landing.batch import LandingBatch, read_dataset
from risk_pipelines.sources.landing.columns import (
    INCIDENT_REQUIRED,
    reject_duplicates,
    require_text,
    text_column,
    timestamp_column,
)
from risk_pipelines.sources.landing.rejects import Rejects


def read_incidents(
    landing_dir: Path,
    days: Sequence[dt.date],
    *,
    platform: str,
    loaded_ids: pd.Series | None = None,
) -> LandingBatch:
    return read_dataset(
        landing_dir,
        "incidents",
        days,
        lambda raw, rejects: _normalise_incidents(raw, rejects, platform, loaded_ids),
        INCIDENT_REQUIRED,
    )


def _normalise_incidents(raw, rejects: Rejects, platform, loaded_ids) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    out["ds"] = raw["_day"]
    out["incident_id"] = text_column(raw, "incident_id", lower=False)
    require_text(out["incident_id"], "incident_id", rejects)
    out["started_at"] = timestamp_column(raw, "started_at", rejects, required=True)
    out["detected_at"] = timestamp_column(raw, "detected_at", rejects, required=True)
    out["resolved_at"] = timestamp_column(raw, "resolved_at", rejects, required=False)
    for column in ("severity", "policy_category", "region", "detection_source"):
        out[column] = text_column(raw, column, lower=column != "region")
        require_text(out[column], column, rejects)
    out["region"] = out["region"].str.upper()
    out["title"] = text_column(raw, "title", lower=False)
    out["platform"] = text_column(raw, "platform", lower=False).fillna(platform)
    out["source_file"] = raw["source_file"]
    out["source_row"] = raw["source_row"]
    reject_duplicates(raw, out["incident_id"], "incident_id", rejects, loaded_ids)
    return out.loc[~rejects.bad]

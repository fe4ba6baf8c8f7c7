"""Pre-aggregated daily metrics: one row per series and day, keyed like the derived ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.domain.series import add_series_key
from risk_pipelines.domain.taxonomy import ALL
from risk_pipelines.sources.landing.batch import LandingBatch, read_dataset
from risk_pipelines.sources.landing.columns import (
    METRIC_REQUIRED,
    number_column,
    reject_duplicates,
    require_text,
    text_column,
    timestamp_column,
)
from risk_pipelines.sources.landing.rejects import Rejects


def read_daily_metrics(
    landing_dir: Path, days: Sequence[dt.date], *, platform: str
) -> LandingBatch:
    return read_dataset(
        landing_dir,
        "daily_metrics",
        days,
        lambda raw, rejects: _normalise_metrics(raw, rejects, platform),
        METRIC_REQUIRED,
    )


def _normalise_metrics(raw, rejects: Rejects, platform) -> pd.DataFrame:
    out = pd.DataFrame(index=raw.index)
    stamps = timestamp_column(raw, "ds", rejects, required=True)
    rejects.add(stamps.dt.date != raw["_day"], "ds", "ds is not the partition day of its folder")
    out["ds"] = raw["_day"]
    out["metric"] = text_column(raw, "metric")
    require_text(out["metric"], "metric", rejects)
    # The catalogue's kind decides the valid range (a rate lies in [0, 1]); not stored.
    kinds = {m: spec_for(m).kind for m in out["metric"].dropna().unique()}
    out["kind"] = out["metric"].map(kinds)
    out["platform"] = text_column(raw, "platform", lower=False).fillna(platform)
    for column in ("policy_category", "surface"):
        out[column] = text_column(raw, column).fillna(ALL)
    region = text_column(raw, "region")
    out["region"] = region.str.upper().where(region != ALL, ALL).fillna(ALL)
    out["value"] = number_column(raw, "value", rejects, required=True, integer=False)
    out["numerator"] = number_column(raw, "numerator", rejects, required=False, integer=False)
    out["denominator"] = number_column(raw, "denominator", rejects, required=False, integer=False)
    out["source"] = "landed"
    good = add_series_key(out.loc[~rejects.bad])
    # A series given twice for one day is ambiguous: keep the first, quarantine the rest.
    per_day = good["unique_id"] + " on " + good["ds"].astype(str)
    reject_duplicates(raw, per_day, "series", rejects, None)
    good = good.loc[~rejects.bad.loc[good.index]]
    for column in ("value", "numerator", "denominator"):
        good[column] = good[column].astype("float64")
    return good

"""Daily metric series from a DSA day's counts, in the long format every later layer reads.

Per platform: statements, and the shares of them found by automated detection and decided
fully automatically (numerator and denominator stored); per platform and policy category:
statements. They land in daily_metrics with source "dsa", so forecasts, indicators and alerts
treat them like any other series (the DSA dumps are peer data: ``platform`` is the submitter).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from risk_pipelines.domain.series import SEPARATOR, add_series_key
from risk_pipelines.domain.taxonomy import ALL

SOURCE = "dsa"


def dsa_daily_metrics(aggregates: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    columns = ["ds", "metric", "platform", "policy_category", "region", "surface", "value",
               "numerator", "denominator", "source", "unique_id"]  # fmt: skip
    if aggregates.empty:
        return pd.DataFrame(columns=columns)
    counts = aggregates.assign(
        platform=aggregates["platform"].str.replace(SEPARATOR, "/", regex=False),
        automated=(aggregates["detection_source"] == "automated") * aggregates["statements"],
        fully=(aggregates["automated_decision"] == "fully") * aggregates["statements"],
    )
    by_platform = counts.groupby("platform", as_index=False)[
        ["statements", "automated", "fully"]
    ].sum()
    by_category = counts.groupby(["platform", "policy_category"], as_index=False)[
        "statements"
    ].sum()
    frames = [
        by_platform.assign(metric="dsa_statements", policy_category=ALL, value=by_platform[
            "statements"]),
        by_category.assign(metric="dsa_statements", value=by_category["statements"]),
        by_platform.assign(
            metric="dsa_automated_detection_rate", policy_category=ALL,
            value=by_platform["automated"] / by_platform["statements"],
            numerator=by_platform["automated"], denominator=by_platform["statements"],
        ),
        by_platform.assign(
            metric="dsa_fully_automated_rate", policy_category=ALL,
            value=by_platform["fully"] / by_platform["statements"],
            numerator=by_platform["fully"], denominator=by_platform["statements"],
        ),
    ]  # fmt: skip
    out = pd.concat(frames, ignore_index=True).assign(
        ds=day, region=ALL, surface=ALL, source=SOURCE
    )
    for column in ("numerator", "denominator"):
        if column not in out:
            out[column] = None
    out = add_series_key(out)
    out["value"] = out["value"].astype(float)
    return out[columns]

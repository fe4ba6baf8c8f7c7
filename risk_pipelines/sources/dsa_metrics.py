"""Daily metric series from a DSA day's counts, in the long format every later layer reads.

Per platform: statements, and four shares of them (numerator and denominator stored), each the
share of one DSA field's value:

- ``dsa_automated_detection_rate``: ``automated_detection = Yes``, whatever the source (a notice
  about content that automated tools found too counts);
- ``dsa_own_initiative_rate``: ``source_type = SOURCE_VOLUNTARY`` (acted on without a notice);
- ``dsa_fully_automated_rate``: ``automated_decision = AUTOMATED_DECISION_FULLY``;
- ``dsa_illegal_content_rate``: ``decision_ground = DECISION_GROUND_ILLEGAL_CONTENT`` (the rest
  is incompatible with the terms and conditions).

Per platform and policy category: statements. They land in daily_metrics with source "dsa", so
forecasts, indicators and alerts treat them like any other series (the DSA dumps are peer data:
``platform`` is the submitter). Also per platform: ``dsa_moderation_delay_days``, the median whole
days from the content's date to the decision (application date); and, for followed platforms
only, ``dsa_statements`` per country of the territorial scope (``region`` = the country).
Six series a platform, its categories, and 30 countries a followed platform keep the forecasting
cost bounded by the platforms in the dump and those followed, not by its size.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from risk_pipelines.domain.series import SEPARATOR, add_series_key
from risk_pipelines.domain.taxonomy import ALL

SOURCE = "dsa"
# metric -> the count column of dsa_statement_counts it is the share of
SHARES = {
    "dsa_automated_detection_rate": "automated_detection_yes",
    "dsa_own_initiative_rate": "own_initiative",
    "dsa_fully_automated_rate": "fully",
    "dsa_illegal_content_rate": "illegal_content",
}


def dsa_daily_metrics(
    aggregates: pd.DataFrame,
    day: dt.date,
    *,
    delays: dict[str, np.ndarray] | None = None,
    countries: pd.DataFrame | None = None,
    follow: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """The day's series: from ``aggregates`` (``dsa_statement_counts`` rows), the volume and the
    shares; from ``delays`` (per platform, statements per whole day of delay) the median
    moderation delay; from ``countries`` the volume per country, for followed platforms only."""
    columns = ["ds", "metric", "platform", "policy_category", "region", "surface", "value",
               "numerator", "denominator", "source", "unique_id"]  # fmt: skip
    if aggregates.empty:
        return pd.DataFrame(columns=columns)
    counts = aggregates.assign(
        fully=(aggregates["automated_decision"] == "fully") * aggregates["statements"]
    )
    by_platform = counts.groupby("platform", as_index=False)[["statements", *SHARES.values()]].sum()
    by_category = counts.groupby(["platform", "policy_category"], as_index=False)[
        "statements"
    ].sum()
    frames = [
        by_platform.assign(metric="dsa_statements", policy_category=ALL, value=by_platform[
            "statements"]),
        by_category.assign(metric="dsa_statements", value=by_category["statements"]),
    ]  # fmt: skip
    for metric, column in SHARES.items():
        share = by_platform.assign(
            metric=metric,
            policy_category=ALL,
            value=by_platform[column] / by_platform["statements"],
            numerator=by_platform[column],
            denominator=by_platform["statements"],
        )
        frames.append(share)
    medians = _median_delays(delays or {})
    if len(medians):
        frames.append(medians)
    out = pd.concat(frames, ignore_index=True).assign(ds=day, region=ALL, surface=ALL)
    if countries is not None and len(countries) and follow:
        followed = countries[countries["platform"].isin(follow)]
        out = pd.concat(
            [out, followed.assign(metric="dsa_statements", policy_category=ALL, surface=ALL,
                                  region=followed["country"], value=followed["statements"],
                                  ds=day).drop(columns=["country", "statements"])],
            ignore_index=True,
        )  # fmt: skip
    out = out.assign(source=SOURCE)
    out["platform"] = out["platform"].str.replace(SEPARATOR, "/", regex=False)
    for column in ("numerator", "denominator"):
        if column not in out:
            out[column] = None
    out = add_series_key(out)
    out["value"] = out["value"].astype(float)
    return out[columns]


def _median_delays(delays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per platform, the median whole days from the content's date to the decision."""
    rows = []
    for platform, histogram in sorted(delays.items()):
        total = int(histogram.sum())
        if total:
            median = int(np.searchsorted(np.cumsum(histogram), (total + 1) / 2))
            rows.append({"platform": platform, "metric": "dsa_moderation_delay_days",
                         "policy_category": ALL, "value": float(median)})  # fmt: skip
    return pd.DataFrame(rows, columns=["platform", "metric", "policy_category", "value"])

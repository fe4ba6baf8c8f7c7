"""Per-day profile of a landed batch: the figures that tell a broken feed from a real change.

A feed that drops to a tenth of its usual volume, or whose category mix jumps, is far more
likely a data incident than a safety event; the partition expectations judge these columns.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def partition_profile(
    accounting: pd.DataFrame,
    rows: pd.DataFrame,
    history: pd.DataFrame,
    *,
    mix_column: str | None,
    lookback_days: int,
    min_history_days: int,
    min_rows_for_mix: int,
) -> pd.DataFrame:
    """One row per day of ``accounting`` (ds, rows_read, rows_accepted, rows_quarantined).

    ``history`` holds earlier days already in the warehouse as (ds, mix_value, rows); the
    batch's own earlier days count as history for its later days, as they would day by day.
    """
    profile = accounting[["ds", "rows_read", "rows_accepted", "rows_quarantined"]].copy()
    read = profile["rows_read"].astype(float)
    profile["quarantined_share"] = np.where(read > 0, profile["rows_quarantined"] / read.clip(1), 0)
    counts = _daily_mix_counts(rows, mix_column)
    if not history.empty:
        earlier = history[~history["ds"].isin(profile["ds"])]
        counts = pd.concat([earlier[["ds", "mix_value", "rows"]], counts], ignore_index=True)
    # One row per calendar day, one column per mix value; days without data stay NaN so they
    # neither count as history nor drag the median to zero.
    first = min([*profile["ds"], *counts["ds"]]) if len(counts) else min(profile["ds"])
    calendar = pd.Index(
        [first + dt.timedelta(days=i) for i in range((max(profile["ds"]) - first).days + 1)]
    )
    mix = counts.pivot_table(index="ds", columns="mix_value", values="rows", aggfunc="sum")
    mix = mix.reindex(calendar)
    volume = mix.sum(axis=1, min_count=1)
    # Days read from the landing folder count with what was read, quarantined rows included.
    volume.loc[list(profile["ds"])] = profile["rows_read"].to_numpy(dtype=float)
    earlier_days = volume.shift(1).rolling(lookback_days, min_periods=min_history_days)
    baseline = earlier_days.median().reindex(profile["ds"])
    profile["baseline_rows"] = baseline.to_numpy()
    profile["volume_ratio"] = np.where(
        baseline.to_numpy() > 0, profile["rows_read"] / baseline.to_numpy(), np.nan
    )
    profile["category_mix_distance"] = (
        _mix_distances(mix, lookback_days, min_history_days, min_rows_for_mix)
        .reindex(profile["ds"])
        .to_numpy()
        if mix_column
        else np.nan
    )
    return profile


def _mix_distances(mix: pd.DataFrame, lookback: int, min_days: int, min_rows: int) -> pd.Series:
    """Total variation distance between each day's shares and the previous ``lookback`` days':
    half the sum of absolute share differences, 0 (same mix) to 1 (nothing in common)."""
    today = mix.fillna(0.0)
    window = mix.shift(1).rolling(lookback, min_periods=min_days).sum()
    today_total, window_total = today.sum(axis=1), window.sum(axis=1)
    shares_today = today.div(today_total.where(today_total > 0), axis=0)
    shares_window = window.div(window_total.where(window_total > 0), axis=0)
    distance = 0.5 * (shares_today - shares_window).abs().sum(axis=1, min_count=1)
    enough = (today_total >= min_rows) & (window_total >= min_rows)
    return distance.where(enough)


def _daily_mix_counts(rows: pd.DataFrame, mix_column: str | None) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=["ds", "mix_value", "rows"])
    values = rows[mix_column] if mix_column else pd.Series("all", index=rows.index)
    counts = (
        pd.DataFrame({"ds": rows["ds"], "mix_value": values})
        .groupby(["ds", "mix_value"], observed=True)
        .size()
        .rename("rows")
        .reset_index()
    )
    return counts

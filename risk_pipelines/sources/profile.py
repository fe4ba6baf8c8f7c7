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
    per_day_rows = counts.groupby("ds")["rows"].sum()
    # Days read from the landing folder count with what was read, quarantined rows included.
    for day, value in zip(profile["ds"], profile["rows_read"], strict=True):
        per_day_rows[day] = value
    baseline, ratio, distance = [], [], []
    for day, rows_read in zip(profile["ds"], profile["rows_read"], strict=True):
        window = _window(per_day_rows.index, day, lookback_days)
        previous = per_day_rows[window]
        enough = len(previous) >= min_history_days
        median = float(previous.median()) if enough else np.nan
        baseline.append(median)
        ratio.append(rows_read / median if enough and median > 0 else np.nan)
        distance.append(
            _mix_distance(counts, day, window, min_rows_for_mix)
            if mix_column and enough
            else np.nan
        )
    profile["baseline_rows"] = baseline
    profile["volume_ratio"] = ratio
    profile["category_mix_distance"] = distance
    return profile


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


def _window(index: pd.Index, day: dt.date, lookback_days: int) -> list:
    first = day - dt.timedelta(days=lookback_days)
    return [d for d in index if first <= d < day]


def _mix_distance(counts: pd.DataFrame, day, window, min_rows: int) -> float:
    """Total variation distance between the day's category shares and the window's: half the
    sum of absolute share differences, 0 (same mix) to 1 (nothing in common)."""
    today = counts[counts["ds"] == day].groupby("mix_value")["rows"].sum()
    before = counts[counts["ds"].isin(window)].groupby("mix_value")["rows"].sum()
    if today.sum() < min_rows or before.sum() < min_rows:
        return np.nan
    shares = pd.concat([today / today.sum(), before / before.sum()], axis=1).fillna(0.0)
    return float(0.5 * (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().sum())

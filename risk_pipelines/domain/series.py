"""The series key and the long format every later layer reads (``unique_id, ds, y``)."""

from __future__ import annotations

import pandas as pd

SERIES_DIMENSIONS = ("metric", "platform", "policy_category", "region", "surface")
SEPARATOR = "|"


def series_id(metric: str, platform: str, policy_category: str, region: str, surface: str) -> str:
    return SEPARATOR.join((metric, platform, policy_category, region, surface))


def add_series_key(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``unique_id`` = ``metric|platform|policy_category|region|surface``."""
    frame = frame.copy()
    if frame.empty:
        frame["unique_id"] = pd.Series(dtype=object)
        return frame
    parts = [frame[d].astype(str) for d in SERIES_DIMENSIONS]
    key = parts[0]
    for part in parts[1:]:
        key = key + SEPARATOR + part
    frame["unique_id"] = key
    return frame


def split_series_id(unique_id: str) -> dict[str, str]:
    values = unique_id.split(SEPARATOR)
    if len(values) != len(SERIES_DIMENSIONS):
        raise ValueError(f"not a series key ({'|'.join(SERIES_DIMENSIONS)}): {unique_id!r}")
    return dict(zip(SERIES_DIMENSIONS, values, strict=True))


def to_long(metrics: pd.DataFrame) -> pd.DataFrame:
    """daily_metrics rows -> the forecasting frame ``unique_id, ds, y``."""
    frame = metrics[["unique_id", "ds", "value"]].rename(columns={"value": "y"})
    frame["ds"] = pd.to_datetime(frame["ds"])
    return frame.sort_values(["unique_id", "ds"], ignore_index=True)

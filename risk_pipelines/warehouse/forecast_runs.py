"""metric_forecasts keeps every run; readers want the one that counts."""

from __future__ import annotations

import pandas as pd


def newest_runs(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Only the newest run of each (series, as_of): a rerun day supersedes what it replaced."""
    if forecasts.empty:
        return forecasts
    newest = forecasts.groupby(["unique_id", "as_of"])["created_at"].transform("max")
    return forecasts[forecasts["created_at"] == newest]

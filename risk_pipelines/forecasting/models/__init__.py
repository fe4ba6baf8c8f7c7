"""Forecast models behind one small interface.

A model takes one daily series on the transformed scale (a float array, NaN for a missing day,
``start`` the date of its first element) and returns, for a horizon, the point forecast and the
standard deviation of the forecast error per step, plus its one-step-ahead predictions for every
historical day (``fitted``, ``fitted_sd``). For seasonal naive, ETS and SARIMAX these are causal:
the prediction for day t uses data up to t-1 only (the state; parameters are estimated once on
the whole window, except ETS's over the last weeks of a backfilled range, re-estimated weekly).
Prophet's are in-sample fits, and say so in the note.

``params`` is what the model estimated (JSON-safe). Handing them back on a later call skips the
estimation: the weekly selection estimates, the daily refresh only re-runs the filter.
"""

from __future__ import annotations

from risk_pipelines.forecasting.models.base import (
    SEASON,
    ForecastModel,
    ModelFailed,
    ModelOutput,
)
from risk_pipelines.forecasting.models.ets import ETS
from risk_pipelines.forecasting.models.naive import RecentLevel, SeasonalNaive

__all__ = [
    "COSTLY_MODELS",
    "ETS",
    "MODEL_NAMES",
    "SEASON",
    "ForecastModel",
    "ModelFailed",
    "ModelOutput",
    "RecentLevel",
    "SeasonalNaive",
    "make_model",
]


def _registry() -> dict[str, type]:
    from risk_pipelines.forecasting.models.combination import Combination
    from risk_pipelines.forecasting.models.prophet import ProphetModel
    from risk_pipelines.forecasting.models.sarimax import Sarimax
    from risk_pipelines.forecasting.models.yearly import YearlyETS

    models = (SeasonalNaive, ETS, YearlyETS, Combination, ProphetModel, Sarimax, RecentLevel)
    return {m.name: m for m in models}


MODEL_NAMES = (
    "seasonal_naive", "ets", "ets_yearly", "combined", "prophet", "sarimax", "recent_level",
)  # fmt: skip
# A Stan or state-space fit per series and day costs a hundred times ETS's filter with stored
# parameters; selection makes these earn their place (see forecasting/selection.py).
COSTLY_MODELS = ("prophet", "sarimax")


def make_model(
    name: str,
    *,
    history_days: int = 365,
    region: str | None = None,
    in_sample: bool = True,
    walk_forward_days: int = 0,
):
    """A model ready to fit, sized to the history it may use; Prophet also gets the region
    whose public holidays it models, and may skip its (non-causal) in-sample fit; ETS
    re-estimates weekly over the last ``walk_forward_days`` of a backfilled range."""
    cls = _registry()[name]
    if name in ("ets", "ets_yearly", "combined"):
        return cls(max_history=history_days, walk_forward_days=walk_forward_days)
    if name == "prophet":
        return cls(region=region, in_sample=in_sample)
    if name == "sarimax":
        return cls(max_history=min(history_days, 365))  # its cost grows with the window
    return cls()

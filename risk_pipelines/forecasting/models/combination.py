"""The mean of ETS and seasonal naive: the combination candidate of the weekly selection.

A combination of simple forecasts is one of the strongest baselines in the M4 results: where
ETS chases a level that moves every week and seasonal naive repeats last week's noise, their
mean on the model scale (log or logit, so a geometric mean of counts) errs less than either.
The selection picks it only where the backtests say so (``selection.py``).

Its error sd per step is the mean of the members' sds: their errors are strongly correlated
(both start from the same recent days), so the sd of the mean is close to that upper bound,
and the band is then calibrated on its own backtests like any other model's.
"""

from __future__ import annotations

import numpy as np

from risk_pipelines.forecasting.models.base import ModelOutput
from risk_pipelines.forecasting.models.ets import ETS
from risk_pipelines.forecasting.models.naive import SeasonalNaive

MEMBERS = ("ets", "seasonal_naive")


class Combination:
    """Mean of ETS (parameters stored and reused as ETS's own) and seasonal naive."""

    name = "combined"
    min_history = ETS.min_history

    def __init__(self, max_history: int = 365, walk_forward_days: int = 0) -> None:
        self.ets = ETS(max_history=max_history, walk_forward_days=walk_forward_days)
        self.naive = SeasonalNaive()

    def fit_predict(self, z, horizon, *, start=None, params=None) -> ModelOutput:
        ets_params = (params or {}).get("ets")
        members = {
            "ets": self.ets.fit_predict(z, horizon, start=start, params=ets_params),
            "seasonal_naive": self.naive.fit_predict(z, horizon, start=start),
        }
        return combine(members)


def combine(members: dict[str, ModelOutput]) -> ModelOutput:
    """The combination of members already fitted on the same days: the backtests score it from
    the forecasts they made anyway, at no second fit."""
    outputs = [members[name] for name in MEMBERS]
    mean = np.mean([o.mean for o in outputs], axis=0)
    sd = np.mean([o.sd for o in outputs], axis=0)
    # A day one member cannot predict (the naive's first week) has no combined prediction.
    fitted = np.mean([o.fitted for o in outputs], axis=0)
    fitted_sd = np.mean([o.fitted_sd for o in outputs], axis=0)
    notes = "; ".join(o.note for o in outputs if o.note)
    note = "; ".join(filter(None, ["mean of ets and seasonal_naive", notes]))
    return ModelOutput(mean, sd, fitted, fitted_sd, note, {"ets": members["ets"].params or {}})

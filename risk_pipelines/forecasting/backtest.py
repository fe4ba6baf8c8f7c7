"""Rolling-origin backtests: how each model would have done, cut off at several past days.

For each series the last ``windows`` cutoffs are ``step`` days apart, the newest ``horizon``
days before the last actual. At each cutoff a model sees only the days up to it, forecasts
``horizon`` days, and is scored against what happened (``scoring``), per series, model and
cutoff: the rows of ``forecast_backtests``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipelines.forecasting import transforms
from risk_pipelines.forecasting.engine import interval_bands
from risk_pipelines.forecasting.models import MODELS, ModelFailed
from risk_pipelines.forecasting.scoring import (
    coverage,
    naive_scale,
    scaled_error,
    smape,
    winkler,
)


@dataclass(frozen=True)
class BacktestConfig:
    horizon: int = 28
    windows: int = 3
    step: int = 28
    models: tuple[str, ...] = ("seasonal_naive", "ets")
    history_days: int = 365


def backtest_frame(
    long: pd.DataFrame, kind_of: Callable[[str], str], config: BacktestConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest every series of ``long`` (``unique_id, ds, y``).

    Returns the forecasts (one row per series, model, cutoff and day, with the actual) and the
    scores (one row per series, model and cutoff). A model that cannot fit at a cutoff is left
    out of that cutoff; a series too short for one window gets no rows.
    """
    config = config or BacktestConfig()
    forecasts = [
        _backtest_series(uid, group, kind_of(uid), config)
        for uid, group in long.groupby("unique_id", sort=True)
    ]
    forecasts = [f for f in forecasts if not f.empty]
    if not forecasts:
        return pd.DataFrame(), pd.DataFrame()
    frame = pd.concat(forecasts, ignore_index=True)
    return frame, score_backtests(frame)


def _backtest_series(uid: str, group: pd.DataFrame, kind: str, config: BacktestConfig):
    observed = group.set_index(pd.DatetimeIndex(group["ds"]))["y"].astype(float).sort_index()
    index = pd.date_range(observed.index.min(), observed.index.max(), freq="D")
    values = observed.reindex(index).to_numpy()  # missing days stay NaN, not zero
    rows = []
    for w in range(config.windows):
        end = len(values) - config.horizon - w * config.step  # training is values[:end]
        start = max(0, end - config.history_days)
        if end <= 0:
            break
        train = values[start:end]
        actual = values[end : end + config.horizon]
        z = transforms.forward(train, kind)
        z[np.isnan(train)] = np.nan
        for name in config.models:
            model = MODELS[name]()
            if (~np.isnan(z)).sum() < model.min_history:
                continue
            try:
                out = model.fit_predict(z, config.horizon)
            except (ModelFailed, ValueError, np.linalg.LinAlgError):
                continue
            bands = interval_bands(out.mean, out.sd, kind)
            rows.append(
                pd.DataFrame(
                    {
                        "unique_id": uid,
                        "model": name,
                        "cutoff": index[end - 1],
                        "ds": index[end : end + config.horizon],
                        "h": np.arange(1, config.horizon + 1),
                        "actual": actual,
                        **bands,
                        "scale": naive_scale(train),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def score_backtests(forecasts: pd.DataFrame) -> pd.DataFrame:
    records = []
    for (uid, model, cutoff), g in forecasts.groupby(["unique_id", "model", "cutoff"], sort=True):
        a, f = g["actual"].to_numpy(), g["yhat"].to_numpy()
        records.append(
            {
                "unique_id": uid,
                "model": model,
                "cutoff": cutoff,
                "horizon": len(g),
                "mase": scaled_error(a, f, g["scale"].iloc[0]),
                "smape": smape(a, f),
                "coverage_80": coverage(a, g["yhat_lo_80"], g["yhat_hi_80"]),
                "coverage_95": coverage(a, g["yhat_lo_95"], g["yhat_hi_95"]),
                "winkler_95": winkler(a, g["yhat_lo_95"], g["yhat_hi_95"], alpha=0.05),
            }
        )
    return pd.DataFrame(records)


BACKTEST_COLUMNS = [
    "unique_id", "model", "cutoff", "horizon",
    "mase", "smape", "coverage_80", "coverage_95", "winkler_95",
]  # fmt: skip


def backtest_rows(scores: pd.DataFrame, run_id: str, created_at) -> pd.DataFrame:
    """Scores shaped as ``forecast_backtests`` rows: every run is kept under its own run_id."""
    rows = scores[BACKTEST_COLUMNS].copy()
    rows["cutoff"] = pd.to_datetime(rows["cutoff"]).dt.date
    return rows.assign(run_id=run_id, created_at=created_at)

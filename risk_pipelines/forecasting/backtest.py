"""Rolling-origin backtests: how each model would have done, cut off at several past days.

For each series the last ``windows`` cutoffs are ``step`` days apart, the newest ``horizon``
days before the last actual. At each cutoff a model sees only the days up to it, forecasts
``horizon`` days, and is scored against what happened (``scoring``), per series, model and
cutoff: the rows of ``forecast_backtests``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.engine import (
    FIT_FAILURES,
    HISTORY_DAYS,
    HORIZON_DAYS,
    LOW_VOLUME_MODEL,
    interval_bands,
)
from risk_pipelines.forecasting.hygiene import prepare_series
from risk_pipelines.forecasting.models import COSTLY_MODELS, make_model
from risk_pipelines.forecasting.models.combination import MEMBERS as COMBINED_MEMBERS
from risk_pipelines.forecasting.models.combination import Combination, combine
from risk_pipelines.forecasting.models.yearly import YearlyETS, repeats_yearly
from risk_pipelines.forecasting.parallel import map_series
from risk_pipelines.forecasting.scoring import (
    coverage,
    naive_scale,
    scaled_error,
    smape,
    winkler,
)

# A series' backtests cost about a third of a second (three Prophet fits): worker start-up
# (a few seconds) pays for itself from a few dozen series, far sooner than for daily refits.
PARALLEL_BACKTESTS_FROM = 40


@dataclass(frozen=True)
class BacktestConfig:
    horizon: int = HORIZON_DAYS
    windows: int = 3
    step: int = HORIZON_DAYS
    # The candidates of the weekly selection; add "sarimax" to try it (about 0.7 s a fit). The
    # yearly candidate is backtested only on a series whose year repeats (repeats_yearly); the
    # combination costs no fit of its own.
    models: tuple[str, ...] = ("seasonal_naive", "ets", "ets_yearly", "combined", "prophet")
    history_days: int = HISTORY_DAYS
    # How selection averages a model's MASE over the windows (selection.py WINDOW_AVERAGES).
    window_average: str = "mean"


@dataclass
class Backtests:
    forecasts: pd.DataFrame  # series x model x cutoff x day, with the actual
    scores: pd.DataFrame  # series x model x cutoff
    # The parameters each model estimated at the newest cutoff: the weekly selection hands the
    # chosen model's to the daily refresh instead of estimating them a second time.
    params: dict[tuple[str, str], dict]


def run_backtests(
    long: pd.DataFrame,
    kind_of: Callable[[str], str],
    config: BacktestConfig | None = None,
    region_of: Callable[[str], str | None] | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Backtests:
    """Backtest every series of ``long`` (``unique_id, ds, y``).

    A model that cannot fit at a cutoff is left out of that cutoff; a series too short for one
    window gets no rows. A series that is low-volume at a cutoff is backtested with the
    low-volume model only, as it would be run.
    """
    config = config or BacktestConfig()
    tasks = _tasks(long, kind_of, region_of)
    # Scored in the workers too: the per-group arithmetic is the parent's bottleneck otherwise.
    results = map_series(
        partial(_backtest_and_score, config=config),
        tasks,
        workers,
        progress,
        parallel_from=PARALLEL_BACKTESTS_FROM,
    )
    params = {key: value for r in results for key, value in r[2].items()}
    results = [r for r in results if not r[0].empty]
    if not results:
        return Backtests(pd.DataFrame(), pd.DataFrame(), params)
    forecasts = pd.concat([r[0] for r in results], ignore_index=True)
    scores = pd.concat([r[1] for r in results], ignore_index=True)
    return Backtests(forecasts, scores, params)


def backtest_frame(*args, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The forecasts and scores of ``run_backtests`` (same arguments), for callers that need
    no parameters."""
    result = run_backtests(*args, **kwargs)
    return result.forecasts, result.scores


def _backtest_and_score(task: tuple, config: BacktestConfig):
    forecasts, params = backtest_series(task, config)
    scores = score_backtests(forecasts) if not forecasts.empty else pd.DataFrame()
    return forecasts, scores, {(task[0], model): p for model, p in params.items()}


def _tasks(long, kind_of, region_of) -> list[tuple]:
    return [
        (
            uid,
            group["ds"].to_numpy(),
            group["y"].to_numpy(dtype=float),
            kind_of(uid),
            region_of(uid) if region_of else None,
        )
        for uid, group in long.groupby("unique_id", sort=True)
    ]


def backtest_series(task: tuple, config: BacktestConfig) -> tuple[pd.DataFrame, dict]:
    """All cutoffs of one series: ``task`` is ``(unique_id, ds, y, kind, region)``. Returns the
    forecasts and, per model, the parameters it estimated at the newest cutoff.

    The newest cutoff runs first. A costly model (Prophet, SARIMAX) or the yearly candidate that
    is less accurate there than the best of the others is not run at the older cutoffs: it
    could only be chosen by beating them by a margin on average, and racing it out saves most
    of the selection's time. Its one scored window stays in the results, and selection only
    compares models scored at every cutoff.
    """
    uid, ds, y, kind, region = task
    observed = pd.Series(y, index=pd.DatetimeIndex(ds)).sort_index().dropna()
    if observed.empty:
        return pd.DataFrame(), {}
    index = pd.date_range(observed.index.min(), observed.index.max(), freq="D")
    values = observed.reindex(index).to_numpy()  # missing days stay NaN, not zero
    rows = []
    # The combination's members run before it, so it is made from their forecasts.
    models = sorted(config.models, key=lambda m: m == Combination.name)
    if YearlyETS.name in models and not repeats_yearly(values[: len(values) - config.horizon]):
        models.remove(YearlyETS.name)  # no year that repeats before the newest cutoff
    needed = max(make_model(m).min_history for m in models)
    newest_params: dict[str, dict] = {}
    for w in range(config.windows):
        end = len(values) - config.horizon - w * config.step  # training is values[:end]
        if end <= 0:
            break
        first = max(0, end - config.history_days)
        cutoff = index[end - 1]
        actual = values[end : end + config.horizon]
        # The same hygiene as the daily run, seeing only the days up to the cutoff.
        series = prepare_series(index[first:end], values[first:end], kind, cutoff)
        if (~np.isnan(series.z)).sum() < needed:
            break  # older cutoffs see even less: every model gets the same cutoffs or none
        window_mase, outputs = {}, {}
        for name in [LOW_VOLUME_MODEL] if series.low_volume else models:
            model = make_model(
                name, history_days=config.history_days, region=region, in_sample=False
            )
            if (~np.isnan(series.z)).sum() < model.min_history:
                continue
            try:
                out = _fitted_or_combined(name, model, series, config.horizon, outputs)
            except FIT_FAILURES:
                continue
            outputs[name] = out
            bands = interval_bands(out.mean, out.sd, kind)
            scale = naive_scale(series.values)
            window_mase[name] = scaled_error(actual, bands["yhat"], scale)
            if w == 0 and out.params:
                newest_params[name] = out.params
            rows.append(
                pd.DataFrame(
                    {
                        "unique_id": uid,
                        "model": name,
                        "cutoff": cutoff,
                        "ds": index[end : end + config.horizon],
                        "h": np.arange(1, config.horizon + 1),
                        "actual": actual,
                        **bands,
                        "scale": scale,
                    }
                )
            )
        if w == 0:
            models = _race(models, window_mase)
    return (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()), newest_params


def _fitted_or_combined(name, model, series, horizon, outputs):
    """The model's forecast at this cutoff; the combination is made from its members'
    forecasts when they were made here already (the same fits it would repeat)."""
    if name == Combination.name and all(m in outputs for m in COMBINED_MEMBERS):
        return combine({m: outputs[m] for m in COMBINED_MEMBERS})
    return model.fit_predict(series.z, horizon, start=series.index[0])


# Raced at the newest cutoff: the costly models, and the yearly candidate, which costs a second
# ETS fit per window. Backtested on every series with a year and a half of history it took the
# weekly selection of 1,000 synthetic series (bench/bench_forecasting.py) from 203 s to 357 s
# (goal under 300 s), for 40-45 series chosen; hence the repeats_yearly gate before it.
RACED_MODELS = (*COSTLY_MODELS, "ets_yearly")


def _race(models: list[str], mase: dict[str, float]) -> list[str]:
    others = [v for m, v in mase.items() if m not in RACED_MODELS and np.isfinite(v)]
    if not others:
        return models
    best = min(others)
    return [m for m in models if m not in RACED_MODELS or (m in mase and mase[m] <= best)]


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


def score_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model: series backtested, mean MASE, sMAPE and coverage, median Winkler score."""
    if scores.empty:
        return pd.DataFrame()
    return (
        scores.groupby("model")
        .agg(
            series=("unique_id", "nunique"),
            mase=("mase", "mean"),
            smape=("smape", "mean"),
            coverage_80=("coverage_80", "mean"),
            coverage_95=("coverage_95", "mean"),
            winkler_95=("winkler_95", "median"),
        )
        .round(3)
        .reset_index()
    )


BACKTEST_COLUMNS = [
    "unique_id", "model", "cutoff", "horizon",
    "mase", "smape", "coverage_80", "coverage_95", "winkler_95",
]  # fmt: skip


def backtest_rows(scores: pd.DataFrame, run_id: str, created_at) -> pd.DataFrame:
    """Scores shaped as ``forecast_backtests`` rows: every run is kept under its own run_id."""
    rows = scores[BACKTEST_COLUMNS].copy()
    rows["cutoff"] = pd.to_datetime(rows["cutoff"]).dt.date
    return rows.assign(run_id=run_id, created_at=created_at)

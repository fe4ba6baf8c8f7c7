"""Forecast every series of a long frame with every configured model.

For the newest ``as_of`` day each series gets the full horizon. For the earlier days of a
backfilled range it gets the one-step-ahead forecast each model would have made that day
(from the model's causal filter), so indicators and alert rules can compare every day's actual
with the forecast made the day before, at the cost of one fit per series and model.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from risk_pipelines.forecasting import transforms
from risk_pipelines.forecasting.models import MODELS, ModelFailed, SeasonalNaive

log = logging.getLogger(__name__)

Z80, Z95 = 1.2815515655446004, 1.959963984540054
# Measured (bench/): with ~200 series of two years, two spawned workers took 33.6 s against
# 20.6 s serially (start-up and pickling results outweigh the fits); parallel pays only above.
PARALLEL_FROM_SERIES = 500
FORECAST_COLUMNS = [
    "unique_id",
    "as_of",
    "ds",
    "model",
    "horizon",
    "yhat",
    "yhat_lo_80",
    "yhat_hi_80",
    "yhat_lo_95",
    "yhat_hi_95",
    "is_primary",
    "note",
]


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int = 28
    models: tuple[str, ...] = ("seasonal_naive", "ets")
    primary: str = "ets"
    history_days: int = 365
    stale_after_days: int = 7  # a series with no actual for this long has stopped
    min_history_days: int = 28  # younger series get no forecast: four weeks to learn a week
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(MODELS)
        if unknown:
            raise ValueError(
                f"unknown forecast model(s) {sorted(unknown)}; known: {sorted(MODELS)}"
            )
        if self.primary not in self.models:
            raise ValueError(f"primary model {self.primary!r} is not among {self.models}")
        if self.horizon < 1:
            raise ValueError("horizon must be at least 1 day")


@dataclass
class ForecastResult:
    forecasts: pd.DataFrame
    skipped: dict[str, str]  # unique_id -> why it got no forecast
    primary_models: dict[str, str]  # unique_id -> model used downstream


def forecast_series_frame(
    long: pd.DataFrame,
    as_of_days: Sequence[dt.date],
    kind_of: Callable[[str], str],
    config: ForecastConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastResult:
    """Forecast ``long`` (``unique_id, ds, y``) for the given as-of days (a partition range)."""
    config = config or ForecastConfig()
    as_of_days = sorted(pd.Timestamp(d).normalize() for d in as_of_days)
    if not as_of_days:
        raise ValueError("no as-of day given")
    last = as_of_days[-1]
    history = long[long["ds"] <= last]
    # Keep enough history for the model window plus the one-step forecasts of the range.
    span = config.history_days + (last - as_of_days[0]).days + 1
    history = history[history["ds"] > last - pd.Timedelta(days=span)]
    tasks = [
        (uid, group["ds"].to_numpy(), group["y"].to_numpy(dtype=float), kind_of(uid))
        for uid, group in history.groupby("unique_id", sort=True)
    ]
    results = _run(tasks, as_of_days, config, progress)
    frames, skipped, primary = [], {}, {}
    for uid, frame, reason, model in results:
        if frame is None:
            skipped[uid] = reason
        else:
            frames.append(frame)
            primary[uid] = model
    forecasts = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FORECAST_COLUMNS)
    )
    return ForecastResult(forecasts, skipped, primary)


def _run(tasks, as_of_days, config, progress):
    total = len(tasks)
    if config.workers <= 1 or total < PARALLEL_FROM_SERIES:
        out = []
        for i, task in enumerate(tasks, 1):
            out.append(_forecast_one(task, as_of_days, config))
            if progress and (i % 50 == 0 or i == total):
                progress(i, total)
        return out
    chunks = [tasks[i :: config.workers * 4] for i in range(config.workers * 4)]
    # spawn, not fork: the caller (Dagster) runs threads, and forking a threaded process can hang.
    context = multiprocessing.get_context("spawn")
    done, out = 0, []
    with ProcessPoolExecutor(config.workers, mp_context=context) as pool:
        futures = [pool.submit(_forecast_chunk, c, as_of_days, config) for c in chunks if c]
        for future in futures:
            part = future.result()
            out.extend(part)
            done += len(part)
            if progress:
                progress(done, total)
    order = {task[0]: i for i, task in enumerate(tasks)}
    return sorted(out, key=lambda r: order[r[0]])  # deterministic whatever the scheduling


def _forecast_chunk(tasks, as_of_days, config):
    return [_forecast_one(task, as_of_days, config) for task in tasks]


def _forecast_one(task, as_of_days, config: ForecastConfig):
    uid, ds, y, kind = task
    last = as_of_days[-1]
    observed = pd.Series(y, index=pd.DatetimeIndex(ds)).sort_index()
    observed = observed[~observed.index.duplicated(keep="last")].dropna()
    if observed.empty:
        return uid, None, "no actuals", None
    if (last - observed.index.max()).days > config.stale_after_days:
        return uid, None, f"series stopped: last actual {observed.index.max().date()}", None
    age = (last - observed.index.min()).days + 1
    if age < config.min_history_days:
        return uid, None, f"history of {age} days is shorter than {config.min_history_days}", None
    index = pd.date_range(observed.index.min(), last, freq="D")
    values = observed.reindex(index).to_numpy(dtype=float)  # missing days stay NaN, not zero
    z = transforms.forward(values, kind)
    z[np.isnan(values)] = np.nan
    outputs, notes = {}, []
    for name in config.models:
        model = (
            MODELS[name](max_history=config.history_days + len(as_of_days))
            if name == "ets"
            else MODELS[name]()
        )
        if (~np.isnan(z)).sum() < model.min_history:
            notes.append(f"{name}: history shorter than {model.min_history} days")
            continue
        try:
            outputs[name] = model.fit_predict(z, config.horizon)
        except (ModelFailed, ValueError, np.linalg.LinAlgError) as exc:
            notes.append(f"{name}: {exc}")
    if not outputs:
        return uid, None, "; ".join(notes) or "no model could run", None
    primary = (
        config.primary
        if config.primary in outputs
        else next((m for m in config.models if m in outputs), SeasonalNaive.name)
    )
    frames = [
        _rows(
            uid,
            name,
            out,
            index,
            as_of_days,
            kind,
            name == primary,
            config,
            "; ".join([out.note, *(n for n in notes if name == primary)]).strip("; "),
        )
        for name, out in outputs.items()
    ]
    return uid, pd.concat(frames, ignore_index=True), "", primary


def interval_bands(mean: np.ndarray, sd: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """Point forecast and 80/95 % bounds on the original scale, from the transformed scale."""
    bands = {"yhat": transforms.inverse(mean, kind)}
    for level, z in (("80", Z80), ("95", Z95)):
        bands[f"yhat_lo_{level}"] = transforms.inverse(mean - z * sd, kind)
        bands[f"yhat_hi_{level}"] = transforms.inverse(mean + z * sd, kind)
    return bands


def _rows(uid, model, out, index, as_of_days, kind, is_primary, config, note) -> pd.DataFrame:
    last = as_of_days[-1]
    steps = np.arange(1, len(out.mean) + 1)
    future = pd.DataFrame(
        {
            "as_of": last,
            "ds": last + pd.to_timedelta(steps, unit="D"),
            "horizon": steps,
            "mean": out.mean,
            "sd": out.sd,
        }
    )
    # One-step rows for the earlier days of the range: as_of D predicts D+1 (inside history).
    position = {ts: i for i, ts in enumerate(index)}
    # ...but only once the series had min_history_days of history on that day.
    old_enough = index[0] + pd.Timedelta(days=config.min_history_days - 1)
    earlier = [
        d for d in as_of_days[:-1] if d + pd.Timedelta(days=1) in position and d >= old_enough
    ]
    rows = [future]
    if earlier:
        nxt = np.array([position[d + pd.Timedelta(days=1)] for d in earlier])
        one = pd.DataFrame(
            {
                "as_of": earlier,
                "ds": [d + pd.Timedelta(days=1) for d in earlier],
                "horizon": 1,
                "mean": out.fitted[nxt],
                "sd": out.fitted_sd[nxt],
            }
        )
        rows.insert(0, one[np.isfinite(one["mean"]) & np.isfinite(one["sd"])])
    frame = pd.concat(rows, ignore_index=True)
    mean, sd = frame.pop("mean").to_numpy(), frame.pop("sd").to_numpy()
    for column, values in interval_bands(mean, sd, kind).items():
        frame[column] = values
    frame.insert(0, "unique_id", uid)
    frame["model"] = model
    frame["is_primary"] = is_primary
    frame["note"] = note or None
    return frame[FORECAST_COLUMNS]

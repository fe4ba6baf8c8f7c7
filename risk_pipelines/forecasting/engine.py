"""Forecast every series of a long frame with every configured model.

For the newest ``as_of`` day each series gets the full horizon. For the earlier days of a
backfilled range it gets the one-step-ahead forecast each model would have made that day
(from the model's causal filter), so indicators and alert rules can compare every day's actual
with the forecast made the day before, at the cost of one fit per series and model.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from risk_pipelines.forecasting import transforms
from risk_pipelines.forecasting.adaptive import recent_widening
from risk_pipelines.forecasting.hygiene import prepare_series
from risk_pipelines.forecasting.models import MODEL_NAMES, ModelFailed, make_model
from risk_pipelines.forecasting.parallel import default_workers, map_series

log = logging.getLogger(__name__)

Z80, Z95 = 1.2815515655446004, 1.959963984540054
# Measured on the demo's two years (229 series forecast as of each of 730 days, no selection
# yet): one process 46.1 s, two spawned workers 33.7 s.
LONG_RANGE_DAYS = 28
PARALLEL_RANGE_FROM = 40
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
LOW_VOLUME_MODEL = "recent_level"
# Every series also gets this cheap baseline beside its own model, so analysts can always
# compare the chosen model with "same day last week".
BASELINE_MODEL = "seasonal_naive"
# What a fit may raise on a series it cannot handle (or on stale stored parameters): the
# series falls back to the next model instead of failing the run.
FIT_FAILURES = (ModelFailed, ValueError, IndexError, np.linalg.LinAlgError, RuntimeError)


# The forecasting defaults, written once: config.py and the backtests take them from here.
HORIZON_DAYS = 28
# Two years: Prophet needs a year and a half to see yearly seasonality; ETS estimates on the
# newest year and only filters the rest.
HISTORY_DAYS = 730


@dataclass(frozen=True)
class SeriesSpec:
    """What the weekly selection chose for one series: the model, its estimated parameters
    (reused daily instead of re-estimated) and the calibration factors for its bands."""

    model: str
    params: dict | None = None
    factor_80: float = 1.0
    factor_95: float = 1.0


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int = HORIZON_DAYS
    models: tuple[str, ...] = ("seasonal_naive", "ets")
    primary: str = "ets"
    history_days: int = HISTORY_DAYS
    stale_after_days: int = 7  # a series with no actual for this long has stopped
    min_history_days: int = 28  # younger series get no forecast: four weeks to learn a week
    workers: int = field(default_factory=default_workers)
    excluded_days: tuple[dt.date, ...] = ()  # known incident days, left out of every series
    # The last days of a backfilled range whose one-step forecasts come from weekly
    # re-estimated parameters, as in production: the alerts' first evaluation judges the last
    # 90 (stages/alerts.py CatchUp). Older days keep the range's parameters: they are only
    # scored for accuracy, and a weekly fit per series for two years would cost minutes.
    walk_forward_days: int = 91
    # Days of recent one-step errors that widen a band missing more often than chance allows
    # (adaptive.py); 0 turns the widening off.
    adaptive_window: int = 14

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(MODEL_NAMES)
        if unknown:
            raise ValueError(
                f"unknown forecast model(s) {sorted(unknown)}; known: {sorted(MODEL_NAMES)}"
            )
        if self.primary not in self.models:
            raise ValueError(f"primary model {self.primary!r} is not among {self.models}")
        if self.horizon < 1:
            raise ValueError("horizon must be at least 1 day")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")


@dataclass
class ForecastResult:
    forecasts: pd.DataFrame
    skipped: dict[str, str]  # unique_id -> why it got no forecast
    primary_models: dict[str, str]  # unique_id -> model used downstream
    # unique_id -> the primary model and the parameters it ran with: what a walk-forward replay
    # reuses between its weekly refits, as the daily refresh reuses the weekly selection's.
    fitted: dict[str, SeriesSpec] = field(default_factory=dict)


def forecast_series_frame(
    long: pd.DataFrame,
    as_of_days: Sequence[dt.date],
    kind_of: Callable[[str], str],
    config: ForecastConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    specs: dict[str, SeriesSpec] | None = None,
    region_of: Callable[[str], str | None] | None = None,
) -> ForecastResult:
    """Forecast ``long`` (``unique_id, ds, y``) for the given as-of days (a partition range).

    A series with a spec from the weekly selection runs that model with its stored parameters
    and calibrated bands (plus the baseline); one without runs ``config.models``.
    """
    config = config or ForecastConfig()
    specs = specs or {}
    as_of_days = sorted(pd.Timestamp(d).normalize() for d in as_of_days)
    if not as_of_days:
        raise ValueError("no as-of day given")
    last = as_of_days[-1]
    history = long[long["ds"] <= last]
    # Keep enough history for the model window plus the one-step forecasts of the range.
    span = config.history_days + (last - as_of_days[0]).days + 1
    history = history[history["ds"] > last - pd.Timedelta(days=span)]
    tasks = [
        (
            uid,
            group["ds"].to_numpy(),
            group["y"].to_numpy(dtype=float),
            kind_of(uid),
            region_of(uid) if region_of else None,
            specs.get(uid),
        )
        for uid, group in history.groupby("unique_id", sort=True)
    ]
    work = partial(_forecast_one, as_of_days=as_of_days, config=config)
    # A long range re-estimates each series weekly, so its tasks pay for the workers sooner.
    long_range = len(as_of_days) >= LONG_RANGE_DAYS
    results = map_series(
        work, tasks, config.workers, progress,
        parallel_from=PARALLEL_RANGE_FROM if long_range else None,
    )  # fmt: skip
    frames, skipped, primary, fitted = [], {}, {}, {}
    for uid, frame, reason, model, params in results:
        if frame is None:
            skipped[uid] = reason
        else:
            frames.append(frame)
            primary[uid] = model
            fitted[uid] = SeriesSpec(model, params)
    forecasts = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FORECAST_COLUMNS)
    )
    return ForecastResult(forecasts, skipped, primary, fitted)


def _plan(
    spec: SeriesSpec | None, low_volume: str, config: ForecastConfig
) -> tuple[list[str], list[str]]:
    """The models to run, the preferred primary first, and the fallbacks tried only when that
    preferred model cannot run. With a spec, that is one fit per series plus the baseline."""
    if low_volume:
        return [LOW_VOLUME_MODEL, BASELINE_MODEL], []
    if spec is not None:
        return list(dict.fromkeys([spec.model, BASELINE_MODEL])), (
            ["ets"] if spec.model != "ets" else []
        )
    return list(dict.fromkeys([config.primary, *config.models])), []


def _forecast_one(task, as_of_days, config: ForecastConfig):
    uid, ds, y, kind, region, spec = task
    last = as_of_days[-1]
    if np.isnan(y).all():
        return uid, None, "no actuals", None, None
    last_actual = pd.Timestamp(ds[~np.isnan(y)].max())
    if (last - last_actual).days > config.stale_after_days:
        return uid, None, f"series stopped: last actual {last_actual.date()}", None, None
    keep_from = as_of_days[0] - pd.Timedelta(days=config.min_history_days - 1)
    series = prepare_series(
        ds, y, kind, last, config.excluded_days, config.min_history_days, keep_from
    )
    age = len(series.index)
    if age < config.min_history_days:
        return (
            uid,
            None,
            f"history of {age} days is shorter than {config.min_history_days}",
            None,
            None,
        )
    index, z = series.index, series.z
    notes = [*series.notes, *([series.low_volume] if series.low_volume else [])]
    run, fallbacks = _plan(spec, series.low_volume, config)
    outputs = {}

    def attempt(name: str) -> None:
        model = make_model(
            name,
            history_days=config.history_days + len(as_of_days),
            region=region,
            walk_forward_days=min(len(as_of_days) - 1, config.walk_forward_days),
        )
        if (~np.isnan(z)).sum() < model.min_history:
            notes.append(f"{name}: history shorter than {model.min_history} days")
            return
        reuse = spec.params if spec is not None and name == spec.model else None
        try:
            outputs[name] = model.fit_predict(z, config.horizon, start=index[0], params=reuse)
        except FIT_FAILURES as exc:
            notes.append(f"{name}: {exc}")

    for name in run:
        attempt(name)
    if run[0] not in outputs:
        for name in fallbacks:
            attempt(name)
            if name in outputs:
                break
    order = [run[0], *fallbacks, *run[1:]]
    primary = next((name for name in order if name in outputs), None)
    if primary is None:
        return uid, None, "; ".join(notes) or "no model could run", None, None
    if spec is not None and primary != spec.model and not series.low_volume:
        notes.append(f"selected model {spec.model} could not run; {primary} used")
    factors = (spec.factor_80, spec.factor_95) if spec and primary == spec.model else (1, 1)
    out = outputs[primary]
    widening = recent_widening(z, out.fitted, out.fitted_sd, factors, config.adaptive_window)
    frames = [
        _rows(
            uid,
            out,
            index,
            as_of_days,
            kind,
            config,
            _RowLabels(
                model=name,
                is_primary=name == primary,
                note="; ".join([out.note, *(notes if name == primary else [])]).strip("; "),
                factors=factors if name == primary else (1, 1),
                widening=widening if name == primary else None,
            ),
        )
        for name, out in outputs.items()
    ]
    return uid, pd.concat(frames, ignore_index=True), "", primary, outputs[primary].params


def interval_bands(mean: np.ndarray, sd: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """Point forecast and 80/95 % bounds on the original scale, from the transformed scale."""
    bands = {"yhat": transforms.inverse(mean, kind)}
    for level, z in (("80", Z80), ("95", Z95)):
        bands[f"yhat_lo_{level}"] = transforms.inverse(mean - z * sd, kind)
        bands[f"yhat_hi_{level}"] = transforms.inverse(mean + z * sd, kind)
    return bands


def calibrated(bands: dict[str, np.ndarray], factors, kind: str) -> dict[str, np.ndarray]:
    """Stretch (or shrink) each band around the point forecast by its calibration factor;
    counts stay >= 0 and rates inside [0, 1]."""
    if all(np.all(np.asarray(f) == 1) for f in factors):
        return bands
    out = dict(bands)
    yhat = bands["yhat"]
    for level, factor in zip(("80", "95"), factors, strict=True):
        lo, hi = f"yhat_lo_{level}", f"yhat_hi_{level}"
        out[lo] = np.maximum(yhat - factor * (yhat - bands[lo]), 0.0)
        out[hi] = yhat + factor * (bands[hi] - yhat)
        if kind == "rate":
            out[hi] = np.minimum(out[hi], 1.0)
    return out


@dataclass(frozen=True)
class _RowLabels:
    """What a model's rows say about it: its name, whether it is the series' primary forecast,
    the note, and the band calibration factors (80 %, 95 %) it gets."""

    model: str
    is_primary: bool
    note: str
    factors: tuple[float, float]
    # Per history day and one more, the recent-coverage widening of the 80/95 % bands
    # (adaptive.py); None for a model whose bands are not widened.
    widening: np.ndarray | None = None


def _rows(uid, out, index, as_of_days, kind, config, labels: _RowLabels) -> pd.DataFrame:
    model, is_primary, note, factors = labels.model, labels.is_primary, labels.note, labels.factors
    last = as_of_days[-1]
    steps = np.arange(1, len(out.mean) + 1)
    as_of = [np.full(len(steps), last.to_datetime64())]
    ds = [last.to_datetime64() + steps.astype("timedelta64[D]")]
    horizon, mean, sd = [steps], [out.mean], [out.sd]
    widening = labels.widening if labels.widening is not None else np.ones((len(index) + 1, 2))
    widen = [np.repeat(widening[-1:], len(steps), axis=0)]
    # One-step rows for the earlier days of the range: as_of D predicts D+1 (inside history),
    # but only once the series had min_history_days of history on that day.
    earlier = pd.DatetimeIndex(as_of_days[:-1])
    old_enough = index[0] + pd.Timedelta(days=config.min_history_days - 1)
    earlier = earlier[earlier >= old_enough]
    if len(earlier):
        nxt = index.get_indexer(earlier + pd.Timedelta(days=1))
        keep = nxt >= 0
        nxt = nxt[keep]
        m, s = out.fitted[nxt], out.fitted_sd[nxt]
        finite = np.isfinite(m) & np.isfinite(s)
        as_of.insert(0, earlier[keep][finite].to_numpy())
        ds.insert(0, index[nxt][finite].to_numpy())
        horizon.insert(0, np.ones(int(finite.sum()), dtype=int))
        mean.insert(0, m[finite])
        sd.insert(0, s[finite])
        widen.insert(0, widening[nxt][finite])
    mean, sd, widen = np.concatenate(mean), np.concatenate(sd), np.concatenate(widen)
    factors = (factors[0] * widen[:, 0], factors[1] * widen[:, 1])
    frame = pd.DataFrame(
        {
            "unique_id": uid,
            "as_of": np.concatenate(as_of),
            "ds": np.concatenate(ds),
            "model": model,
            "horizon": np.concatenate(horizon),
            **calibrated(interval_bands(mean, sd, kind), factors, kind),
            "is_primary": is_primary,
            "note": note[:200] or None,  # the column holds 200 characters
        }
    )
    return frame[FORECAST_COLUMNS]

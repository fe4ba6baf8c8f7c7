"""Conformal calibration of interval widths from backtests.

A model's 80/95 % band is only as honest as its error model. Backtests show how far actuals
really fell from the point forecast, in units of the band's own half-width on that side: the
multiplier each band would have needed to cover. The conformal quantile of those multipliers
(at the nominal level, with the finite-sample correction) is the factor that stretches or
shrinks the band, per series and model, or per model when a series has too few backtest days;
the 95 % band is only ever stretched (``MIN_FACTOR``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.scoring import coverage

LEVELS = ("80", "95")
MIN_ROWS_PER_SERIES = 40
# The 95 % band is the alert line, and it is never made narrower than the model's own: three
# backtest windows at the end of a history say little about the weeks to come, and on real
# series the factors they gave shrank it where those weeks were calm. Measured with
# bench/bench_forecasting_real.py (41 DSA series x 6 origins; 80 / 95 % coverage, horizon 28 and
# next-day): no calibration 0.812 / 0.901 and 0.804 / 0.901; conformal both ways 0.774 / 0.914
# and 0.761 / 0.900; floored at 1 both 0.852 / 0.942 and 0.839 / 0.936 (80 % past its 0.85);
# the 95 % floored only: 0.774 / 0.942 and 0.761 / 0.936, 0.909 after a regime change.
MIN_FACTOR = {"80": 0.0, "95": 1.0}


def needed_multipliers(forecasts: pd.DataFrame, level: str) -> pd.Series:
    """Per backtest row: how many half-widths the actual lay from the point forecast."""
    actual, yhat = forecasts["actual"], forecasts["yhat"]
    above = actual >= yhat
    half = np.where(
        above, forecasts[f"yhat_hi_{level}"] - yhat, yhat - forecasts[f"yhat_lo_{level}"]
    )
    distance = (actual - yhat).abs().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        multiplier = np.where(half > 0, distance / half, np.where(distance > 0, np.inf, 0.0))
    return pd.Series(multiplier, index=forecasts.index).where(actual.notna())


def conformal_factor(multipliers: pd.Series, level: float) -> float:
    values = np.sort(multipliers.dropna().to_numpy())
    if len(values) == 0:
        return 1.0
    rank = min(len(values), math.ceil((len(values) + 1) * level))
    return float(values[rank - 1])


def calibration_factors(forecasts: pd.DataFrame) -> pd.DataFrame:
    """One row per series and model: ``factor_80``, ``factor_95`` and where they came from."""
    frame = forecasts.copy()
    for level in LEVELS:
        frame[f"m_{level}"] = needed_multipliers(frame, level)
    pooled = {
        (model, level): conformal_factor(g[f"m_{level}"], int(level) / 100)
        for model, g in frame.groupby("model")
        for level in LEVELS
    }
    rows = []
    for (uid, model), g in frame.groupby(["unique_id", "model"], sort=True):
        own = g["actual"].notna().sum() >= MIN_ROWS_PER_SERIES
        row = {"unique_id": uid, "model": model, "basis": "series" if own else "model"}
        for level in LEVELS:
            factor = (
                conformal_factor(g[f"m_{level}"], int(level) / 100)
                if own
                else pooled[(model, level)]
            )
            row[f"factor_{level}"] = max(factor, MIN_FACTOR[level])
        rows.append(row)
    return pd.DataFrame(rows)


def apply_calibration(
    forecasts: pd.DataFrame, factors: pd.DataFrame, kind_of: Callable[[str], str]
) -> pd.DataFrame:
    """Stretch (or shrink) each band around its point forecast by its factor; series without
    a factor keep their bands. Bounds of counts stay >= 0 and rates inside [0, 1]."""
    out = forecasts.merge(factors, on=["unique_id", "model"], how="left")
    for level in LEVELS:
        factor = out.pop(f"factor_{level}").fillna(1.0)
        lo, hi = f"yhat_lo_{level}", f"yhat_hi_{level}"
        out[lo] = out["yhat"] - factor * (out["yhat"] - out[lo])
        out[hi] = out["yhat"] + factor * (out[hi] - out["yhat"])
    out = out.drop(columns=["basis"])
    kinds = {uid: kind_of(uid) for uid in out["unique_id"].unique()}
    rate = out["unique_id"].map(kinds) == "rate"
    for level in LEVELS:
        lo, hi = f"yhat_lo_{level}", f"yhat_hi_{level}"
        out[lo] = out[lo].clip(lower=0)
        out.loc[rate, hi] = out.loc[rate, hi].clip(upper=1)
    return out


def calibration_report(
    backtests: pd.DataFrame, specs: pd.DataFrame, kind_of: Callable[[str], str]
) -> pd.DataFrame:
    """Per chosen model: series, median factors, and the backtest coverage of the chosen
    models before and after calibration (on the backtests the factors came from, so 'after'
    is optimistic)."""
    if backtests.empty:
        return pd.DataFrame()
    chosen = backtests.merge(specs[["unique_id", "model"]], on=["unique_id", "model"])
    after = apply_calibration(
        chosen, specs[["unique_id", "model", "factor_80", "factor_95", "basis"]], kind_of
    )
    rows = []
    for model, before in chosen.groupby("model"):
        calibrated = after[after["model"] == model]
        chosen_specs = specs[specs["model"] == model]
        row = {"model": model, "series": len(chosen_specs)}
        for level in LEVELS:
            row[f"factor_{level}"] = round(float(chosen_specs[f"factor_{level}"].median()), 3)
        for level in LEVELS:
            for label, frame in (("before", before), ("after", calibrated)):
                row[f"coverage_{level}_{label}"] = round(
                    coverage(frame["actual"], frame[f"yhat_lo_{level}"], frame[f"yhat_hi_{level}"]),
                    3,
                )
        rows.append(row)
    return pd.DataFrame(rows)

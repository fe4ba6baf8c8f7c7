"""Per-series model selection from backtest scores (the weekly job; daily runs reuse it).

The model with the lowest mean MASE over the backtest windows wins; the 95 % Winkler score
breaks near-ties (within ``tie``), so of two equally accurate models the one with the more
honest band is kept. The default (ETS) keeps the series unless the winner beats it by more than
``CHALLENGE_MARGIN``. A series no model could be scored on keeps the default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipelines.forecasting.backtest import BacktestConfig, run_backtests
from risk_pipelines.forecasting.calibration import calibration_factors
from risk_pipelines.forecasting.engine import ForecastConfig, SeriesSpec, forecast_series_frame
from risk_pipelines.forecasting.models import COSTLY_MODELS

# Measured (bench/bench_forecasting.py, 1,000 series): at a 5 % margin 150 series went to
# Prophet and the holdout MASE was 0.752 against 0.750 for ETS everywhere, so backtest wins that
# small do not carry over; they only cost a Stan fit per series every day.
COST_MARGIN = 0.10
# The default (ETS) keeps a series unless its mean MASE is more than this above the best
# model's: three windows at the end of the history are too few to trust a small win, and the
# default is then never more than 10 % worse than seasonal naive in backtests. Measured with
# bench/bench_forecasting_real.py (41 real DSA series x 6 origins, geo-mean MASE of the selected
# forecasts, horizon 28 / next-day): margin 0 0.727 / 0.623, 5 % 0.717 / 0.611, 10 % 0.709 /
# 0.605, 20 % 0.712 / 0.599 (ETS refresh before any selection 0.695 / 0.587, seasonal naive
# 0.850 / 0.784).
CHALLENGE_MARGIN = 0.10


def select_models(
    scores: pd.DataFrame,
    default: str = "ets",
    tie: float = 0.02,
    cost_margin: float = COST_MARGIN,
    challenge_margin: float = CHALLENGE_MARGIN,
    window_average: str = "mean",
) -> pd.DataFrame:
    """One row per series: ``model``, its mean ``mase`` and ``winkler_95``, and ``reason``.

    Only models scored at every cutoff of the series compete (a model raced out after the
    newest window, or failing at one cutoff, is not comparable on a mean). A costly model keeps
    the series only when its MASE beats the best cheap model's by more than ``cost_margin``.
    """
    cutoffs = scores.dropna(subset=["mase"]).groupby("unique_id")["cutoff"].nunique()
    scored_at = scores.dropna(subset=["mase"]).groupby(["unique_id", "model"])["cutoff"].nunique()
    complete = scored_at[scored_at == cutoffs.reindex(scored_at.index.get_level_values(0)).values]
    summary = _window_averages(scores, window_average)
    is_complete = pd.MultiIndex.from_frame(summary[["unique_id", "model"]]).isin(complete.index)
    # A series with no complete model keeps all its rows (and, unscored, the default).
    has_complete = summary["unique_id"].isin(summary.loc[is_complete, "unique_id"])
    summary = summary[is_complete | ~has_complete]
    rows = []
    for uid, group in summary.groupby("unique_id", sort=True):
        scored = group.dropna(subset=["mase"])
        if scored.empty:
            rows.append({"unique_id": uid, "model": default, "mase": None, "winkler_95": None,
                         "reason": "no model could be backtested: default kept"})  # fmt: skip
            continue
        winner, reason = _most_accurate(scored, tie)
        own = scored[scored["model"] == default]
        if winner["model"] != default and not own.empty:
            kept = own.iloc[0]
            if kept["mase"] <= winner["mase"] * (1 + challenge_margin):
                reason = (
                    f"{default} MASE {kept['mase']:.3f} is within {challenge_margin:.0%} of "
                    f"{winner['model']}'s {winner['mase']:.3f}: the default is kept"
                )
                winner = kept
        cheap = scored[~scored["model"].isin(COSTLY_MODELS)].sort_values(["mase", "winkler_95"])
        if winner["model"] in COSTLY_MODELS and not cheap.empty:
            runner_up = cheap.iloc[0]
            gain = 1 - winner["mase"] / runner_up["mase"]
            if gain <= cost_margin:
                reason = (
                    f"{winner['model']} MASE {winner['mase']:.3f} is only {gain:.1%} better "
                    f"than {runner_up['model']} ({runner_up['mase']:.3f}), under the "
                    f"{cost_margin:.0%} that pays for its daily fit"
                )
                winner = runner_up
        rows.append({"unique_id": uid, "model": winner["model"], "mase": winner["mase"],
                     "winkler_95": winner["winkler_95"], "reason": reason})  # fmt: skip
    return pd.DataFrame(rows)


WINDOW_AVERAGES = ("mean", "geomean")


def _window_averages(scores: pd.DataFrame, average: str) -> pd.DataFrame:
    """Per series and model, the MASE over the windows (the mean, or the geometric mean, which
    one window's failure still raises but cannot dominate) and the mean Winkler score."""
    if average not in WINDOW_AVERAGES:
        raise ValueError(f"window_average must be one of {WINDOW_AVERAGES}, not {average!r}")
    frame = scores[["unique_id", "model", "mase", "winkler_95"]].copy()
    if average == "geomean":
        frame["mase"] = np.log(frame["mase"].clip(lower=1e-6))
    summary = frame.groupby(["unique_id", "model"], sort=True)[["mase", "winkler_95"]].mean()
    if average == "geomean":
        summary["mase"] = np.exp(summary["mase"])
    return summary.reset_index()


def _most_accurate(scored: pd.DataFrame, tie: float) -> tuple[pd.Series, str]:
    best_mase = scored["mase"].min()
    close = scored[scored["mase"] <= best_mase * (1 + tie)]
    winner = close.sort_values(["winkler_95", "mase"]).iloc[0]
    if len(close) == 1:
        return winner, f"lowest mean MASE {winner['mase']:.3f}"
    return winner, (
        f"MASE within {tie:.0%} of the best; narrowest honest band "
        f"(Winkler {winner['winkler_95']:.1f})"
    )


@dataclass
class SelectionRun:
    """The weekly selection: per series the chosen spec, and the evidence behind it."""

    specs: pd.DataFrame  # unique_id, model, params, factor_80/95, basis, mase, winkler_95, reason
    scores: pd.DataFrame  # forecast_backtests rows: series x model x cutoff
    backtests: pd.DataFrame  # the backtest forecasts themselves, with the actuals


def run_selection(
    long: pd.DataFrame,
    kind_of: Callable[[str], str],
    config: BacktestConfig | None = None,
    region_of: Callable[[str], str | None] | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> SelectionRun:
    """Backtest every candidate, pick each series' model, and calibrate its bands from the same
    backtests. A chosen ETS is estimated once more on the whole history (the daily refresh
    then only re-runs its filter); other models keep what they estimated at the newest
    cutoff."""
    config = config or BacktestConfig()
    backtests = run_backtests(long, kind_of, config, region_of, workers, progress)
    if backtests.scores.empty:
        return SelectionRun(
            pd.DataFrame(columns=SPEC_COLUMNS), backtests.scores, backtests.forecasts
        )
    choice = select_models(backtests.scores, window_average=config.window_average)
    factors = calibration_factors(backtests.forecasts)
    specs = choice.merge(factors, on=["unique_id", "model"], how="left")
    specs[["factor_80", "factor_95"]] = specs[["factor_80", "factor_95"]].fillna(1.0)
    specs["basis"] = specs["basis"].fillna("none")
    specs["params"] = [
        backtests.params.get((uid, model))
        for uid, model in zip(specs["unique_id"], specs["model"], strict=True)
    ]
    newest = _estimated_on_newest_history(long, specs, kind_of, region_of, workers)
    specs["params"] = [
        newest.get(uid, params)
        for uid, params in zip(specs["unique_id"], specs["params"], strict=True)
    ]
    return SelectionRun(specs[SPEC_COLUMNS], backtests.scores, backtests.forecasts)


# The models whose parameters are re-estimated on the whole history once chosen: one fit each
# (a few hundredths of a second), against the weeks-old estimate of the newest backtest cutoff.
REESTIMATED = ("ets", "ets_yearly", "combined")


def _estimated_on_newest_history(long, specs, kind_of, region_of, workers) -> dict[str, dict]:
    """The chosen ETS-family models' parameters estimated on the history through its last day,
    through the same engine (hygiene, fallbacks) as the daily refresh. The newest backtest
    cutoff is 28 days before the last actual, and on real series parameters that old cost
    accuracy (bench/bench_forecasting_real.py, docs/pipeline.md)."""
    chosen = specs[specs["model"].isin(REESTIMATED)]
    if chosen.empty:
        return {}
    part = long[long["unique_id"].isin(set(chosen["unique_id"]))]
    last = pd.Timestamp(part["ds"].max()).date()
    config = ForecastConfig(horizon=1, workers=workers)
    fresh = {
        uid: SeriesSpec(model)
        for uid, model in zip(chosen["unique_id"], chosen["model"], strict=True)
    }
    result = forecast_series_frame(part, [last], kind_of, config, specs=fresh, region_of=region_of)
    return {
        uid: spec.params
        for uid, spec in result.fitted.items()
        if spec.params and spec.model == fresh[uid].model
    }


SPEC_COLUMNS = [
    "unique_id", "model", "params", "factor_80", "factor_95", "basis",
    "mase", "winkler_95", "reason",
]  # fmt: skip


def specs_by_series(specs: pd.DataFrame) -> dict[str, SeriesSpec]:
    """Stored selection rows -> the engine's specs (params may arrive as JSON text)."""
    out = {}
    for row in specs.itertuples(index=False):
        params = json.loads(row.params) if isinstance(row.params, str) else row.params
        out[row.unique_id] = SeriesSpec(
            row.model, params or None, float(row.factor_80), float(row.factor_95)
        )
    return out

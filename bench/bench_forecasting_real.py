"""Forecasting on real series: our selection and daily refresh against the baselines, at rolling
origins across the real DSA statement counts (tests/fixtures/dsa_daily/, 2023-09..2026-01).

Series: every platform's daily total and its ``--categories`` largest categories (a day without
a row is a missing day, as in the pipeline). Origins: ``--origins`` days, ``--step`` days apart,
ending 28 days before the last day of data. At each origin every method sees the data through
that day only:

- seasonal_naive: last week's value, its band from the recent spread (the engine's baseline);
- refresh: the daily refresh before any selection (ETS, or the recent level for a low-volume
  series, parameters estimated that day);
- selected: the weekly selection (backtests, per-series choice, calibrated bands), then the
  refresh with the chosen spec;
- prophet_default: ``Prophet()`` with its defaults, series by series (``--no-prophet`` to skip);
- sf_AutoETS, sf_AutoTheta: statsforecast's, weekly season, on the log scale (``--statsforecast``,
  installed with ``pip install -e .[bench]``).

Scored on the 28 days after the origin (horizon 28: the forecast made at the origin) and, for
the engine's methods, next-day (each of those days' one-step forecast with the origin's
parameters, computed as a backfill of the 28 days computes it: bands from the errors before each
day, the clip and the level-shift trim judged over the whole range): MASE (scaled by the
in-sample weekly naive error), 80 / 95 % coverage and the 95 % Winkler score over the same
scale, per method and per series class. Classes, judged per series and origin in this order:

- regime_change: the median of the 28 days after the origin, or of the 28 before it, is more
  than 1.5 times (or under two thirds of) the median of the 56 days before those;
- bursty: over the last 182 days, one day in 20 or more is above 3 times the median;
- yearly: two years of history whose weekly means a year apart correlate at 0.5 or more;
- steady: the rest.

Issue 22's goals: geo-mean MASE below both seasonal naive and default Prophet in every class of
five or more series; 95 % coverage 0.92-0.97 overall and >= 0.85 after a regime change; 80 %
coverage 0.75-0.85.

    python bench/bench_forecasting_real.py [--origins 6] [--step 56] [--categories 2]
        [--workers 2] [--no-prophet]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from bench_forecasting import prophet_loop

from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame
from risk_pipelines.forecasting.backtest import BacktestConfig
from risk_pipelines.forecasting.scoring import naive_scale
from risk_pipelines.forecasting.selection import run_selection, specs_by_series

HORIZON = 28
chosen_models: Counter = Counter()  # over every origin: what the weekly selection chose
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dsa_daily"
CLASSES = ("steady", "yearly", "regime_change", "bursty")


def real_series(categories: int) -> pd.DataFrame:
    """Long format, every calendar day from a series' first row to the end (absent = NaN)."""
    totals = pd.read_csv(FIXTURES / "platform_totals.csv", parse_dates=["date"])
    frames = [totals.assign(unique_id="statements|" + totals["platform"] + "|all")]
    if categories:
        by_category = pd.read_csv(FIXTURES / "platform_category.csv.gz", parse_dates=["date"])
        volume = by_category.groupby(["platform", "category"])["statements"].sum()
        top = volume.groupby(level=0, group_keys=False).nlargest(categories).index
        keep = by_category.set_index(["platform", "category"]).index.isin(top)
        chosen = by_category[keep]
        short = chosen["category"].str.removeprefix("STATEMENT_CATEGORY_").str.lower()
        frames.append(chosen.assign(unique_id="statements|" + chosen["platform"] + "|" + short))
    rows = pd.concat(frames, ignore_index=True).rename(columns={"date": "ds", "statements": "y"})
    end = rows["ds"].max()
    full = []
    for uid, group in rows.groupby("unique_id", sort=True):
        days = pd.date_range(group["ds"].min(), end, freq="D")
        y = group.set_index("ds")["y"].astype(float).reindex(days)
        full.append(pd.DataFrame({"unique_id": uid, "ds": days, "y": y.to_numpy()}))
    return pd.concat(full, ignore_index=True)


def series_class(history: np.ndarray, after: np.ndarray) -> str:
    def median(values):
        values = values[np.isfinite(values)]
        return float(np.median(values)) if len(values) else float("nan")

    def moved(a, b):
        return a > 0 and b > 0 and abs(np.log(a / b)) > np.log(1.5)

    before, recent = median(history[-84:-28]), median(history[-28:])
    if moved(median(after), recent) or moved(recent, before):
        return "regime_change"
    last = history[-182:]
    last = last[np.isfinite(last)]
    if len(last) and np.mean(last > 3 * max(np.median(last), 1.0)) >= 0.05:
        return "bursty"
    if len(history) >= 730:
        weekly = pd.Series(history[-728:]).groupby(np.arange(728) // 7).mean().to_numpy()
        pair = np.isfinite(weekly[:52]) & np.isfinite(weekly[52:])
        if pair.sum() >= 26 and np.corrcoef(weekly[:52][pair], weekly[52:][pair])[0, 1] >= 0.5:
            return "yearly"
    return "steady"


def engine_rows(history, days, specs, args, models=("seasonal_naive", "ets")):
    config = ForecastConfig(
        horizon=HORIZON, models=models, primary="ets", workers=args.workers,
        adaptive_window=args.adaptive_window,
    )  # fmt: skip
    result = forecast_series_frame(history, days, lambda _uid: "count", config, specs=specs)
    rows = result.forecasts.assign(ds=lambda f: pd.to_datetime(f["ds"]))
    return rows.assign(as_of=pd.to_datetime(rows["as_of"])), result.fitted


def score(forecasts: pd.DataFrame, actuals: pd.DataFrame, scales: pd.Series) -> pd.DataFrame:
    """Per series: MASE, covered shares and the scaled 95 % Winkler score."""
    merged = forecasts.merge(actuals, on=["unique_id", "ds"]).dropna(subset=["y", "yhat"])
    scale = merged["unique_id"].map(scales)
    y = merged["y"]
    lo, hi = merged["yhat_lo_95"], merged["yhat_hi_95"]
    outside = np.maximum(lo - y, 0) + np.maximum(y - hi, 0)
    merged = merged.assign(
        error=(y - merged["yhat"]).abs() / scale,
        in80=(y >= merged["yhat_lo_80"]) & (y <= merged["yhat_hi_80"]),
        in95=(y >= lo) & (y <= hi),
        winkler=((hi - lo) + 2 / 0.05 * outside) / scale,
    )
    per = merged.groupby("unique_id").agg(
        mase=("error", "mean"), in80=("in80", "mean"), in95=("in95", "mean"),
        winkler=("winkler", "mean"), days=("error", "size"),
    )  # fmt: skip
    return per.reset_index()


STATSFORECAST_MODELS = ("AutoETS", "AutoTheta")


def statsforecast_rows(history: pd.DataFrame, workers: int) -> dict[str, pd.DataFrame]:
    """statsforecast's AutoETS and AutoTheta (weekly season) on the log scale, as our models
    see the series (missing days interpolated there; they take no gaps), bands at 80/95 %."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    frames = []
    for uid, group in history.groupby("unique_id", sort=True):
        z = np.log1p(group.set_index("ds")["y"].astype(float)).interpolate(limit_area="inside")
        z = z.dropna()
        frames.append(pd.DataFrame({"unique_id": uid, "ds": z.index, "y": z.to_numpy()}))
    engine = StatsForecast(
        models=[AutoETS(season_length=7), AutoTheta(season_length=7)], freq="D", n_jobs=workers
    )
    out = engine.forecast(df=pd.concat(frames, ignore_index=True), h=HORIZON, level=[80, 95])
    out = out.reset_index() if "unique_id" not in out else out
    back = {}
    for name in STATSFORECAST_MODELS:
        columns = {name: "yhat"}
        for level in ("80", "95"):
            columns |= {f"{name}-lo-{level}": f"yhat_lo_{level}",
                        f"{name}-hi-{level}": f"yhat_hi_{level}"}  # fmt: skip
        frame = out[["unique_id", "ds", *columns]].rename(columns=columns)
        for column in columns.values():
            frame[column] = np.expm1(frame[column]).clip(lower=0)
        back[name] = frame
    return back


def run_origin(long, origin, args, timings) -> pd.DataFrame:
    history = long[long["ds"] <= origin]
    window = long[(long["ds"] > origin) & (long["ds"] <= origin + pd.Timedelta(days=HORIZON))]
    counts = history.dropna(subset=["y"]).groupby("unique_id").size()
    later = window.dropna(subset=["y"]).groupby("unique_id").size()
    live = sorted(set(counts[counts >= 56].index) & set(later[later >= 14].index))
    history, window = (
        history[history["unique_id"].isin(live)],
        window[window["unique_id"].isin(live)],
    )
    scales = history.groupby("unique_id")["y"].apply(lambda y: naive_scale(y.to_numpy()))
    classes = {
        uid: series_class(
            history.loc[history["unique_id"] == uid, "y"].to_numpy(),
            window.loc[window["unique_id"] == uid, "y"].to_numpy(),
        )
        for uid in live
    }
    visible_to_end = long[long["unique_id"].isin(live) & (long["ds"] < window["ds"].max())]
    next_days = list(pd.date_range(origin, origin + pd.Timedelta(days=HORIZON - 1)))
    frames = []

    def add(method: str, horizon: str, forecasts: pd.DataFrame, seconds: float) -> None:
        timings[(method, horizon)] = timings.get((method, horizon), 0.0) + seconds
        scored = score(forecasts, window, scales).assign(method=method, horizon=horizon)
        frames.append(scored)

    started = time.perf_counter()
    refresh, fitted = engine_rows(history, [origin], {}, args)
    seconds = time.perf_counter() - started
    add("seasonal_naive", "28", refresh[refresh["model"] == "seasonal_naive"], seconds / 2)
    add("refresh", "28", refresh[refresh["is_primary"]], seconds / 2)
    started = time.perf_counter()
    daily, _ = engine_rows(visible_to_end, next_days, fitted, args)
    one_step = daily[(daily["ds"] - daily["as_of"]).dt.days == 1]
    seconds = time.perf_counter() - started
    add("seasonal_naive", "next-day", one_step[one_step["model"] == "seasonal_naive"], seconds / 2)
    add("refresh", "next-day", one_step[one_step["is_primary"]], seconds / 2)

    started = time.perf_counter()
    backtests = BacktestConfig(
        windows=args.windows, step=args.window_step, window_average=args.window_average
    )
    selection = run_selection(history, lambda _uid: "count", backtests, workers=args.workers)
    specs = specs_by_series(selection.specs)
    chosen_models.update(selection.specs["model"])
    chosen, _ = engine_rows(history, [origin], specs, args)
    add("selected", "28", chosen[chosen["is_primary"]], time.perf_counter() - started)
    started = time.perf_counter()
    daily, _ = engine_rows(visible_to_end, next_days, specs, args)
    daily = daily[daily["is_primary"] & ((daily["ds"] - daily["as_of"]).dt.days == 1)]
    add("selected", "next-day", daily, time.perf_counter() - started)

    if args.prophet:
        started = time.perf_counter()
        forecasts = prophet_loop(history.dropna(subset=["y"]))
        add("prophet_default", "28", forecasts, time.perf_counter() - started)
    if args.statsforecast:
        started = time.perf_counter()
        baselines = statsforecast_rows(history.dropna(subset=["y"]), args.workers)
        seconds = (time.perf_counter() - started) / len(baselines)
        for name, forecasts in baselines.items():
            add(f"sf_{name}", "28", forecasts, seconds)
    out = pd.concat(frames, ignore_index=True)
    return out.assign(origin=origin.date(), series_class=out["unique_id"].map(classes))


def summarise(scores: pd.DataFrame, timings: dict) -> None:
    def figures(frame: pd.DataFrame) -> str:
        geo = float(np.exp(np.log(frame["mase"].clip(lower=1e-6)).mean()))
        weights = frame["days"]
        in80 = float(np.average(frame["in80"], weights=weights))
        in95 = float(np.average(frame["in95"], weights=weights))
        winkler = frame["winkler"].median()
        return f"{len(frame):6d}  {geo:7.3f}  {in80:6.3f}  {in95:6.3f}  {winkler:8.2f}"

    for horizon in ("28", "next-day"):
        part = scores[scores["horizon"] == horizon]
        print(f"\nhorizon {horizon}: series x origins, geo-mean MASE, coverage 80 / 95, "
              f"median scaled Winkler 95, seconds")  # fmt: skip
        print("method           class          n      MASE     c80     c95   Winkler")
        for method, group in part.groupby("method", sort=False):
            print(f"{method:16s} {'all':12s} {figures(group)}  {timings[(method, horizon)]:7.1f}")
            for name in CLASSES:
                mine = group[group["series_class"] == name]
                if len(mine):
                    print(f"{'':16s} {name:12s} {figures(mine)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=6)
    parser.add_argument("--step", type=int, default=56, help="days between origins")
    parser.add_argument("--categories", type=int, default=2, help="largest categories a platform")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-prophet", dest="prophet", action="store_false")
    parser.add_argument(
        "--statsforecast",
        action="store_true",
        help="also statsforecast's AutoETS and AutoTheta (pip install .[bench])",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=BacktestConfig.windows,
        help="backtest windows of the weekly selection",
    )
    parser.add_argument(
        "--window-step",
        type=int,
        default=BacktestConfig.step,
        help="days between the selection's backtest cutoffs",
    )
    parser.add_argument(
        "--window-average",
        default=BacktestConfig.window_average,
        help="how selection averages MASE over the windows: mean or geomean",
    )
    parser.add_argument(
        "--adaptive-window",
        type=int,
        default=ForecastConfig.adaptive_window,
        help="days of recent errors that widen a band (0: off)",
    )
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    long = real_series(args.categories)
    last_origin = long["ds"].max() - pd.Timedelta(days=HORIZON)
    origins = [last_origin - pd.Timedelta(days=args.step * i) for i in range(args.origins)][::-1]
    print(f"{long['unique_id'].nunique()} real series, origins "
          f"{', '.join(str(o.date()) for o in origins)}", flush=True)  # fmt: skip
    timings: dict = {}
    frames = []
    for origin in origins:
        started = time.perf_counter()
        frames.append(run_origin(long, origin, args, timings))
        print(f"  origin {origin.date()}: {frames[-1]['unique_id'].nunique()} series, "
              f"{time.perf_counter() - started:.0f}s", flush=True)  # fmt: skip
    summarise(pd.concat(frames, ignore_index=True), timings)
    print(f"\nchosen by the weekly selection (series x origins): {dict(chosen_models)}")


if __name__ == "__main__":
    main()

"""Forecasting: our weekly selection and daily refresh against a plain Prophet loop.

N synthetic daily series x 730 days (N = 1,000 by default), built to look like risk metrics:
levels from a handful to tens of thousands a day, weekly and yearly seasonality, trends,
negative-binomial noise, incident spikes, level shifts in one series in ten, and rates (a
binomial share) in one in twenty. Every method sees the first 702 days and forecasts the last
28 (horizon 28, 80/95 % intervals), all in this process's run:

- prophet_loop (the baseline): ``Prophet()`` with its defaults, fit and predicted series by
  series in one process, as a notebook would; its 80 % band is read from the 95 % one.
- each model alone through our engine (seasonal naive, ETS, our Prophet, SARIMAX on a subset).
- weekly_selection: backtests of every candidate (3 windows of 28 days), per-series choice,
  calibration factors and parameter estimation.
- daily_refresh: one run of the selected spec per series (stored parameters, calibrated bands).

Prints wall time, mean MASE (scaled by the in-sample weekly naive error), 80/95 % coverage and
the ratios to the baseline. Goals on two cores: daily refresh >= 6x faster than the Prophet loop
with MASE no worse; weekly selection of 1,000 series under 5 minutes; 95 % coverage 92-97 %.

    python bench/bench_forecasting.py [--series 1000] [--workers 2] [--sarimax-series 100]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pandas as pd

HORIZON = 28
DAYS = 730
START = pd.Timestamp("2024-01-01")
Z80, Z95 = 1.2815515655446004, 1.959963984540054


def synthetic_series(n: int, days: int = DAYS, seed: int = 42) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    ds = pd.date_range(START, periods=days, freq="D")
    t = np.arange(days)
    frames, kinds = [], {}
    for i in range(n):
        level = float(np.exp(rng.normal(np.log(300), 1.6)))
        weekly = 1 + rng.uniform(0, 0.35) * np.sin(2 * np.pi * (t + rng.integers(7)) / 7)
        yearly = 1 + rng.uniform(0, 0.25) * np.sin(2 * np.pi * (t + rng.integers(365)) / 365.25)
        trend = 1 + rng.uniform(-0.3, 0.5) * t / days
        mean = level * weekly * yearly * trend
        if rng.random() < 0.1:  # a level shift: a policy change, a new classifier
            at = rng.integers(200, days - 60)
            mean[at:] *= rng.choice([0.5, 2.0])
        uid = f"s{i:04d}"
        if rng.random() < 0.05:  # a rate: a share of a daily denominator
            denominator = rng.poisson(np.maximum(mean, 50))
            p = np.clip(rng.uniform(0.3, 0.9) * weekly / weekly.max(), 0.01, 0.99)
            y = rng.binomial(denominator, p) / np.maximum(denominator, 1)
            kinds[uid] = "rate"
        else:
            dispersion = 20.0  # negative binomial: variance = mean + mean^2 / 20
            y = rng.negative_binomial(dispersion, dispersion / (dispersion + mean)).astype(float)
            for day in rng.choice(days, rng.integers(0, 4), replace=False):  # incident spikes
                y[day] *= rng.uniform(3, 8)
            kinds[uid] = "count"
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True), kinds


def split(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cutoff = long["ds"].max() - pd.Timedelta(days=HORIZON)
    return long[long["ds"] <= cutoff], long[long["ds"] > cutoff]


def evaluate(forecasts: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Mean MASE over series and pooled 80/95 % coverage of the holdout."""
    from risk_pipelines.forecasting.scoring import naive_scale

    scale = train.groupby("unique_id")["y"].apply(lambda y: naive_scale(y.to_numpy()))
    merged = test.merge(forecasts, on=["unique_id", "ds"], how="inner")
    error = (merged["y"] - merged["yhat"]).abs() / merged["unique_id"].map(scale)
    mase = error.groupby(merged["unique_id"]).mean()
    cover = {
        level: float(
            (
                (merged["y"] >= merged[f"yhat_lo_{level}"])
                & (merged["y"] <= merged[f"yhat_hi_{level}"])
            ).mean()
        )
        for level in ("80", "95")
    }
    return {"series": int(mase.size), "mase": float(mase.mean()), **cover}


def prophet_loop(train: pd.DataFrame) -> pd.DataFrame:
    import cmdstanpy
    from prophet import Prophet

    cmdstanpy.disable_logging()
    logging.getLogger("prophet").setLevel(logging.ERROR)
    rows = []
    for uid, group in train.groupby("unique_id", sort=True):
        model = Prophet(interval_width=0.95)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(group[["ds", "y"]])
            future = model.make_future_dataframe(HORIZON, include_history=False)
            out = model.predict(future)
        half80 = (out["yhat_upper"] - out["yhat_lower"]) / 2 * Z80 / Z95
        rows.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": out["ds"],
                    "yhat": out["yhat"],
                    "yhat_lo_80": out["yhat"] - half80,
                    "yhat_hi_80": out["yhat"] + half80,
                    "yhat_lo_95": out["yhat_lower"],
                    "yhat_hi_95": out["yhat_upper"],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def engine_forecast(train, kinds, models, workers, specs=None) -> pd.DataFrame:
    from risk_pipelines.forecasting import ForecastConfig, forecast_series_frame

    config = ForecastConfig(horizon=HORIZON, models=models, primary=models[0], workers=workers)
    last = train["ds"].max().date()
    result = forecast_series_frame(train, [last], kinds.get, config, specs=specs)
    primary = result.forecasts[result.forecasts["is_primary"]]
    return primary.assign(ds=pd.to_datetime(primary["ds"]))


def timed(label: str, results: list, work, train, test, **extra):
    started = time.perf_counter()
    forecasts = work()
    seconds = time.perf_counter() - started
    row = {"method": label, "seconds": seconds, **evaluate(forecasts, train, test), **extra}
    results.append(row)
    print(
        f"  {label:<24} {seconds:8.1f} s  series {row['series']:5d}  MASE {row['mase']:.3f}  "
        f"cover80 {row['80']:.3f}  cover95 {row['95']:.3f}",
        flush=True,
    )
    return forecasts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sarimax-series", type=int, default=100)
    parser.add_argument("--skip-alone", action="store_true", help="skip the models-alone runs")
    args = parser.parse_args()

    from risk_pipelines.forecasting.backtest import BacktestConfig
    from risk_pipelines.forecasting.selection import run_selection, specs_by_series

    long, kinds = synthetic_series(args.series)
    train, test = split(long)
    print(
        f"{args.series} series x {DAYS} days, horizon {HORIZON}, {args.workers} worker(s); "
        f"{sum(k == 'rate' for k in kinds.values())} rates",
        flush=True,
    )
    results: list[dict] = []
    timed("prophet_loop (baseline)", results, lambda: prophet_loop(train), train, test)
    if not args.skip_alone:
        for model in ("seasonal_naive", "ets", "prophet"):
            timed(
                f"{model} alone",
                results,
                lambda m=model: engine_forecast(train, kinds, (m,), args.workers),
                train,
                test,
            )
        subset = sorted(kinds)[: args.sarimax_series]
        sub_train, sub_test = (
            train[train["unique_id"].isin(subset)],
            test[test["unique_id"].isin(subset)],
        )
        if subset:  # --sarimax-series 0 leaves SARIMAX out
            timed(
                f"sarimax alone ({len(subset)})",
                results,
                lambda: engine_forecast(sub_train, kinds, ("sarimax",), args.workers),
                sub_train,
                sub_test,
            )
    started = time.perf_counter()
    selection = run_selection(
        train, kinds.get, BacktestConfig(horizon=HORIZON, windows=3, step=HORIZON),
        workers=args.workers,
    )  # fmt: skip
    selection_seconds = time.perf_counter() - started
    chosen = selection.specs["model"].value_counts().to_dict()
    print(f"  weekly_selection         {selection_seconds:8.1f} s  chosen {chosen}", flush=True)
    factors = selection.specs[["factor_80", "factor_95"]].median()
    print(
        f"    calibration factors (median): 80 % {factors['factor_80']:.2f}, "
        f"95 % {factors['factor_95']:.2f}",
        flush=True,
    )
    specs = specs_by_series(selection.specs)
    uncalibrated = {uid: type(spec)(spec.model, spec.params) for uid, spec in specs.items()}
    timed(
        "daily_refresh uncalibrated",
        results,
        lambda: engine_forecast(
            train, kinds, ("ets", "seasonal_naive"), args.workers, uncalibrated
        ),
        train,
        test,
    )
    timed(
        "daily_refresh",
        results,
        lambda: engine_forecast(train, kinds, ("ets", "seasonal_naive"), args.workers, specs),
        train,
        test,
    )
    base = results[0]
    daily = results[-1]
    print()
    print(f"daily refresh vs Prophet loop: {base['seconds'] / daily['seconds']:.1f}x faster "
          f"(goal >= 6x); MASE ratio {daily['mase'] / base['mase']:.3f} (goal <= 1)")  # fmt: skip
    print(f"weekly selection: {selection_seconds:.1f} s for {args.series} series "
          f"(goal < 300 s for 1,000)")  # fmt: skip
    print(f"daily refresh 95 % coverage {daily['95']:.3f} (goal 0.92-0.97), "
          f"80 % coverage {daily['80']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()

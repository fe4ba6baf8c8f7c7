"""Replay one alert rule over history as it would have run, before it is enabled.

A true walk-forward replay, as production runs: history is cut into blocks of
``cadence_days`` (7: the weekly refit). At the start of each block the models' parameters are
estimated on the data visible that day; every later day of the block only filters the series
forward with those parameters, seeing the data up to that day. So the forecast for a day (made
the evening before, as the daily refresh does) never reads that day's actual or any later one,
and neither does the level-shift trim, the interpolation of a gap or the band's width.
``forecast_crosses`` rules get the full horizon from each day's filter; the others the next day.
The surprise indicators, the rule and the same sustain / hold / re-baseline state machine then
run day by day, and the episodes are compared with the labels analysts gave the live alerts of
the rule.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting.evaluation.breaches import matching
from risk_pipelines.alerting.evaluation.evaluate import (
    BURST_BASELINE_DAYS,
    SEASON_DAYS,
    evaluate_rule,
)
from risk_pipelines.alerting.evaluation.rules import Rule
from risk_pipelines.alerting.evaluation.state import step
from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.domain.series import split_series_id, to_long
from risk_pipelines.forecasting.engine import ForecastConfig, forecast_series_frame
from risk_pipelines.indicators.surprise import latest_prior_forecasts, surprise_indicators
from risk_pipelines.warehouse.schema import alerts, daily_metrics, rule_backtests
from risk_pipelines.warehouse.store import Warehouse

HISTORY_DAYS = 730
LABEL_WINDOW_DAYS = 2  # a live alert counts as the same episode within two days of its start


@dataclass
class RuleBacktest:
    rule: Rule
    start: dt.date
    end: dt.date
    series: int
    # unique_id, fired_on, resolved_on (NaT while still firing), significance at firing, label
    episodes: pd.DataFrame
    days: int

    def alerts_per_week(self) -> pd.Series:
        """Alerts fired in each Monday-to-Sunday week of the range, quiet weeks included."""
        weeks = pd.period_range(self.start, self.end, freq="W-SUN")
        fired = pd.to_datetime(self.episodes["fired_on"]).dt.to_period("W-SUN")
        return fired.value_counts().reindex(weeks, fill_value=0).rename("alerts")

    def precision(self) -> float | None:
        labelled = self.episodes["label"].dropna()
        if labelled.empty:
            return None
        return float(labelled.isin(["confirmed", "new_trend"]).mean())


def record_backtest(
    warehouse: Warehouse, result: RuleBacktest, cadence_days: int, now: dt.datetime
) -> int:
    """Keep a backtest's figures (the console's rules page shows each rule's newest)."""
    weekly = result.alerts_per_week()
    values = {
        "rule_id": result.rule.id, "ran_at": now, "start_ds": result.start, "end_ds": result.end,
        "series": result.series, "alerts": len(result.episodes),
        "alerts_per_week": float(weekly.mean()) if len(weekly) else 0.0,
        "precision": result.precision(), "cadence_days": cadence_days,
    }  # fmt: skip
    with warehouse.engine.begin() as conn:
        return int(conn.execute(sa.insert(rule_backtests).values(**values)).inserted_primary_key[0])


def backtest_rule(
    warehouse: Warehouse,
    rule: Rule,
    start: dt.date,
    end: dt.date,
    *,
    cadence_days: int = 7,
    workers: int = 1,
    replayed: Replayed | None = None,
) -> RuleBacktest:
    """``replayed``: indicators already replayed for the rule's series (``backtest_rules``)."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    if replayed is not None:
        episodes = _replay(rule, replayed.indicators, pd.DataFrame(), start, end)
        episodes["label"] = _labels(warehouse, rule, episodes)
        series = matching(rule, replayed.metrics)["unique_id"].nunique()
        return RuleBacktest(rule, start, end, series, episodes, (end - start).days + 1)
    metrics = _matching_metrics(warehouse, rule, start - dt.timedelta(days=HISTORY_DAYS), end)
    if metrics.empty:
        raise ValueError(
            f"rule {rule.id!r} matches no series with data in {start}..{end} "
            f"(match: {({k: m.describe() for k, m in rule.match.items()}) or 'any'})"
        )
    if rule.type == "absent":  # judged on the metrics themselves: no forecast to replay
        episodes = _replay(rule, pd.DataFrame(), pd.DataFrame(), start, end, metrics)
        episodes["label"] = _labels(warehouse, rule, episodes)
        series = metrics["unique_id"].nunique()
        return RuleBacktest(rule, start, end, series, episodes, (end - start).days + 1)
    horizon = 28 if rule.type == "forecast_crosses" else 1
    replayed = replay_series(metrics, start, end, horizon, cadence_days, workers)
    episodes = _replay(rule, replayed.indicators, replayed.forecasts, start, end)
    episodes["label"] = _labels(warehouse, rule, episodes)
    return RuleBacktest(
        rule, start, end, metrics["unique_id"].nunique(), episodes, (end - start).days + 1
    )


def backtest_rules(
    warehouse: Warehouse,
    rules: list[Rule],
    start: dt.date,
    end: dt.date,
    *,
    cadence_days: int = 7,
    workers: int = 1,
) -> list[RuleBacktest]:
    """Several rules over one replay: a series that several band rules watch (a surge and a
    drop rule) is forecast once."""
    banded = [r for r in rules if r.type not in ("absent", "forecast_crosses")]
    replayed = None
    if banded:
        first = start - dt.timedelta(days=HISTORY_DAYS)
        parts = [_matching_metrics(warehouse, r, first, end) for r in banded]
        metrics = pd.concat(parts, ignore_index=True).drop_duplicates(["unique_id", "ds"])
        if not metrics.empty:
            replayed = replay_series(metrics, start, end, 1, cadence_days, workers)
    return [
        backtest_rule(
            warehouse, rule, start, end, cadence_days=cadence_days, workers=workers,
            replayed=replayed if rule in banded and replayed is not None else None,
        )
        for rule in rules
    ]  # fmt: skip


@dataclass
class Replayed:
    """Series replayed walk-forward: their metrics, the forecasts and the indicators."""

    metrics: pd.DataFrame
    forecasts: pd.DataFrame
    indicators: pd.DataFrame


def replay_series(
    metrics: pd.DataFrame, start: dt.date, end: dt.date, horizon: int, cadence_days: int,
    workers: int,
) -> Replayed:  # fmt: skip
    long = to_long(metrics[["unique_id", "ds", "value"]])
    forecasts = walk_forward_forecasts(long, start, end, horizon, cadence_days, workers)
    forecasts = forecasts.merge(
        metrics.drop_duplicates("unique_id")[
            ["unique_id", "metric", "platform", "policy_category", "region", "surface"]
        ],
        on="unique_id",
    )
    # The weeks before the first judged day too: count_burst floors its expected total by the
    # series' own rate over them, as the live evaluation reads them (stages/alerts.py).
    first = pd.Timestamp(start) - pd.Timedelta(days=BURST_BASELINE_DAYS + SEASON_DAYS)
    actuals = metrics[(metrics["ds"] >= first) & (metrics["ds"] <= pd.Timestamp(end))]
    indicators = surprise_indicators(actuals, latest_prior_forecasts(forecasts), spec_for)
    return Replayed(metrics, forecasts, indicators)


def walk_forward_forecasts(
    long: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    horizon: int = 1,
    cadence_days: int = 7,
    workers: int = 1,
) -> pd.DataFrame:
    """The primary forecasts made as of every day from ``start - 1`` to ``end - 1``, each from
    the data through its as-of day only, with parameters re-estimated every ``cadence_days``."""
    days = list(pd.date_range(start - dt.timedelta(days=1), end - dt.timedelta(days=1)))
    blocks = [days[i : i + cadence_days] for i in range(0, len(days), cadence_days)]
    run_block = partial(_forecast_block, long, horizon)
    if workers > 1 and len(blocks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(run_block, blocks))
    else:
        parts = [run_block(block) for block in blocks]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _forecast_block(long: pd.DataFrame, horizon: int, as_of_days: list) -> pd.DataFrame:
    config = ForecastConfig(horizon=horizon, workers=1)
    refit = forecast_series_frame(long[long["ds"] <= as_of_days[0]], as_of_days[:1], _kind, config)
    frames = [refit.forecasts]
    for day in as_of_days[1:]:
        visible = long[long["ds"] <= day]
        frames.append(
            forecast_series_frame(visible, [day], _kind, config, specs=refit.fitted).forecasts
        )
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True) if frames else None
    return frame[frame["is_primary"]] if frame is not None and not frame.empty else pd.DataFrame()


def _kind(unique_id: str) -> str:
    return spec_for(split_series_id(unique_id)["metric"]).kind


def _matching_metrics(warehouse, rule: Rule, first: dt.date, last: dt.date) -> pd.DataFrame:
    t = daily_metrics
    conditions = [t.c.ds.between(first, last)]
    for key, matcher in rule.match.items():
        if matcher.values:
            values = sorted(matcher.values)
            conditions.append(t.c[key].not_in(values) if matcher.negate else t.c[key].in_(values))
    frame = warehouse.read_query(sa.select(t).where(*conditions))
    frame["ds"] = pd.to_datetime(frame["ds"])
    return frame


def _replay(rule, indicators, forecasts, start, end, metrics=None) -> pd.DataFrame:
    open_alerts, episodes = {}, []
    # uid -> (the day it fired, its significance then: what routes judged it by)
    started: dict[str, tuple[dt.date, float | None]] = {}
    for day in pd.date_range(start, end):
        today_fc = (
            forecasts[(forecasts["as_of"] == day)] if rule.type == "forecast_crosses" else None
        )
        if today_fc is not None and not today_fc.empty:
            today_fc = today_fc.assign(horizon=(today_fc["ds"] - day).dt.days)
        evaluation = evaluate_rule(
            rule, day, indicators, today_fc if today_fc is not None else pd.DataFrame(), metrics
        )
        for t in step(open_alerts, evaluation, day.date()):
            key = (t.after.rule_id, t.after.unique_id)
            if t.notify == "firing":
                started[t.after.unique_id] = (day.date(), t.after.significance)
            if t.notify == "resolved":
                fired, significance = started.pop(t.after.unique_id)
                episodes.append((t.after.unique_id, fired, day.date(), significance))
            if t.after.state == "resolved":
                open_alerts.pop(key, None)
            else:
                open_alerts[key] = t.after
    episodes += [(uid, fired, None, sig) for uid, (fired, sig) in started.items()]
    frame = pd.DataFrame(episodes, columns=["unique_id", "fired_on", "resolved_on", "significance"])
    return frame.sort_values(["fired_on", "unique_id"], ignore_index=True)


def _labels(warehouse: Warehouse, rule: Rule, episodes: pd.DataFrame) -> list:
    """The label of the live alert of the same series that started within two days."""
    live = warehouse.read_query(
        sa.select(alerts.c.unique_id, alerts.c.first_breach_ds, alerts.c.label).where(
            alerts.c.rule_id == rule.id, alerts.c.label.is_not(None)
        )
    )
    if live.empty or episodes.empty:
        return [None] * len(episodes)
    live["first_breach_ds"] = pd.to_datetime(live["first_breach_ds"])
    labels = []
    for row in episodes.to_dict("records"):
        gap = (live["first_breach_ds"] - pd.Timestamp(row["fired_on"])).dt.days.abs()
        near = live[(live["unique_id"] == row["unique_id"]) & (gap <= LABEL_WINDOW_DAYS)]
        labels.append(near["label"].iloc[0] if not near.empty else None)
    return labels

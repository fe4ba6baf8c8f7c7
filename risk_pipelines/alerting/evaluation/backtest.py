"""Replay one alert rule over history as it would have run, before it is enabled.

Walk-forward: history is cut into blocks of ``cadence_days`` (7: the weekly refit of
production). For each block the forecasting engine runs on the data before the block's last
day only, with the models of the daily refresh (ETS, seasonal-naive baseline, recent level for
thin series), and gives for each day of the block the forecast made the day before, from the
model's causal filter. So a day's forecast never sees that day or later actuals; parameters
are re-estimated once per block, as the weekly selection does. ``forecast_crosses`` rules need
the full horizon as of every day, so they get one engine run per day instead (they usually
match a few series). The surprise indicators, the rule and the same sustain / hold / hysteresis
state machine then run day by day, and the episodes are compared with the labels analysts gave
the live alerts of the rule.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting.evaluation.evaluate import evaluate_rule
from risk_pipelines.alerting.evaluation.rules import Rule
from risk_pipelines.alerting.evaluation.state import step
from risk_pipelines.domain.catalog import spec_for
from risk_pipelines.domain.series import split_series_id, to_long
from risk_pipelines.forecasting.engine import ForecastConfig, forecast_series_frame
from risk_pipelines.indicators.surprise import latest_prior_forecasts, surprise_indicators
from risk_pipelines.warehouse.schema import alerts, daily_metrics
from risk_pipelines.warehouse.store import Warehouse

HISTORY_DAYS = 730
LABEL_WINDOW_DAYS = 2  # a live alert counts as the same episode within two days of its start


@dataclass
class RuleBacktest:
    rule: Rule
    start: dt.date
    end: dt.date
    series: int
    episodes: pd.DataFrame  # unique_id, fired_on, resolved_on (NaT while still firing), label
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


def backtest_rule(
    warehouse: Warehouse,
    rule: Rule,
    start: dt.date,
    end: dt.date,
    *,
    cadence_days: int = 7,
    workers: int = 1,
) -> RuleBacktest:
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
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
    long = to_long(metrics[["unique_id", "ds", "value"]])
    if rule.type == "forecast_crosses":
        blocks = [
            [day] for day in pd.date_range(start - dt.timedelta(days=1), end - dt.timedelta(days=1))
        ]
    else:
        days = list(pd.date_range(start - dt.timedelta(days=1), end - dt.timedelta(days=1)))
        blocks = [days[i : i + cadence_days] for i in range(0, len(days), cadence_days)]
    run_block = partial(_forecast_block, long)
    if workers > 1 and len(blocks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(run_block, blocks))
    else:
        parts = [run_block(block) for block in blocks]
    forecasts = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    forecasts = forecasts.merge(
        metrics.drop_duplicates("unique_id")[
            ["unique_id", "metric", "platform", "policy_category", "region", "surface"]
        ],
        on="unique_id",
    )
    actuals = metrics[(metrics["ds"] >= pd.Timestamp(start)) & (metrics["ds"] <= pd.Timestamp(end))]
    indicators = surprise_indicators(actuals, latest_prior_forecasts(forecasts), spec_for)
    episodes = _replay(rule, indicators, forecasts, start, end)
    episodes["label"] = _labels(warehouse, rule, episodes)
    return RuleBacktest(
        rule, start, end, metrics["unique_id"].nunique(), episodes, (end - start).days + 1
    )


def _forecast_block(long: pd.DataFrame, as_of_days: list[pd.Timestamp]) -> pd.DataFrame:
    config = ForecastConfig(horizon=28 if len(as_of_days) == 1 else 1, workers=1)
    visible = long[long["ds"] <= as_of_days[-1]]
    result = forecast_series_frame(visible, as_of_days, _kind, config)
    frame = result.forecasts
    return frame[frame["is_primary"]] if not frame.empty else frame


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
    started: dict[str, dt.date] = {}
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
                started[t.after.unique_id] = day.date()
            if t.notify == "resolved":
                episodes.append((t.after.unique_id, started.pop(t.after.unique_id), day.date()))
            if t.after.state == "resolved":
                open_alerts.pop(key, None)
            else:
                open_alerts[key] = t.after
    episodes += [(uid, fired, None) for uid, fired in started.items()]
    frame = pd.DataFrame(episodes, columns=["unique_id", "fired_on", "resolved_on"])
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

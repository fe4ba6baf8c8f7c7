"""Indicators derived from several days or several series, beside each metric's own surprise
score (surprise.py). Each row has the risk_indicators shape; ``indicator`` names what it is.

week_over_week (count metrics): the last 7 days' total against the 7 before, as a change
  (0.5 = +50 %); numerator and denominator are the two totals. Not computed below
  ``MIN_WEEKLY_TOTAL`` in the earlier week. Level, on the risky side of the metric:
  elevated from +50 %, high from +100 %, critical from +200 % (a drop of the same fractions
  for metrics whose risky direction is down).
category_mix_shift (user reports): each policy category's share of the last 7 days' reports
  against its share over the 28 days before. Score: the binomial z of the shift,
  ``(share - baseline) / sqrt(baseline (1 - baseline) / n)``, positive when a category
  emerges; level from the score as for surprises.
capacity_risk (capacity.yaml): the forecast review volume against reviewer capacity. The
  projected backlog carries over day to day, ``b[h] = max(0, b[h-1] + volume[h] - capacity)``,
  and the SLA breaks on the first day the backlog exceeds what reviewers clear within the SLA
  (``capacity * sla_hours / 24``). value: peak projected backlog at the forecast; expected:
  the SLA backlog limit; upper: peak backlog at the 80 % upper bound. Level: critical when the
  forecast breaks the SLA within 3 days, high within 7, elevated within the horizon or when
  the upper bound breaks it within 7 days.
composite_risk (per policy area): the highest score among the area's indicators that day,
  raised to the next level when three or more of them are elevated or worse (a broad problem
  outranks a single noisy series). The note names the top three drivers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from risk_pipelines.domain.catalog import MetricSpec
from risk_pipelines.domain.series import series_id
from risk_pipelines.domain.taxonomy import ALL
from risk_pipelines.indicators.surprise import (
    INDICATOR_COLUMNS,
    LEVEL_THRESHOLDS,
    LEVELS,
    Z95,
    level_for,
)

MIN_WEEKLY_TOTAL = 70
WOW_LEVELS = ((2.0, "critical"), (1.0, "high"), (0.5, "elevated"))
LEVEL_SCORE = {"ok": 0.0, **{level: score for level, score in LEVEL_THRESHOLDS}}
MIX_METRIC = "user_reports"


def _rows(frame: pd.DataFrame, indicator: str) -> pd.DataFrame:
    out = frame.assign(indicator=indicator)
    for column in INDICATOR_COLUMNS:
        if column not in out:
            out[column] = None
    return out[INDICATOR_COLUMNS]


def week_over_week(
    metrics: pd.DataFrame, days: list, spec_of: Callable[[str], MetricSpec]
) -> pd.DataFrame:
    """``metrics``: daily_metrics rows covering 13 days before the first of ``days``."""
    counts = metrics[metrics["metric"].map(lambda m: spec_of(m).kind == "count")]
    if counts.empty:
        return _rows(pd.DataFrame(), "week_over_week")
    wide = counts.pivot_table(index="ds", columns="unique_id", values="value", aggfunc="sum")
    wide.index = pd.to_datetime(wide.index)
    wide = wide.asfreq("D")
    this_week = wide.rolling(7, min_periods=7).sum()
    last_week = this_week.shift(7)
    wanted = pd.to_datetime(pd.Index(sorted(days)))
    this_week, last_week = this_week.reindex(wanted), last_week.reindex(wanted)
    frame = pd.DataFrame(
        {
            "numerator": this_week.stack(future_stack=True),
            "denominator": last_week.stack(future_stack=True),
        }
    ).reset_index(names=["ds", "unique_id"])
    frame = frame.dropna(subset=["numerator", "denominator"])
    frame = frame[frame["denominator"] >= MIN_WEEKLY_TOTAL]
    dims = counts.drop_duplicates("unique_id").set_index("unique_id")
    for column in ("metric", "platform", "policy_category", "region", "surface"):
        frame[column] = frame["unique_id"].map(dims[column])
    frame["value"] = frame["numerator"] / frame["denominator"] - 1.0
    directions = frame["metric"].map(lambda m: spec_of(m).direction).astype(object)
    risky = frame["value"] * np.where(directions == "down", -1.0, 1.0)
    both = (directions == "both").to_numpy()
    risky = risky.where(~both, frame["value"].abs())
    frame["level"] = [_wow_level(r) for r in risky]
    frame["score"] = frame["level"].map(LEVEL_SCORE)
    frame["expected"] = 0.0
    frame["ds"] = frame["ds"].dt.date
    return _rows(frame, "week_over_week")


def _wow_level(change: float) -> str:
    for line, level in WOW_LEVELS:
        if change >= line:
            return level
    return "ok"


def category_mix_shift(
    metrics: pd.DataFrame, days: list, window: int = 7, baseline_days: int = 28
) -> pd.DataFrame:
    """Each category's share of user reports in the last ``window`` days against the
    ``baseline_days`` before; ``metrics`` must reach back window + baseline days."""
    reports = metrics[
        (metrics["metric"] == MIX_METRIC)
        & (metrics["policy_category"] != ALL)
        & (metrics["surface"] == ALL)
    ]
    if reports.empty:
        return _rows(pd.DataFrame(), "category_mix_shift")
    by_category = reports.pivot_table(
        index="ds", columns=["platform", "policy_category"], values="value", aggfunc="sum"
    )
    by_category.index = pd.to_datetime(by_category.index)
    by_category = by_category.asfreq("D")
    recent = by_category.rolling(window, min_periods=window).sum()
    baseline = by_category.shift(window).rolling(baseline_days, min_periods=baseline_days).sum()
    rows = []
    for day in sorted(days):
        ts = pd.Timestamp(day)
        if ts not in recent.index or recent.loc[ts].isna().all():
            continue
        now, before = recent.loc[ts], baseline.loc[ts]
        for platform in now.index.get_level_values(0).unique():
            n_now, n_before = now[platform].sum(), before[platform].sum()
            if n_now <= 0 or not n_before > 0:
                continue
            for category, count in now[platform].items():
                share, base = count / n_now, before[platform][category] / n_before
                sd = math.sqrt(max(base * (1 - base), 1e-9) / n_now)
                score = (share - base) / sd
                rows.append({
                    "ds": day, "unique_id": series_id(MIX_METRIC, platform, category, ALL, ALL),
                    "metric": MIX_METRIC, "platform": platform, "policy_category": category,
                    "region": ALL, "surface": ALL, "value": share, "expected": base,
                    "lower": max(0.0, base - Z95 * sd), "upper": base + Z95 * sd,
                    "score": score, "level": level_for(score), "numerator": count,
                    "denominator": n_now,
                    "note": f"{share:.1%} of the last {window} days' reports against "
                    f"{base:.1%} over the {baseline_days} days before",
                })  # fmt: skip
    return _rows(pd.DataFrame(rows), "category_mix_shift")


# -- capacity ----------------------------------------------------------------------------------


class CapacityError(ValueError):
    """A capacity file that cannot be used; the message names the file, queue and field."""


@dataclass(frozen=True)
class ReviewQueue:
    name: str
    metric: str
    reviews_per_day: float
    sla_hours: float
    match: dict[str, str] = field(default_factory=dict)
    backlog_now: float = 0.0

    @property
    def sla_backlog(self) -> float:
        return self.reviews_per_day * self.sla_hours / 24.0


def load_capacities(path: Path) -> list[ReviewQueue]:
    """``capacity.yaml``; no file means no capacity indicator."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CapacityError(f"{path}: not valid YAML: {exc}") from exc
    return parse_capacities(document, source=str(path))


def parse_capacities(document: Any, source: str = "<capacity>") -> list[ReviewQueue]:
    if not isinstance(document, dict) or not isinstance(document.get("review_queues"), list):
        raise CapacityError(f"{source}: expected a mapping with a 'review_queues' list")
    queues, allowed = [], {"name", "metric", "match", "reviews_per_day", "sla_hours", "backlog_now"}
    for position, raw in enumerate(document["review_queues"], 1):
        where = f"{source}: queue #{position}"
        if not isinstance(raw, dict):
            raise CapacityError(f"{where}: expected a mapping")
        where = f"{source}: queue {raw.get('name', position)!r}"
        unknown = set(raw) - allowed
        if unknown:
            raise CapacityError(f"{where}: unknown field(s) {sorted(unknown)}")
        for key in ("name", "metric"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise CapacityError(f"{where}: '{key}' is required (a string)")
        numbers = {}
        for key, minimum in (("reviews_per_day", 1e-9), ("sla_hours", 1e-9), ("backlog_now", 0)):
            value = raw.get(key, 0 if key == "backlog_now" else None)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
                raise CapacityError(
                    f"{where}: '{key}' must be a number {'>= 0' if minimum == 0 else '> 0'}, "
                    f"got {value!r}"
                )
            numbers[key] = float(value)
        match = raw.get("match") or {}
        if not isinstance(match, dict):
            raise CapacityError(f"{where}: 'match' must be a mapping of series dimensions")
        queues.append(
            ReviewQueue(
                raw["name"], raw["metric"], match={k: str(v) for k, v in match.items()}, **numbers
            )  # fmt: skip
        )
    return queues


def capacity_risk(forecasts: pd.DataFrame, queues: list[ReviewQueue], day) -> pd.DataFrame:
    """``forecasts``: the primary full-horizon forecasts made as of ``day``."""
    rows = []
    for queue in queues:
        mask = forecasts["metric"] == queue.metric
        for key, value in {"region": ALL, "surface": ALL, **queue.match}.items():
            mask &= forecasts[key] == value
        if "policy_category" not in queue.match:
            mask &= forecasts["policy_category"] == ALL
        selected = forecasts[mask]
        if selected.empty:
            continue
        volume = selected.groupby("ds")[["yhat", "yhat_hi_80"]].sum().sort_index()
        at_forecast = _backlog(volume["yhat"].to_numpy(), queue)
        at_upper = _backlog(volume["yhat_hi_80"].to_numpy(), queue)
        breach = _first_breach(at_forecast, queue.sla_backlog)
        breach_upper = _first_breach(at_upper, queue.sla_backlog)
        dates = list(volume.index)
        if breach is not None and breach < 3:
            level = "critical"
        elif breach is not None and breach < 7:
            level = "high"
        elif breach is not None or (breach_upper is not None and breach_upper < 7):
            level = "elevated"
        else:
            level = "ok"
        when = (
            f"the SLA breaks on {pd.Timestamp(dates[breach]):%Y-%m-%d} at the forecast"
            if breach is not None
            else f"no SLA breach within {len(dates)} days at the forecast"
        )
        if breach_upper is not None:
            when += f"; {pd.Timestamp(dates[breach_upper]):%Y-%m-%d} at the 80% upper bound"
        first = selected.iloc[0]
        rows.append({
            "ds": day, "unique_id": f"capacity_risk|{queue.name}", "metric": queue.metric,
            "platform": first["platform"], "policy_category": first["policy_category"],
            "region": first["region"], "surface": first["surface"],
            "value": float(at_forecast.max()), "expected": queue.sla_backlog,
            "lower": 0.0, "upper": float(at_upper.max()), "score": LEVEL_SCORE[level],
            "level": level, "numerator": float(volume["yhat"].iloc[:7].sum()),
            "denominator": queue.reviews_per_day * min(7, len(volume)),
            "note": f"queue {queue.name}: {when}"[:200],
        })  # fmt: skip
    return _rows(pd.DataFrame(rows), "capacity_risk")


def _backlog(volume: np.ndarray, queue: ReviewQueue) -> np.ndarray:
    backlog, level = np.empty(len(volume)), queue.backlog_now
    for h, arriving in enumerate(volume):
        level = max(0.0, level + arriving - queue.reviews_per_day)
        backlog[h] = level
    return backlog


def _first_breach(backlog: np.ndarray, limit: float) -> int | None:
    over = np.flatnonzero(backlog > limit)
    return int(over[0]) if len(over) else None


# -- composite ---------------------------------------------------------------------------------


def composite_risk(indicators: pd.DataFrame) -> pd.DataFrame:
    """One row per day and policy area from that day's indicator rows (see module doc). Built
    with group operations, not a loop over groups: a two-year backfill has ~12,000 of them."""
    keys = ["ds", "platform", "policy_category"]
    scored = indicators[(indicators["policy_category"] != ALL) & indicators["score"].notna()]
    if scored.empty:
        return _rows(pd.DataFrame(columns=keys), "composite_risk")
    # The three highest scores per group, ties in their original order (as nlargest keeps them).
    ordered = scored.assign(position=np.arange(len(scored))).sort_values(
        [*keys, "score", "position"], ascending=[True, True, True, False, True]
    )
    top = ordered[ordered.groupby(keys, sort=False).cumcount() < 3]
    region = top["region"].astype(str)
    driver = (
        top["indicator"].astype(str)
        + np.where(region != ALL, " [" + region + "]", "")
        + " " + top["level"].astype(str)
        + " (" + top["score"].map("{:.1f}".format) + ")"
    )  # fmt: skip
    grouped = top.assign(driver=driver).groupby(keys, sort=True)
    out = grouped.agg(score=("score", "first"), drivers=("driver", ", ".join)).reset_index()
    elevated = (scored["level"] != "ok").groupby([scored[k] for k in keys], sort=True).sum()
    out["broad"] = elevated.to_numpy(dtype=int)
    base = out["score"].map(level_for)
    # Three or more elevated indicators in one area lift its level one step (not past critical).
    lifted = base.map(lambda level: LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)])
    lift = (out["broad"] >= 3) & (base != "critical")
    out["level"] = base.where(~lift, lifted)
    out["score"] = out["score"].where(
        ~lift, np.maximum(out["score"], out["level"].map(LEVEL_SCORE))
    )
    out["note"] = (
        out["broad"].astype(str) + " indicator(s) elevated or worse; top: " + out["drivers"]
    ).str.slice(0, 200)
    return _rows(
        out.assign(
            unique_id=[
                series_id("composite_risk", p, c, ALL, ALL)
                for p, c in zip(out["platform"], out["policy_category"], strict=True)
            ],
            metric="composite_risk", region=ALL, surface=ALL, value=out["broad"].astype(float),
        ).drop(columns=["drivers", "broad"]),
        "composite_risk",
    )  # fmt: skip

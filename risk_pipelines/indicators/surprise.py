"""Actual-vs-forecast indicators: every series' surprise score and risk level.

score: the surprise on the 95 % scale, ``(actual - expected) / sigma`` where sigma is read from
the side of the 95 % band the actual fell on (bands are asymmetric after the log/logit
transforms), signed so that a positive score is the risky direction of the metric.

level (documented for leadership):
  ok        score < 1.96            inside the 95 % band, or outside on the harmless side
  elevated  1.96 <= score < 3       outside the 95 % band on the risky side
  high      3 <= score < 5
  critical  score >= 5
A rate whose denominator is below the minimum is stored but not scored (level ok, with a note).

A rate with its numerator and denominator is also capped by sampling evidence: its score never
exceeds the z of the exact binomial tail, i.e. how unlikely that many (or that few) events are
among that many trials if the expected rate held. A forecast band for a rare-event rate can be
nearly flat at zero; one overturn in 40 automated decisions where 0.1 % was expected is then a
"300 sigma" surprise on the band, yet happens 4 % of days by chance alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from risk_pipelines.domain.catalog import MetricSpec

Z95 = 1.959963984540054
LEVEL_THRESHOLDS = (("critical", 5.0), ("high", 3.0), ("elevated", Z95))
LEVELS = ("ok", "elevated", "high", "critical")
MIN_DENOMINATOR = 30

INDICATOR_COLUMNS = [
    "ds",
    "indicator",
    "unique_id",
    "metric",
    "platform",
    "policy_category",
    "region",
    "surface",
    "value",
    "expected",
    "lower",
    "upper",
    "score",
    "level",
    "numerator",
    "denominator",
    "model",
    "as_of",
    "note",
]


def level_for(score: float | None) -> str:
    if score is None or not np.isfinite(score):
        return "ok"
    for level, threshold in LEVEL_THRESHOLDS:
        if score >= threshold:
            return level
    return "ok"


def surprise_indicators(
    actuals: pd.DataFrame,
    forecasts: pd.DataFrame,
    spec_of: Callable[[str], MetricSpec],
    min_denominator: int = MIN_DENOMINATOR,
) -> pd.DataFrame:
    """One indicator row per actual: ``actuals`` are daily_metrics rows; ``forecasts`` hold, per
    (unique_id, ds), the primary forecast made before that day (the newest such as_of)."""
    if actuals.empty:
        return typed_indicators(pd.DataFrame(columns=INDICATOR_COLUMNS))
    keep = ["unique_id", "ds", "yhat", "yhat_lo_95", "yhat_hi_95", "model", "as_of"]
    frame = actuals.merge(forecasts[keep], on=["unique_id", "ds"], how="left")
    value, expected = frame["value"].to_numpy(float), frame["yhat"].to_numpy(float)
    lower, upper = frame["yhat_lo_95"].to_numpy(float), frame["yhat_hi_95"].to_numpy(float)
    above = value >= expected
    sigma = np.where(above, upper - expected, expected - lower) / Z95
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(sigma > 1e-12, (value - expected) / sigma, np.nan)
        # Exact hits on a zero-width band (a flat series) are no surprise.
        raw = np.where((sigma <= 1e-12) & (value == expected), 0.0, raw)
    specs = frame["metric"].map(spec_of)
    direction = specs.map(lambda s: s.direction).to_numpy()
    kinds = specs.map(lambda s: s.kind).to_numpy()
    score = np.where(direction == "down", -raw, np.where(direction == "both", np.abs(raw), raw))
    score = _capped_by_sampling_evidence(score, frame, expected, kinds, above)
    note = np.where(np.isnan(expected), "no forecast made before this day", None).astype(object)
    thin = (kinds == "rate") & (frame["denominator"].fillna(0).to_numpy() < min_denominator)
    score = np.where(thin, np.nan, score)
    note = np.where(thin, f"denominator below {min_denominator}: not scored", note)
    out = frame.assign(
        indicator=frame["metric"],
        expected=expected,
        lower=lower,
        upper=upper,
        score=score,
        note=note,
    )
    out["level"] = [level_for(s) for s in score]
    return typed_indicators(out[INDICATOR_COLUMNS]).sort_values(
        ["ds", "unique_id"], ignore_index=True
    )


def _capped_by_sampling_evidence(score, frame, expected, kinds, above) -> np.ndarray:
    from scipy.stats import binom, norm

    k = frame["numerator"].to_numpy(float) if "numerator" in frame else np.full(len(frame), np.nan)
    n = frame["denominator"].to_numpy(float) if "denominator" in frame else np.full_like(k, np.nan)
    # Only true proportions: counts of events among counted trials, expected inside (0, 1).
    applies = (
        (kinds == "rate") & (score > 0) & (n >= 1) & (k >= 0) & (k <= n)
        & (expected > 0) & (expected < 1)
    )  # fmt: skip
    if not applies.any():
        return score
    kk, nn, pp = np.round(k[applies]), np.round(n[applies]), expected[applies]
    # The tail on the side the actual fell: at least k events, or at most k.
    tail = np.where(above[applies], binom.sf(kk - 1, nn, pp), binom.cdf(kk, nn, pp))
    evidence = np.maximum(norm.isf(np.clip(tail, 1e-300, 1.0)), 0.0)
    capped = score.copy()
    capped[applies] = np.minimum(score[applies], evidence)
    return capped


def typed_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns stay float64 even with no row or no forecast, so callers can rank."""
    numeric = ["value", "expected", "lower", "upper", "score", "numerator", "denominator"]
    return frame.astype(dict.fromkeys(numeric, "float64"))


def latest_prior_forecasts(forecasts: pd.DataFrame) -> pd.DataFrame:
    """For each (unique_id, ds), the primary forecast with the newest as_of before ds (and of
    that as_of, the newest run, when ``created_at`` tells the runs apart)."""
    if forecasts.empty:
        return forecasts
    prior = forecasts[(forecasts["as_of"] < forecasts["ds"]) & forecasts["is_primary"]]
    order = ["unique_id", "ds", "as_of", *(["created_at"] if "created_at" in prior else [])]
    prior = prior.sort_values(order)
    return prior.drop_duplicates(["unique_id", "ds"], keep="last")

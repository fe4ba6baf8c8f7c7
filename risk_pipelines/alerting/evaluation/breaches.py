"""What an evaluation says: each breach with its message, every series judged, and how rules
pick and name their series."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from risk_pipelines.alerting.evaluation.rules import Rule


@dataclass(frozen=True)
class Breach:
    observed: float
    threshold: float
    message: str
    score: float | None = None  # the surprise score, where the rule works on one
    significance: float | None = None  # one day's (alerting/evaluation/significance.py)


@dataclass(frozen=True)
class Evaluation:
    """For one rule and day: every series the rule could judge, and those that breached."""

    rule: Rule
    evaluated: frozenset[str]
    breaches: dict[str, Breach]
    dims: dict[str, dict[str, str]]
    values: dict[str, float]  # the value the rule compared, per evaluated series


DIMS = ["metric", "policy_category", "region", "surface", "platform"]


def matching(rule: Rule, frame: pd.DataFrame) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    if "indicator" in frame:
        # A rule judges the metric's own indicator unless it names a derived one.
        mask &= frame["indicator"] == (rule.indicator or frame["metric"])
    for key, matcher in rule.match.items():
        mask &= matcher.mask(frame[key])
    return frame[mask]


def describe(row) -> str:
    """The series in words: the metric, every dimension that is not ``all``, and the platform
    (which peer, in a deployment that watches several)."""
    where = [row["policy_category"], row["region"], row["surface"]]
    scope = ", ".join(v for v in where if v != "all") or "all content"
    platform = row.get("platform")
    on = f" on {platform}" if platform not in (None, "all") and pd.notna(platform) else ""
    return f"{row['metric']} ({scope}){on}"


def dims_of(rows: pd.DataFrame) -> dict[str, dict[str, str]]:
    if rows.empty:
        return {}
    first = rows.drop_duplicates("unique_id")
    return {r["unique_id"]: {k: r[k] for k in DIMS} for r in first.to_dict("records")}

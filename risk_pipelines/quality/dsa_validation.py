"""The DSA source's quality gate: its Great Expectations suite on the day's counts and on a
one-row profile of the read (rejected and duplicate shares, volume against recent days)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from risk_pipelines.quality.gx_runner import ExpectationOutcome, validate_frame
from risk_pipelines.quality.suite import Suite, load_suite
from risk_pipelines.sources.dsa import AGGREGATE_KEYS, DsaDay

SUITE = "dsa_statements"


@dataclass
class DsaVerdict:
    outcomes: list[ExpectationOutcome]
    profile: pd.DataFrame

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def blocked(self) -> bool:
        return bool(self.failures)

    def describe(self) -> str:
        if not self.failures:
            return f"{SUITE}: {len(self.outcomes)} expectations passed"
        reasons = "; ".join(dict.fromkeys(o.reason for o in self.failures))
        return f"{SUITE}: day blocked: {reasons}"


def validate_dsa_day(
    day: DsaDay, recent_totals: list[int], suite: Suite | None = None
) -> DsaVerdict:
    """``recent_totals``: statements per earlier day within the suite's look-back."""
    suite = suite or load_suite(SUITE)
    counts = day.aggregates.reindex(columns=[*AGGREGATE_KEYS, "statements"])
    profile = day_profile(day, recent_totals, suite.settings.min_history_days)
    outcomes = [
        *validate_frame(counts, suite.table_expectations, "table"),
        *validate_frame(counts, suite.row_expectations, "row"),
        *validate_frame(profile, suite.partition_expectations, "partition"),
    ]
    return DsaVerdict(outcomes, profile)


def day_profile(day: DsaDay, recent_totals: list[int], min_history_days: int) -> pd.DataFrame:
    read = max(day.rows_read, 1)
    history = [t for t in recent_totals if t > 0]
    # Too little history says nothing about volume: a neutral ratio of 1.
    ratio = (
        day.statements / pd.Series(history).median() if len(history) >= min_history_days else 1.0
    )
    return pd.DataFrame(
        {
            "ds": [day.day],
            "rows_read": [day.rows_read],
            "statements": [day.statements],
            "rejected_share": [day.rows_rejected / read],
            "duplicate_share": [day.duplicates_dropped / read],
            "volume_ratio": [float(ratio)],
        }
    )

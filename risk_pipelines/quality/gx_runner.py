"""Run a source's suite (``quality/suite.py``) on a landed batch with Great Expectations 1.x.

GX is imported lazily (seconds) and runs in an ephemeral context with progress bars off. Row
expectations run over the whole batch in chunks of ``settings.chunk_rows`` and quarantine the
rows they fail; partition expectations run on the per-day profile and block the days they
fail. Each validation is rendered as a Data Docs HTML page.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from risk_pipelines.quality.gx_results import (
    SAMPLE,
    ExpectationOutcome,
    failed_indices,
    fmt,
    outcomes_of,
    plain,
    render,
)
from risk_pipelines.quality.gx_results import outcome as outcome_of
from risk_pipelines.quality.suite import ExpectationSpec, Suite, SuiteError
from risk_pipelines.sources.landing import LandingBatch
from risk_pipelines.sources.profile import partition_profile

# Computed before validation so expectations can bound them (see the suites' comments).
EVENT_HOURS_INTO_DAY = "event_hours_into_day"
HOURS_AHEAD_OF_NOW = "hours_ahead_of_now"


@dataclass
class BatchVerdict:
    suite: str
    outcomes: list[ExpectationOutcome]
    profile: pd.DataFrame
    # Day -> why it may not be written. Days not here pass.
    blocked: dict[dt.date, list[str]] = field(default_factory=dict)
    quarantined_by_validation: int = 0
    data_docs: list[Path] = field(default_factory=list)
    data_docs_passed: list[bool] = field(default_factory=list)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def describe(self) -> str:
        if not self.blocked:
            return (
                f"{self.suite}: {len(self.outcomes)} expectations; no day blocked; "
                f"{self.quarantined_by_validation} row(s) quarantined by row expectations"
            )
        first_day = min(self.blocked)
        return f"{self.suite}: {len(self.blocked)} day(s) blocked, first {first_day}: " + "; ".join(
            self.blocked[first_day]
        )


@cache
def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("risk_pipelines")
        .add_dataframe_asset("batch")
        .add_batch_definition_whole_dataframe("whole")
    )
    return gx, batch_definition


def build_expectation(spec: ExpectationSpec, position: int = 0):
    gx, _ = _gx()
    class_name = "".join(part.capitalize() for part in spec.name.split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if cls is None:
        raise SuiteError(f"{spec.where}: unknown Great Expectations expectation {spec.name!r}")
    # GX may return results in another order than the suite's; the position maps them back.
    kwargs = dict(spec.kwargs, meta={"position": position})
    if "row_condition" in kwargs:
        kwargs["row_condition"] = _row_condition(kwargs["row_condition"], spec.where)
    try:
        return cls(**kwargs)
    except Exception as exc:  # GX raises pydantic errors with the field in the text
        raise SuiteError(f"{spec.where}: invalid arguments for {spec.name}: {exc}") from exc


_OPERATORS = {
    "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}


def _row_condition(raw: Any, where: str):
    """``{column: appealed, op: "==", value: false}`` as a GX Condition object (the string
    syntax is deprecated since GX 1.9)."""
    from great_expectations.expectations.row_conditions import Column

    if not isinstance(raw, dict) or set(raw) != {"column", "op", "value"}:
        raise SuiteError(f"{where}: row_condition must be a mapping of column, op and value")
    if raw["op"] not in _OPERATORS:
        raise SuiteError(f"{where}: row_condition op must be one of {sorted(_OPERATORS)}")
    return _OPERATORS[raw["op"]](Column(str(raw["column"])), raw["value"])


def check_suite(suite: Suite) -> None:
    """Build every expectation once, so a typo is reported with file and entry before any
    data is read (the test suite does this for every packaged suite)."""
    for spec in (*suite.table_expectations, *suite.row_expectations, *suite.partition_expectations):
        build_expectation(spec)


def validate_batch(
    batch: LandingBatch,
    suite: Suite,
    history: pd.DataFrame,
    *,
    now: dt.datetime,
    docs_dir: Path | None = None,
    label: str = "validation",
) -> BatchVerdict:
    """Validate ``batch`` in place: rows failing row expectations move to its rejects."""
    outcomes: list[ExpectationOutcome] = []
    results = []
    blocked: dict[dt.date, list[str]] = {d: [msg] for d, msg in batch.day_errors.items()}
    quarantined = 0
    if not batch.rows.empty and suite.table_expectations:
        result = _validate(batch.rows.head(1000), suite.table_expectations)
        results.append(("table", result))
        table = outcomes_of("table", suite.table_expectations, result, len(batch.rows))
        outcomes += table
        for o in table:
            if not o.success:
                for day in batch.days:
                    blocked.setdefault(day, []).append(f"{o.reason} (e.g. {o.sample})")
    if not batch.rows.empty and suite.row_expectations:
        row_outcomes, quarantined, row_results = _validate_rows(batch, suite, now)
        outcomes += row_outcomes
        results += row_results
    accounting = batch.accounting()
    history_counts = history if history is not None else pd.DataFrame()
    profile = partition_profile(
        accounting,
        batch.rows,
        history_counts,
        mix_column=suite.mix_column,
        lookback_days=suite.settings.lookback_days,
        min_history_days=suite.settings.min_history_days,
        min_rows_for_mix=suite.settings.min_rows_for_mix,
    )
    if suite.partition_expectations:
        checked = profile[~profile["ds"].isin(batch.day_errors)].reset_index(drop=True)
        if not checked.empty:
            result = _validate(checked, suite.partition_expectations)
            results.append(("partitions", result))
            for spec, r in zip(suite.partition_expectations, result.results, strict=True):
                outcome = outcome_of("partition", spec, r, len(checked))
                outcomes.append(outcome)
                for index in failed_indices(r, len(checked)):
                    row = checked.loc[index]
                    observed = row.get(spec.column) if spec.column else None
                    blocked.setdefault(row["ds"], []).append(
                        f"{spec.reason} (observed {spec.column} = {fmt(observed)})"
                    )
    docs = render(results, docs_dir, suite.name, label) if docs_dir else []
    passed = [bool(result.success) for _, result in results] if docs_dir else []
    return BatchVerdict(suite.name, outcomes, profile, blocked, quarantined, docs, passed)


def _validate_rows(batch: LandingBatch, suite: Suite, now: dt.datetime):
    frame = _compact(_with_derived_columns(batch.rows, suite, now), suite.row_expectations)
    specs = suite.row_expectations
    by_values, per_row = _split_by_cardinality(frame, specs)
    counts = dict.fromkeys(range(len(specs)), 0)
    samples: dict[int, list] = {i: [] for i in range(len(specs))}
    failing: dict[int, list] = {i: [] for i in range(len(specs))}
    results = []
    size = max(1, suite.settings.chunk_rows)
    for start in range(0, len(frame), size) if per_row else ():
        chunk = frame.iloc[start : start + size]
        result = _validate(chunk.reset_index(drop=True), [specs[i] for i in per_row])
        results.append(("rows", result))
        for i, r in zip(per_row, result.results, strict=True):
            info = r.result or {}
            counts[i] += int(info.get("unexpected_count") or 0)
            samples[i] += [plain(v) for v in info.get("partial_unexpected_list") or []]
            failing[i].extend(chunk.index[failed_indices(r, len(chunk))])
    for columns, members in by_values.items():
        # Each distinct combination of a few low-cardinality columns is validated once and its
        # verdict applies to every row holding it: the same answer as row by row, at a fraction
        # of the cost on a million rows.
        if len(columns) == 1 and isinstance(frame[columns[0]].dtype, pd.CategoricalDtype):
            groups = frame[columns[0]].cat.codes  # already one id per distinct value
        else:
            groups = frame.groupby(list(columns), observed=True, dropna=False, sort=False).ngroup()
        first_of_group = groups.drop_duplicates()
        distinct = frame.loc[first_of_group.index, list(columns)].reset_index(drop=True)
        result = _validate(distinct, [specs[i] for i in members])
        results.append(("values", result))
        for i, r in zip(members, result.results, strict=True):
            failed = first_of_group.to_numpy()[failed_indices(r, len(distinct))]
            rows = groups.index[groups.isin(failed).to_numpy()]
            counts[i] += len(rows)
            samples[i] += [plain(v) for v in (r.result or {}).get("partial_unexpected_list") or []]
            failing[i].extend(rows)
    outcomes = []
    quarantined = 0
    for i, spec in enumerate(specs):
        outcomes.append(
            ExpectationOutcome(
                "row",
                spec.name,
                spec.column,
                counts[i] == 0,
                counts[i],
                100.0 * counts[i] / max(1, len(frame)),
                samples[i][:SAMPLE],
                spec.reason,
            )
        )
        if failing[i]:
            index = pd.Index(failing[i])
            column = _source_column(spec, suite, frame, index, now)
            quarantined += batch.quarantine(index, column, spec.reason)
    return outcomes, quarantined, results


def _spec_columns(spec: ExpectationSpec) -> tuple[str, ...]:
    named = [spec.kwargs.get(k) for k in ("column", "column_A", "column_B")]
    if "row_condition" in spec.kwargs:
        named.append(spec.kwargs["row_condition"]["column"])
    return tuple(sorted({c for c in named if c}))


def _split_by_cardinality(frame: pd.DataFrame, specs: list[ExpectationSpec]):
    """Specs that judge each row on categorical columns alone can run on distinct values;
    uniqueness and ``mostly`` depend on row counts, so those run row by row."""
    by_values: dict[tuple[str, ...], list[int]] = {}
    per_row = []
    for i, spec in enumerate(specs):
        columns = _spec_columns(spec)
        low = all(
            isinstance(frame[c].dtype, pd.CategoricalDtype) or frame[c].dtype == bool
            for c in columns
        )
        if columns and low and "unique" not in spec.name and "mostly" not in spec.kwargs:
            by_values.setdefault(columns, []).append(i)
        else:
            per_row.append(i)
    return by_values, per_row


def _with_derived_columns(rows: pd.DataFrame, suite: Suite, now: dt.datetime) -> pd.DataFrame:
    frame = rows.copy(deep=False)
    if suite.event_time:
        midnight = pd.to_datetime(frame["ds"]).astype("datetime64[us]")
        frame[EVENT_HOURS_INTO_DAY] = (frame[suite.event_time] - midnight) / pd.Timedelta(hours=1)
    stamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if stamps:
        latest = frame[stamps].max(axis=1)
        frame[HOURS_AHEAD_OF_NOW] = (latest - pd.Timestamp(now)) / pd.Timedelta(hours=1)
    return frame


def _compact(frame: pd.DataFrame, specs: list[ExpectationSpec]) -> pd.DataFrame:
    """Only the columns the expectations read, low-cardinality text as categoricals: GX
    fingerprints every batch by hashing all of it, which otherwise costs more than the checks."""
    named = {
        v for s in specs for k, v in s.kwargs.items() if k in ("column", "column_A", "column_B")
    }
    named |= {s.kwargs["row_condition"]["column"] for s in specs if "row_condition" in s.kwargs}
    used = [c for c in frame.columns if c in named]
    compact = frame[used].copy()
    for column in used:
        values = compact[column]
        if (
            isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
            and values.dtype.kind in "iuf"
        ):
            # Nullable integers make GX fall back to a Python call per row; NaN keeps nulls.
            compact[column] = values.astype("float64")
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            categorical = pd.Categorical(values)
            if len(categorical.categories) < 10_000:
                compact[column] = categorical
    return compact


def _source_column(spec, suite, frame, index, now) -> str | None:
    """The real column behind a derived one, so the quarantine row names what to fix."""
    if spec.column == EVENT_HOURS_INTO_DAY:
        return suite.event_time
    if spec.column == HOURS_AHEAD_OF_NOW:
        stamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        ahead = frame.loc[index, stamps].gt(pd.Timestamp(now)).any()
        return ",".join(c for c in stamps if ahead[c]) or None
    return spec.column


def validate_frame(
    frame: pd.DataFrame, specs: list[ExpectationSpec], stage: str
) -> list[ExpectationOutcome]:
    """Run expectations on a small frame already in memory (a day's counts, a day's profile)
    and return one outcome per expectation."""
    if not specs:
        return []
    return outcomes_of(stage, specs, _validate(frame, specs), len(frame))


def _validate(frame: pd.DataFrame, specs: list[ExpectationSpec]):
    gx, batch_definition = _gx()
    suite = gx.ExpectationSuite(name="batch")
    for position, spec in enumerate(specs):
        suite.add_expectation(build_expectation(spec, position))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE}
    )
    result.results.sort(key=lambda r: r.expectation_config.meta["position"])
    return result

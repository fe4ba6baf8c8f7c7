"""Run a YAML-declared Great Expectations suite on a DataFrame and summarise the result.

Great Expectations is imported lazily (it takes seconds) and runs in an ephemeral context with
progress bars off. A range of partitions is validated as one batch; failures are attributed to
partitions through the row index, so each partition gets its own verdict.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

SUITES_DIR = Path(__file__).resolve().parent / "suites"
_SAMPLE = 5


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names file, entry and field."""


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_percent: float
    sample: list[Any]


@dataclass
class QualityReport:
    suite: str
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome]
    failed_partitions: dict[str, int] = field(default_factory=dict)  # ds -> failing rows

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def describe(self) -> str:
        if self.success:
            return f"{self.suite}: all {len(self.outcomes)} expectations passed on {self.rows} rows"
        parts = [
            f"{o.expectation}({o.column or 'table'}): {o.unexpected_count} unexpected "
            f"({o.unexpected_percent:.2f}%), e.g. {o.sample}"
            for o in self.failures
        ]
        return f"{self.suite}: {len(parts)} failed: " + "; ".join(parts)


def load_suite(name: str, suites_dir: Path = SUITES_DIR) -> dict:
    path = Path(suites_dir) / f"{name}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = document.get("expectations") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"{path}: expected a mapping with a non-empty 'expectations' list")
    expanded = []
    for position, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or "expectation" not in entry:
            raise SuiteError(f"{path}: entry #{position} needs an 'expectation' name")
        kwargs = {k: v for k, v in entry.items() if k not in ("expectation", "columns")}
        for column in entry.get("columns") or [None]:
            args = dict(kwargs, column=column) if column else kwargs
            expanded.append((entry["expectation"], args, f"{path}: entry #{position}"))
    return {"name": document.get("name", name), "expectations": expanded}


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
    return gx, context, batch_definition


def _expectation(gx, name: str, kwargs: dict, where: str):
    class_name = "".join(part.capitalize() for part in name.split("_"))
    cls = getattr(gx.expectations, class_name, None)
    if cls is None:
        raise SuiteError(f"{where}: unknown Great Expectations expectation {name!r}")
    try:
        return cls(**kwargs)
    except Exception as exc:  # GX raises pydantic errors with the field in the text
        raise SuiteError(f"{where}: invalid arguments for {name}: {exc}") from exc


def validate_frame(
    frame: pd.DataFrame, suite_name: str, partition_column: str = "ds"
) -> QualityReport:
    gx, context, batch_definition = _gx()
    suite_spec = load_suite(suite_name)
    suite = gx.ExpectationSuite(name=f"{suite_spec['name']}")
    for name, kwargs, where in suite_spec["expectations"]:
        suite.add_expectation(_expectation(gx, name, kwargs, where))
    data = frame.reset_index(drop=True)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": data})
    result = batch.validate(
        suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": _SAMPLE}
    )
    outcomes, failed_rows = [], set()
    for r in result.results:
        config = r.expectation_config
        info = r.result or {}
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=config.kwargs.get("column"),
                success=bool(r.success),
                unexpected_count=int(info.get("unexpected_count") or 0),
                unexpected_percent=float(info.get("unexpected_percent") or 0.0),
                sample=[_plain(v) for v in (info.get("partial_unexpected_list") or [])[:_SAMPLE]],
            )
        )
        if not r.success:
            failed_rows.update(info.get("unexpected_index_list") or [])
    failed_partitions: dict[str, int] = {}
    table_failed = any(not o.success and o.column is None for o in outcomes)
    if partition_column in data.columns and not data.empty:
        days = data[partition_column].astype(str)
        if table_failed:  # a table-level failure (e.g. columns) condemns every partition
            failed_partitions = days.value_counts().to_dict()
        elif failed_rows:
            failed_partitions = days.loc[sorted(failed_rows)].value_counts().to_dict()
    return QualityReport(
        suite_spec["name"], bool(result.success), len(data), outcomes, failed_partitions
    )


def _plain(value: Any) -> Any:
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)

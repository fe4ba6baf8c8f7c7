"""Great Expectations results as our verdicts: one outcome per expectation with the rows it
failed, and a Data Docs page per validation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from risk_pipelines.quality.suite import ExpectationSpec

SAMPLE = 5  # failing values kept per expectation


@dataclass
class ExpectationOutcome:
    stage: str  # table | row | partition
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_percent: float
    sample: list[Any]
    reason: str

    def as_metadata(self) -> dict:
        return {
            "stage": self.stage,
            "expectation": self.expectation,
            "column": self.column,
            "unexpected": self.unexpected_count,
            "percent": round(self.unexpected_percent, 3),
            "sample": self.sample,
            "reason": self.reason,
        }


def outcomes_of(stage, specs, result, rows) -> list[ExpectationOutcome]:
    return [outcome(stage, s, r, rows) for s, r in zip(specs, result.results, strict=True)]


def outcome(stage: str, spec: ExpectationSpec, r, rows: int) -> ExpectationOutcome:
    info = r.result or {}
    observed = info.get("observed_value")
    sample = info.get("partial_unexpected_list") or ([observed] if observed is not None else [])
    return ExpectationOutcome(
        stage,
        spec.name,
        spec.column,
        bool(r.success),
        int(info.get("unexpected_count") or (0 if r.success else rows)),
        float(info.get("unexpected_percent") or (0.0 if r.success else 100.0)),
        [plain(v) for v in sample[:SAMPLE]],
        spec.reason,
    )


def failed_indices(r, rows: int) -> list[int]:
    if r.success:
        return []
    info = r.result or {}
    indices = info.get("unexpected_index_list")
    if indices is None:  # an aggregate expectation: every row of the frame fails with it
        return list(range(rows))
    return [i if isinstance(i, int | np.integer) else next(iter(i.values())) for i in indices]


def render(results, docs_dir: Path, suite_name: str, label: str) -> list[Path]:
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    folder = Path(docs_dir) / suite_name
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, (stage, result) in enumerate(results, 1):
        for r in result.results:  # row indices are in quarantine already; pages stay small
            if r.result:
                r.result.pop("unexpected_index_list", None)
                r.result.pop("unexpected_list", None)
        page = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
        path = folder / f"{label}-{position:02d}-{stage}.html"
        path.write_text(page, encoding="utf-8")
        paths.append(path)
    return paths


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:.3g}"
    return str(value)


def plain(value: Any) -> Any:
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)

"""Quality suites as data: one YAML file per source under ``defaults/suites/``.

A suite has three lists of Great Expectations expectations, each entry a GX expectation name
(snake_case) with its arguments, an optional ``reason`` in plain words, and ``columns:`` to
repeat an entry for several columns:

- ``table_expectations`` run on the parsed batch (column set, types); a failure blocks every
  day in it.
- ``row_expectations`` run on every row; a failing row is quarantined with the entry's reason
  and the day still loads while its quarantined share passes the partition expectations.
- ``partition_expectations`` run on the per-day profile (rows read, quarantined share, volume
  against recent days, category-mix drift); a failing day is blocked.

``settings`` holds the numbers that are not expectations (look-back windows, the freshness
deadline, the time tolerance, the chunk size). Errors name the file, the entry and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUITES_DIR = Path(__file__).resolve().parents[1] / "defaults" / "suites"  # the packaged suites
SECTIONS = ("table_expectations", "row_expectations", "partition_expectations")
_ENTRY_KEYS = {"expectation", "columns", "reason"}


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names file, entry and field."""


@dataclass(frozen=True)
class ExpectationSpec:
    name: str
    kwargs: dict[str, Any]
    reason: str
    where: str

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")


@dataclass(frozen=True)
class SuiteSettings:
    # Days of history that define "recent" for the volume band and the category mix.
    lookback_days: int = 28
    min_history_days: int = 7
    # Fewer rows than this in a day make a category-mix share too noisy to judge.
    min_rows_for_mix: int = 200
    # Ids already loaded this many days back make a repeated id a re-delivery.
    duplicate_lookback_days: int = 7
    # Day D is due by 00:00 UTC of D plus this many hours.
    freshness_deadline_hours: float = 30.0
    # Rows are validated this many at a time, bounding Great Expectations' memory.
    chunk_rows: int = 1_000_000


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    path: Path
    key: str | None
    event_time: str | None
    mix_column: str | None
    settings: SuiteSettings
    table_expectations: list[ExpectationSpec] = field(default_factory=list)
    row_expectations: list[ExpectationSpec] = field(default_factory=list)
    partition_expectations: list[ExpectationSpec] = field(default_factory=list)


def load_suite(name: str, suites_dir: Path | None = None) -> Suite:
    path = Path(suites_dir or SUITES_DIR) / f"{name}.yaml"
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise SuiteError(f"{path}: expected a mapping with name, settings and expectation lists")
    unknown = set(document) - {
        "name",
        "description",
        "key",
        "event_time",
        "mix_column",
        "settings",
        *SECTIONS,
    }
    if unknown:
        raise SuiteError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
    settings = _settings(document.get("settings") or {}, path)
    sections = {s: _entries(document.get(s) or [], path, s) for s in SECTIONS}
    if not any(sections.values()):
        raise SuiteError(f"{path}: declares no expectations")
    return Suite(
        name=str(document.get("name") or name),
        description=str(document.get("description") or ""),
        path=path,
        key=document.get("key"),
        event_time=document.get("event_time"),
        mix_column=document.get("mix_column"),
        settings=settings,
        **sections,
    )


def _settings(raw: Any, path: Path) -> SuiteSettings:
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: settings must be a mapping")
    defaults = SuiteSettings()
    values = {}
    for key, value in raw.items():
        if not hasattr(defaults, key):
            raise SuiteError(f"{path}: settings.{key} is not a known setting")
        expected = type(getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise SuiteError(f"{path}: settings.{key} must be a non-negative number, got {value!r}")
        values[key] = expected(value)
    return SuiteSettings(**values)


def _entries(raw: Any, path: Path, section: str) -> list[ExpectationSpec]:
    if not isinstance(raw, list):
        raise SuiteError(f"{path}: {section} must be a list")
    specs = []
    for position, entry in enumerate(raw, 1):
        where = f"{path}: {section} entry #{position}"
        if not isinstance(entry, dict) or not isinstance(entry.get("expectation"), str):
            raise SuiteError(f"{where} needs an 'expectation' name")
        name = entry["expectation"]
        if not name.startswith("expect_"):
            raise SuiteError(f"{where}: {name!r} is not a Great Expectations name (expect_...)")
        kwargs = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
        columns = entry.get("columns")
        if columns is not None and (not isinstance(columns, list) or not columns):
            raise SuiteError(f"{where}: columns must be a non-empty list")
        for column in columns or [None]:
            args = dict(kwargs, column=column) if column else kwargs
            reason = entry.get("reason") or _default_reason(name, args)
            try:
                reason = str(reason).format(**args)
            except (KeyError, IndexError, ValueError) as exc:
                raise SuiteError(f"{where}: reason names an unknown field {exc}") from exc
            specs.append(ExpectationSpec(name, args, reason, where))
    return specs


def _default_reason(name: str, kwargs: dict) -> str:
    subject = kwargs.get("column") or kwargs.get("column_A") or "table"
    return f"{subject}: {name.removeprefix('expect_').replace('_', ' ')}"

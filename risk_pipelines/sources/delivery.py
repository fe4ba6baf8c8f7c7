"""Was each day delivered on time, and did its files keep their shape?

Freshness: day D is due by 00:00 UTC of D plus a deadline (hours). A day whose last file
arrived after that is late; a day with no folder once the deadline has passed is missing.
The sensor ``landing_freshness_sensor`` asks the same question before any run does.
Schema: a file whose header differs from the canonical columns (unknown columns are not
loaded) or from the previous delivery of the same source is reported, column by column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from risk_pipelines.sources.landing import FileRecord


@dataclass(frozen=True)
class DeliveryFinding:
    ds: dt.date
    check: str  # freshness | schema
    passed: bool
    message: str


def due_at(day: dt.date, deadline_hours: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=deadline_hours)


def assess_freshness(
    files: Sequence[FileRecord],
    days: Iterable[dt.date],
    *,
    deadline_hours: float,
    now: dt.datetime,
    judge_within_days: int = 7,
) -> list[DeliveryFinding]:
    """Days whose deadline passed more than ``judge_within_days`` ago are history being
    backfilled: their files arrived long after the fact by design, so lateness is not judged."""
    landed: dict[dt.date, dt.datetime] = {}
    for record in files:
        landed[record.ds] = max(landed.get(record.ds, record.landed_at), record.landed_at)
    findings = []
    for day in days:
        due = due_at(day, deadline_hours)
        if now - due > dt.timedelta(days=judge_within_days):
            message = f"history (due {due:%Y-%m-%d}); lateness is judged for recent days only"
            findings.append(DeliveryFinding(day, "freshness", True, message))
        elif day in landed:
            late = landed[day] - due
            if late > dt.timedelta(0):
                message = f"landed {_hours(late)} after its deadline {due:%Y-%m-%d %H:%M} UTC"
                findings.append(DeliveryFinding(day, "freshness", False, message))
            else:
                message = f"landed {landed[day]:%Y-%m-%d %H:%M} UTC, due {due:%Y-%m-%d %H:%M}"
                findings.append(DeliveryFinding(day, "freshness", True, message))
        elif now > due:
            message = f"not delivered; was due {due:%Y-%m-%d %H:%M} UTC ({_hours(now - due)} ago)"
            findings.append(DeliveryFinding(day, "freshness", False, message))
        else:
            message = f"not delivered yet; due {due:%Y-%m-%d %H:%M} UTC"
            findings.append(DeliveryFinding(day, "freshness", True, message))
    return findings


def assess_schema(
    files: Sequence[FileRecord],
    days: Iterable[dt.date],
    *,
    known_columns: Iterable[str],
    previous_header: list[str] | None,
) -> list[DeliveryFinding]:
    """Compare each day's file headers with the canonical columns and the last delivery."""
    known = set(known_columns)
    by_day: dict[dt.date, list[FileRecord]] = {}
    for record in files:
        if record.header:
            by_day.setdefault(record.ds, []).append(record)
    findings = []
    reference = previous_header
    for day in days:
        problems = []
        for record in by_day.get(day, []):
            unknown = [c for c in record.header if c not in known]
            if unknown:
                problems.append(f"{record.source_file}: unknown column(s) {unknown} not loaded")
            if reference is not None and set(record.header) != set(reference):
                added = [c for c in record.header if c not in reference]
                dropped = [c for c in reference if c not in record.header]
                problems.append(
                    f"{record.source_file}: header changed since the previous delivery "
                    f"(added {added}, dropped {dropped})"
                )
            reference = record.header
        if day in by_day:
            message = "; ".join(problems) or "header matches the canonical columns"
            findings.append(DeliveryFinding(day, "schema", not problems, message))
    return findings


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"

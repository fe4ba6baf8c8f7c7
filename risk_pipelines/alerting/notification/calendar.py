"""Known events (holidays, launches, elections, known incidents) that annotate or suppress
alerts, declared in ``calendar.yaml`` beside the rules:

```yaml
public_holidays: annotate          # annotate | suppress | off: each region's public holidays
events:
  - name: Black Friday sale
    kind: launch                   # holiday | launch | election | known_incident | other
    start: 2026-11-27
    end: 2026-11-30                # inclusive; omitted: one day
    match: {region: [US, GB]}      # series dimensions; omitted: every series
    effect: annotate               # annotate: say so in the alert | suppress: record, not send
    comment: traffic and reports run high on sale days
```

A suppressed notification is still written (status ``suppressed``, the event named), so the
alert history is complete and the rule backtest can count it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from risk_pipelines.domain.holidays import holiday_country

KINDS = ("holiday", "launch", "election", "known_incident", "other")
EFFECTS = ("annotate", "suppress")
_FIELDS = {"name", "kind", "start", "end", "match", "effect", "comment"}


class CalendarError(ValueError):
    """A calendar file that cannot be used; the message names the file, event and field."""


@dataclass(frozen=True)
class KnownEvent:
    name: str
    kind: str
    start: dt.date
    end: dt.date
    effect: str
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)
    comment: str = ""

    def covers(self, day: dt.date, dims: dict[str, str]) -> bool:
        if not self.start <= day <= self.end:
            return False
        return all(dims.get(k) in values for k, values in self.match.items())

    def describe(self) -> str:
        span = f"{self.start}" if self.start == self.end else f"{self.start}..{self.end}"
        return f"known {self.kind.replace('_', ' ')}: {self.name} ({span})" + (
            f", {self.comment}" if self.comment else ""
        )


@dataclass(frozen=True)
class Calendar:
    events: tuple[KnownEvent, ...] = ()
    public_holidays: str = "annotate"

    def on(self, day: dt.date, dims: dict[str, str]) -> list[KnownEvent]:
        found = [e for e in self.events if e.covers(day, dims)]
        holiday = None
        if self.public_holidays != "off":
            holiday = _public_holiday(dims.get("region", ""), day)
        if holiday:
            found.append(KnownEvent(holiday, "holiday", day, day, self.public_holidays, comment=""))
        return found


def load_calendar(path: Path) -> Calendar:
    path = Path(path)
    if not path.exists():
        return Calendar()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path}: not valid YAML: {exc}") from exc
    return parse_calendar(document, source=str(path))


def parse_calendar(document: Any, source: str = "<calendar>") -> Calendar:
    if not isinstance(document, dict):
        raise CalendarError(f"{source}: expected a mapping with 'events' and 'public_holidays'")
    holidays_effect = document.get("public_holidays", "annotate")
    if holidays_effect not in (*EFFECTS, "off"):
        raise CalendarError(
            f"{source}: 'public_holidays' is {holidays_effect!r}; expected annotate, suppress "
            "or off"
        )
    raw_events = document.get("events") or []
    if not isinstance(raw_events, list):
        raise CalendarError(f"{source}: 'events' must be a list")
    events = []
    for position, raw in enumerate(raw_events, 1):
        where = f"{source}: event #{position}"
        if not isinstance(raw, dict):
            raise CalendarError(f"{where}: expected a mapping")
        if raw.get("name"):
            where = f"{source}: event {raw['name']!r}"
        events.append(_parse_event(raw, where))
    return Calendar(tuple(events), holidays_effect)


def _parse_event(raw: dict, where: str) -> KnownEvent:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise CalendarError(
            f"{where}: unknown field(s) {sorted(unknown)}; allowed {sorted(_FIELDS)}"
        )
    if not raw.get("name"):
        raise CalendarError(f"{where}: 'name' is required")
    kind = raw.get("kind", "other")
    if kind not in KINDS:
        raise CalendarError(f"{where}: 'kind' is {kind!r}; expected one of {KINDS}")
    effect = raw.get("effect", "annotate")
    if effect not in EFFECTS:
        raise CalendarError(f"{where}: 'effect' is {effect!r}; expected one of {EFFECTS}")
    start = _date(raw.get("start"), "start", where)
    end = _date(raw.get("end", start), "end", where)
    if end < start:
        raise CalendarError(f"{where}: 'end' {end} is before 'start' {start}")
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        raise CalendarError(f"{where}: 'match' must be a mapping of series dimensions")
    values = {
        str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v])) for k, v in match.items()
    }
    return KnownEvent(
        str(raw["name"]), kind, start, end, effect, values, str(raw.get("comment", ""))
    )


def _date(value: Any, key: str, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise CalendarError(f"{where}: '{key}' must be a date (YYYY-MM-DD), got {value!r}") from exc


@lru_cache(maxsize=64)
def _country_holidays(country: str):
    import holidays

    return holidays.country_holidays(country)


def _public_holiday(region: str, day: dt.date) -> str | None:
    country = holiday_country(region)  # None for "all", a bloc ("EU") or an unknown code
    name = _country_holidays(country).get(day) if country else None
    return f"public holiday in {region}: {name}" if name else None

"""Related alerts become one incident, so a platform that goes quiet is one page, not eight.

Series form a hierarchy from their dimensions: platform -> policy category -> region ->
surface (the metric is what is measured, not where). Two alerts that start firing on the same
day in the same direction are related when one's series lies under the other's (the platform
total and one of its categories) or when they are siblings, differing in one dimension only
(two categories of a platform; one category on two platforms, a wave across peers). Related
alerts, and theirs in turn, form one incident. Its cause is the narrowest series covering every
member: the dimensions they share, ``all`` for the others. When that series is itself among
them it is the parent and the headline names it; otherwise the headline names the common
dimension ("3 series of user_reports on X, down: ...").

An alert that fires while an open incident of the same direction covers its series, within
``JOIN_DAYS`` of that incident's start, joins it: a child that breaches a day after its parent
belongs to the same story. An alert with no relative is an incident of one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

HIERARCHY = ("platform", "policy_category", "region", "surface")
JOIN_DAYS = 2
_LISTED = 4  # children named in a headline before "+N more"


@dataclass(frozen=True)
class FiredAlert:
    """An alert that started firing: its id, rule, series, dimensions and direction."""

    alert_id: int
    rule_id: str
    unique_id: str
    dims: dict[str, str]
    direction: str  # up | down
    significance: float | None = None


@dataclass(frozen=True)
class OpenIncident:
    incident_id: int
    opened_ds: dt.date
    direction: str
    cause: dict[str, str]


@dataclass
class IncidentPlan:
    """One incident to open (``incident_id`` None) or to extend, with the alerts it takes."""

    direction: str
    cause: dict[str, str]
    members: list[FiredAlert] = field(default_factory=list)
    incident_id: int | None = None
    parent: FiredAlert | None = None

    def headline(self) -> str:
        arrow = "up" if self.direction == "up" else "down"
        if len(self.members) == 1:
            only = self.members[0]
            return f"{_series_words(only.dims)} {arrow} ({only.rule_id})"
        children = [m for m in self.members if m is not self.parent]
        listed = ", ".join(_difference(self.cause, m.dims) for m in children[:_LISTED])
        more = f", +{len(children) - _LISTED} more" if len(children) > _LISTED else ""
        if self.parent is not None:
            return (
                f"{_series_words(self.parent.dims)} {arrow}, with {len(children)} related "
                f"series: {listed}{more}"
            )
        return f"{len(self.members)} series of {_scope_words(self.cause)} {arrow}: {listed}{more}"

    def significance(self) -> float | None:
        known = [m.significance for m in self.members if m.significance is not None]
        return max(known) if known else None


def group_fired(
    fired: list[FiredAlert], open_incidents: list[OpenIncident], day: dt.date
) -> list[IncidentPlan]:
    """The incidents today's newly firing alerts open or join (every alert in exactly one)."""
    plans: list[IncidentPlan] = []
    joinable = [
        i for i in open_incidents if 0 <= (day - i.opened_ds).days <= JOIN_DAYS
    ]  # fmt: skip
    left = []
    for alert in fired:
        home = next(
            (
                i
                for i in joinable
                if i.direction == alert.direction and _covers(i.cause, alert.dims)
            ),
            None,
        )
        if home is None:
            left.append(alert)
            continue
        plan = next((p for p in plans if p.incident_id == home.incident_id), None)
        if plan is None:
            plan = IncidentPlan(home.direction, dict(home.cause), incident_id=home.incident_id)
            plans.append(plan)
        plan.members.append(alert)
    plans += [_plan(members) for members in _related_groups(left)]
    return plans


def _related_groups(alerts: list[FiredAlert]) -> list[list[FiredAlert]]:
    """Connected groups under "same direction, and nested or siblings" (union-find)."""
    parent = list(range(len(alerts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(alerts):
        for j in range(i):
            b = alerts[j]
            if a.direction == b.direction and _related(a.dims, b.dims):
                parent[root(i)] = root(j)
    groups: dict[int, list[FiredAlert]] = {}
    for i, alert in enumerate(alerts):
        groups.setdefault(root(i), []).append(alert)
    return list(groups.values())


def _related(a: dict[str, str], b: dict[str, str]) -> bool:
    place_a = {k: a.get(k, "all") for k in HIERARCHY}
    place_b = {k: b.get(k, "all") for k in HIERARCHY}
    if _covers(place_a, place_b) or _covers(place_b, place_a):
        return True
    return sum(place_a[k] != place_b[k] for k in HIERARCHY) == 1


def _plan(members: list[FiredAlert]) -> IncidentPlan:
    cause = {
        dim: members[0].dims.get(dim, "all")
        if all(m.dims.get(dim, "all") == members[0].dims.get(dim, "all") for m in members)
        else "all"
        for dim in ("metric", *HIERARCHY)
    }
    return incident_of(members[0].direction, cause, members)


def incident_of(
    direction: str, cause: dict[str, str], members: list[FiredAlert], incident_id: int | None = None
) -> IncidentPlan:
    """The incident of these alerts under ``cause``, its parent (the member at the cause's own
    place, if any) first: what a headline is written from, for a new incident or a grown one."""
    parent = next((m for m in members if _same_place(m.dims, cause)), None)
    if parent is not None:
        members = [parent, *[m for m in members if m is not parent]]
    return IncidentPlan(direction, cause, list(members), incident_id, parent)


def _covers(cause: dict[str, str], dims: dict[str, str]) -> bool:
    """Whether ``dims`` lies at or under ``cause`` in the hierarchy (same metric where the
    cause names one)."""
    keys = ("metric", *HIERARCHY)
    return all(cause.get(k, "all") in ("all", dims.get(k, "all")) for k in keys)


def _same_place(dims: dict[str, str], cause: dict[str, str]) -> bool:
    return all(dims.get(k, "all") == cause.get(k, "all") for k in HIERARCHY)


def _scope_words(dims: dict[str, str]) -> str:
    parts = [
        f"{dims[k]}"
        for k in ("policy_category", "region", "surface")
        if dims.get(k, "all") != "all"
    ]
    platform = dims.get("platform", "all")
    where = f"{platform}" if platform != "all" else "every platform"
    metric = dims.get("metric", "all")
    what = f"{metric} " if metric != "all" else ""
    return f"{what}{'/'.join(parts) + ' on ' if parts else ''}{where}"


def _series_words(dims: dict[str, str]) -> str:
    scope = ", ".join(
        dims[k] for k in ("policy_category", "region", "surface") if dims.get(k, "all") != "all"
    )
    platform = dims.get("platform", "all")
    on = f" on {platform}" if platform != "all" else ""
    return f"{dims.get('metric', '?')} ({scope or 'all content'}){on}"


def _difference(cause: dict[str, str], dims: dict[str, str]) -> str:
    """What sets a member apart from the cause: its own values of the dimensions the cause
    leaves open (its category, region...), or its metric when that is all that differs."""
    own = [
        dims[k] for k in HIERARCHY if cause.get(k, "all") == "all" and dims.get(k, "all") != "all"
    ]
    if cause.get("metric", "all") == "all":
        own.insert(0, dims.get("metric", "?"))
    return "/".join(own) or dims.get("metric", "?")

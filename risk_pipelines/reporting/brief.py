"""The daily risk brief for leadership: the top risks, the alerts firing and what changed
since yesterday, each with a chart. Built from the warehouse alone (indicators and alert
state), so the asset, the CLI and the email digest all show the same page."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from risk_pipelines.alerting.notification.routes import severity_rank
from risk_pipelines.warehouse.schema import alert_incidents, alerts, risk_indicators
from risk_pipelines.warehouse.store import Warehouse

LEVELS = ("ok", "elevated", "high", "critical")
CHART_DAYS = 42
MAX_CHARTS = 6


@dataclass(frozen=True)
class TopRisk:
    policy_category: str
    level: str
    previous_level: str | None  # the day before; None when it had no composite yet
    score: float
    why: str  # the composite's note: how many indicators, and the worst
    driver: str | None  # the series that surprised most in this area today
    chart_png: bytes | None = field(default=None, repr=False)

    @property
    def change(self) -> str:
        if self.previous_level is None or self.previous_level == self.level:
            return "unchanged" if self.previous_level else "new"
        up = LEVELS.index(self.level) > LEVELS.index(self.previous_level)
        return f"{'up' if up else 'down'} from {self.previous_level}"


@dataclass(frozen=True)
class FiringAlert:
    alert_id: int
    rule_id: str
    severity: str
    unique_id: str
    since: dt.date
    message: str
    contributors: str  # "detection_source=user_report 89%, surface=video 64%"
    is_new: bool  # first breached on the brief's day
    chart_png: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Brief:
    day: dt.date
    generated_at: dt.datetime
    platform_levels: dict[str, int]  # level -> policy areas at that level today
    top_risks: list[TopRisk]
    firing: list[FiringAlert]
    resolved_today: list[str]  # one line per alert that resolved on the day
    level_changes: list[str]  # one line per policy area whose level moved since yesterday
    incidents: list[str] = field(default_factory=list)  # open incidents of 2+ alerts, a line each
    # Where our category mix moved and the DSA peers' did not (peer_divergence), a line each.
    peers: list[str] = field(default_factory=list)
    console_url: str | None = None  # the risk console: each firing alert links to its page

    def headline(self) -> str:
        areas = ", ".join(
            f"{self.platform_levels[lvl]} {lvl}"
            for lvl in reversed(LEVELS[1:])
            if self.platform_levels.get(lvl)
        )
        new = sum(a.is_new for a in self.firing)
        return (
            f"{areas or 'every policy area ok'} · {len(self.firing)} alert(s) firing"
            f"{f' ({new} new)' if new else ''} · {len(self.resolved_today)} resolved since "
            "yesterday"
        )


def latest_indicator_day(warehouse: Warehouse) -> dt.date | None:
    day = warehouse.scalar(sa.select(sa.func.max(risk_indicators.c.ds)))
    return pd.Timestamp(day).date() if day is not None else None


def build_brief(
    warehouse: Warehouse,
    day: dt.date | None = None,
    *,
    now: dt.datetime | None = None,
    top_n: int = 5,
    charts: bool = True,
    console_url: str | None = None,
) -> Brief:
    """The brief for ``day`` (default: the newest day with indicators)."""
    day = day or latest_indicator_day(warehouse)
    if day is None:
        raise ValueError("the warehouse holds no risk indicators yet: run the pipeline first")
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    composite = _composite(warehouse, day)
    today = composite[composite["ds"] == day].set_index("area")
    before = composite[composite["ds"] == day - dt.timedelta(days=1)].set_index("area")
    drivers = _drivers(warehouse, day, several_platforms=composite["platform"].nunique() > 1)

    ranked = today[today["level"] != "ok"].sort_values(
        ["level_rank", "score"], ascending=[False, False]
    )
    top_risks = []
    for area, row in ranked.head(top_n).iterrows():
        driver = drivers.get(area)
        top_risks.append(
            TopRisk(
                policy_category=str(area),
                level=row["level"],
                previous_level=before["level"].get(area),
                score=float(row["score"]) if pd.notna(row["score"]) else 0.0,
                why=str(row["note"] or ""),
                driver=driver,
                chart_png=_chart(warehouse, driver, day) if charts and driver else None,
            )
        )
    firing = _firing(warehouse, day, charts)
    changes = [
        f"{area}: {before['level'][area]} → {level}"
        for area, level in today["level"].items()
        if area in before.index and before["level"][area] != level
    ]
    changes.sort(key=lambda line: -LEVELS.index(line.rsplit("→ ", 1)[1]))
    return Brief(
        day=day,
        generated_at=now,
        platform_levels=today["level"].value_counts().to_dict(),
        top_risks=top_risks,
        firing=firing,
        resolved_today=_resolved_on(warehouse, day),
        level_changes=changes,
        incidents=_open_incidents(warehouse, day),
        peers=_peer_divergences(warehouse, day),
        console_url=console_url,
    )


def _composite(warehouse: Warehouse, day: dt.date) -> pd.DataFrame:
    t = risk_indicators
    frame = warehouse.read_query(
        sa.select(t.c.ds, t.c.platform, t.c.policy_category, t.c.level, t.c.score, t.c.note).where(
            t.c.indicator == "composite_risk",
            t.c.ds.in_([day, day - dt.timedelta(days=1)]),
        )
    )
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
    frame["area"] = _area(frame, frame["platform"].nunique() > 1)
    frame["level_rank"] = frame["level"].map(LEVELS.index)
    return frame


def _area(frame: pd.DataFrame, several_platforms: bool) -> pd.Series:
    """A policy area as the brief names it: its category, and its platform when the warehouse
    holds several (composite risk is per platform and category; one row per area per day)."""
    if not several_platforms:
        return frame["policy_category"]
    return frame["policy_category"] + " (" + frame["platform"] + ")"


def _drivers(warehouse: Warehouse, day: dt.date, several_platforms: bool) -> dict[str, str]:
    """Per policy area, the forecast series with the highest surprise score on the day."""
    t = risk_indicators
    frame = warehouse.read_query(
        sa.select(t.c.platform, t.c.policy_category, t.c.unique_id, t.c.score).where(
            t.c.ds == day,
            t.c.indicator == t.c.metric,
            t.c.score.is_not(None),
            t.c.model.is_not(None),  # a forecast series, not a derived indicator
        )
    )
    if frame.empty:
        return {}
    frame["area"] = _area(frame, several_platforms)
    best = frame.sort_values("score", ascending=False).drop_duplicates("area")
    return dict(zip(best["area"], best["unique_id"], strict=True))


def _open_incidents(warehouse: Warehouse, day: dt.date) -> list[str]:
    """Incidents of two or more alerts open on the day, most significant first: what leadership
    reads as one story rather than as its alerts one by one."""
    i = alert_incidents
    frame = warehouse.read_query(
        sa.select(i.c.incident_id, i.c.headline, i.c.alert_count, i.c.significance, i.c.opened_ds)
        .where(i.c.state == "open", i.c.alert_count > 1, i.c.opened_ds <= day)
        .order_by(i.c.significance.desc(), i.c.incident_id)
    )
    return [
        f"incident #{r['incident_id']} since {pd.Timestamp(r['opened_ds']):%Y-%m-%d}, "
        f"{r['alert_count']} alerts: {r['headline']}"
        for r in frame.to_dict("records")
    ]


def _peer_divergences(warehouse: Warehouse, day: dt.date, limit: int = 5) -> list[str]:
    """The day's largest divergences from the DSA peers at elevated or above, most surprising
    first (indicators/peers.py)."""
    r = risk_indicators
    frame = warehouse.read_query(
        sa.select(r.c.platform, r.c.policy_category, r.c.level, r.c.score, r.c.note)
        .where(
            r.c.ds == day, r.c.indicator == "peer_divergence", r.c.level != "ok",
            r.c.score.is_not(None),
        )
        .order_by(r.c.score.desc())
        .limit(limit)
    )  # fmt: skip
    return [
        f"{row['policy_category']} on {row['platform']} ({row['level']}): {row['note']}"
        for row in frame.to_dict("records")
    ]


def _firing(warehouse: Warehouse, day: dt.date, charts: bool) -> list[FiringAlert]:
    a = alerts
    frame = warehouse.read_query(
        sa.select(
            a.c.alert_id, a.c.rule_id, a.c.severity, a.c.unique_id, a.c.first_breach_ds,
            a.c.message, a.c.contributors,
        ).where(a.c.state == "firing", a.c.first_breach_ds <= day)
    )  # fmt: skip
    frame["since"] = pd.to_datetime(frame["first_breach_ds"]).dt.date
    frame["rank"] = frame["severity"].map(severity_rank)
    frame = frame.sort_values(["rank", "since", "alert_id"], ascending=[False, False, True])
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        chart = _chart(warehouse, row["unique_id"], day) if charts and i < MAX_CHARTS else None
        out.append(
            FiringAlert(
                alert_id=int(row["alert_id"]),
                rule_id=row["rule_id"],
                severity=row["severity"],
                unique_id=row["unique_id"],
                since=row["since"],
                message=row["message"],
                contributors=_contributor_line(row["contributors"]),
                is_new=row["since"] == day,
                chart_png=chart,
            )
        )
    return out


def _resolved_on(warehouse: Warehouse, day: dt.date) -> list[str]:
    a = alerts
    frame = warehouse.read_query(
        sa.select(a.c.alert_id, a.c.rule_id, a.c.unique_id, a.c.first_breach_ds).where(
            a.c.state == "resolved", a.c.last_evaluated_ds == day
        )
    )
    return [
        f"#{r.alert_id} {r.rule_id} on {r.unique_id} "
        f"(breached since {pd.Timestamp(r.first_breach_ds).date()})"
        for r in frame.itertuples()
    ]


def _contributor_line(raw: str | None) -> str:
    if not raw or (isinstance(raw, float) and pd.isna(raw)):
        return ""
    parts = json.loads(raw)
    return ", ".join(f"{p['dimension']}={p['value']} {p['share']:.0%}" for p in parts[:4])


def series_chart_png(
    warehouse: Warehouse, unique_id: str, until: dt.date | None = None, title: str | None = None
) -> bytes | None:
    """A series' last six weeks of actuals against the expected value and its 95 % band."""
    from risk_pipelines.reporting.charts import indicator_chart_png

    t = risk_indicators
    query = sa.select(t.c.ds, t.c.value, t.c.expected, t.c.lower, t.c.upper).where(
        t.c.unique_id == unique_id, t.c.indicator == t.c.metric
    )
    if until is not None:
        query = query.where(t.c.ds <= until)
    frame = warehouse.read_query(query.order_by(t.c.ds.desc()).limit(CHART_DAYS))
    if frame.empty:
        return None
    frame["ds"] = pd.to_datetime(frame["ds"])
    return indicator_chart_png(frame.sort_values("ds"), title or unique_id)


def _chart(warehouse: Warehouse, unique_id: str, day: dt.date) -> bytes | None:
    return series_chart_png(warehouse, unique_id, day)

"""Analyst views: stable names over the warehouse tables, so SQL and notebooks need not know
that metric_forecasts keeps every run or that accuracy rows carry no series dimensions.

The same SQL runs on SQLite and PostgreSQL. Each view's columns are documented here; the
data dictionary (docs/data_dictionary.md) is generated from these definitions:

    risk-pipelines data-dictionary > docs/data_dictionary.md
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SERIES_COLUMNS = {
    "unique_id": "series key: metric|platform|policy_category|region|surface",
    "metric": "metric name (see the metric catalogue in docs/usage.md)",
    "platform": "platform the decisions came from",
    "policy_category": "DSA statement-of-reasons category, or 'all'",
    "region": "ISO country code, or 'all'",
    "surface": "content surface (video, comment, live, ...), or 'all'",
}
BANDS = {
    "yhat": "point forecast",
    "yhat_lo_80": "lower bound of the calibrated 80 % interval",
    "yhat_hi_80": "upper bound of the calibrated 80 % interval",
    "yhat_lo_95": "lower bound of the calibrated 95 % interval",
    "yhat_hi_95": "upper bound of the calibrated 95 % interval",
}
_SERIES = ", ".join(f"f.{c}" for c in SERIES_COLUMNS)
_BANDS = ", ".join(f"f.{c}" for c in BANDS)


@dataclass(frozen=True)
class AnalystView:
    name: str
    purpose: str
    columns: dict[str, str]  # column -> meaning, in the view's column order
    select: str


VIEWS: tuple[AnalystView, ...] = (
    AnalystView(
        "v_latest_forecast",
        "The forecast that counts now: for every series, the newest run of its newest as_of, "
        "primary model only, one row per forecast day.",
        {
            **SERIES_COLUMNS,
            "as_of": "last actual day the forecast saw",
            "ds": "forecast day",
            "horizon": "days ahead of as_of (1 = the next day)",
            "model": "the series' selected model",
            **BANDS,
            "note": "why the model ran as it did (fallbacks, trimmed history), if anything",
            "run_id": "the Dagster run that wrote it",
        },
        f"""
WITH newest_day AS (
    SELECT unique_id, MAX(as_of) AS as_of FROM metric_forecasts GROUP BY unique_id
), newest_run AS (
    SELECT f.unique_id, f.as_of, MAX(f.created_at) AS created_at
    FROM metric_forecasts f
    JOIN newest_day d ON f.unique_id = d.unique_id AND f.as_of = d.as_of
    GROUP BY f.unique_id, f.as_of
)
SELECT {_SERIES}, f.as_of, f.ds, f.horizon, f.model, {_BANDS}, f.note, f.run_id
FROM metric_forecasts f
JOIN newest_run r
  ON f.unique_id = r.unique_id AND f.as_of = r.as_of AND f.created_at = r.created_at
WHERE f.is_primary""",
    ),
    AnalystView(
        "v_forecast_vs_actual",
        "Every scored forecast against the actual that came: one row per series, forecast "
        "day, model and as_of (the newest run of that as_of).",
        {
            "ds": "the day forecast and observed",
            **SERIES_COLUMNS,
            "model": "model that made the forecast",
            "is_primary": "true for the model indicators and alerts used",
            "as_of": "last actual day the forecast saw",
            "horizon": "days ahead of as_of",
            "actual": "the value observed on ds",
            **BANDS,
            "error": "actual - yhat",
            "scaled_error": "|actual - yhat| / the series' mean weekly-naive error (MASE term)",
            "covered_80": "actual inside the 80 % interval",
            "covered_95": "actual inside the 95 % interval",
        },
        f"""
SELECT a.ds, {_SERIES}, a.model, a.is_primary, a.as_of, a.horizon, a.actual, {_BANDS},
       a.actual - a.yhat AS error, a.scaled_error, a.covered_80, a.covered_95
FROM forecast_accuracy a
JOIN metric_forecasts f
  ON f.run_id = a.run_id AND f.as_of = a.as_of AND f.unique_id = a.unique_id
 AND f.ds = a.ds AND f.model = a.model""",
    ),
    AnalystView(
        "v_alert_history",
        "Every alert with its labels, acknowledgement and how many notifications reached a "
        "channel.",
        {
            "alert_id": "alert number (the id the CLI's ack and label take)",
            "rule_id": "rule from alert_rules.yaml",
            "unique_id": "series the rule watched",
            "metric": "metric of that series",
            "policy_category": "its policy category",
            "region": "its region",
            "severity": "severity now (after any escalation)",
            "escalated_from": "severity before an escalation, if any",
            "state": "pending | firing | resolved",
            "first_breach_ds": "first day the rule was breached",
            "fired_at": "when it began firing (UTC)",
            "resolved_at": "when it resolved (UTC), empty while firing",
            "last_evaluated_ds": "last day evaluated",
            "observed_value": "value on the breaching day",
            "threshold": "the line it crossed",
            "message": "what the notification said",
            "label": "confirmed | false_alarm | expected | new_trend, from analysts",
            "labelled_by": "who labelled it (the signed-in user, in the console)",
            "label_comment": "why, in the labeller's words",
            "ack_by": "who acknowledged it",
            "ack_at": "when (UTC)",
            "silenced_by": "silence that held its notifications, if any",
            "muted_until": "after a new_trend label: no new alert before this day",
            "contributors": "JSON: the sub-dimensions that explain the deviation, with shares",
            "annotation": "known calendar events overlapping the alert",
            "significance": "surprise x volume moved x duration, the largest so far",
            "level_shift_to": "the new level, once the alert was found a level shift",
            "incident_id": "the incident it belongs to (related alerts, one cause)",
            "incident_headline": "that incident's headline",
            "notifications_sent": "notifications a channel accepted",
            "last_sent_at": "when the last one was accepted (UTC)",
        },
        """
SELECT a.alert_id, a.rule_id, a.unique_id, a.metric, a.policy_category, a.region,
       a.severity, a.escalated_from, a.state, a.first_breach_ds, a.fired_at, a.resolved_at,
       a.last_evaluated_ds, a.observed_value, a.threshold, a.message, a.label,
       a.labelled_by, a.label_comment, a.ack_by, a.ack_at, a.silenced_by, a.muted_until,
       a.contributors, a.annotation,
       a.significance, a.level_shift_to, a.incident_id, i.headline AS incident_headline,
       COALESCE(n.sent, 0) AS notifications_sent, n.last_sent_at
FROM alerts a
LEFT JOIN alert_incidents i ON i.incident_id = a.incident_id
LEFT JOIN (
    SELECT alert_id, SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS sent,
           MAX(sent_at) AS last_sent_at
    FROM alert_notifications GROUP BY alert_id
) n ON n.alert_id = a.alert_id""",
    ),
    AnalystView(
        "v_peer_comparison",
        "A platform's own decisions per policy category next to its peers' DSA statements in "
        "the same category and day (every other platform in the dumps): volumes and shares. "
        "The peer_divergence indicator judges the same comparison over a week.",
        {
            "ds": "day (ours: the decision's; the peers': the dump's, when they submitted)",
            "platform": "the platform with its own decisions (our feed, or a followed DSA one)",
            "policy_category": "DSA statement-of-reasons category",
            "decisions": "its decisions in the category that day, all regions",
            "own_share": "share of its decisions that day in the category",
            "peer_statements": "the other platforms' DSA statements in the category",
            "peer_platforms": "how many other platforms submitted in the category",
            "peer_share": "share of the other platforms' statements in the category",
            "share_gap": "own_share - peer_share",
        },
        """
WITH own AS (
    SELECT ds, platform, policy_category, SUM(value) AS decisions
    FROM daily_metrics
    WHERE metric = 'decisions' AND source <> 'dsa' AND policy_category <> 'all'
      AND surface = 'all'
    GROUP BY ds, platform, policy_category
), own_total AS (
    SELECT ds, platform, SUM(decisions) AS total FROM own GROUP BY ds, platform
), peer AS (
    SELECT ds, platform, policy_category, value AS statements
    FROM daily_metrics
    WHERE metric = 'dsa_statements' AND source = 'dsa' AND policy_category <> 'all'
      AND region = 'all' AND surface = 'all'
), peer_category AS (
    SELECT o.ds, o.platform, o.policy_category, SUM(p.statements) AS statements,
           COUNT(p.platform) AS platforms
    FROM own o
    JOIN peer p ON p.ds = o.ds AND p.policy_category = o.policy_category
     AND p.platform <> o.platform
    GROUP BY o.ds, o.platform, o.policy_category
), peer_total AS (
    SELECT t.ds, t.platform, SUM(p.statements) AS total
    FROM own_total t JOIN peer p ON p.ds = t.ds AND p.platform <> t.platform
    GROUP BY t.ds, t.platform
)
SELECT o.ds, o.platform, o.policy_category, o.decisions,
       o.decisions * 1.0 / NULLIF(t.total, 0) AS own_share,
       pc.statements AS peer_statements, pc.platforms AS peer_platforms,
       pc.statements * 1.0 / NULLIF(pt.total, 0) AS peer_share,
       o.decisions * 1.0 / NULLIF(t.total, 0) - pc.statements * 1.0 / NULLIF(pt.total, 0)
         AS share_gap
FROM own o
JOIN own_total t ON t.ds = o.ds AND t.platform = o.platform
LEFT JOIN peer_category pc
  ON pc.ds = o.ds AND pc.platform = o.platform AND pc.policy_category = o.policy_category
LEFT JOIN peer_total pt ON pt.ds = o.ds AND pt.platform = o.platform""",
    ),
    AnalystView(
        "v_indicator_levels",
        "Risk indicators by day with their level as a rank, for heatmaps and ordering.",
        {
            "ds": "day",
            "indicator": "indicator name (the metric itself, or a derived indicator)",
            **SERIES_COLUMNS,
            "value": "indicator value on ds",
            "expected": "forecast for ds, made the day before",
            "lower": "lower bound of the 95 % interval",
            "upper": "upper bound of the 95 % interval",
            "score": "surprise score (value - expected) / sigma, or the indicator's own score",
            "level": "ok | elevated | high | critical",
            "level_rank": "0 ok, 1 elevated, 2 high, 3 critical",
            "numerator": "numerator of a rate",
            "denominator": "denominator of a rate (below the minimum, no rate is computed)",
            "model": "model of the forecast behind expected",
            "as_of": "as_of of that forecast",
            "note": "why a value is missing or how it was judged",
        },
        """
SELECT i.ds, i.indicator, i.unique_id, i.metric, i.platform, i.policy_category, i.region,
       i.surface, i.value, i.expected, i.lower, i.upper, i.score, i.level,
       CASE i.level WHEN 'elevated' THEN 1 WHEN 'high' THEN 2 WHEN 'critical' THEN 3 ELSE 0
       END AS level_rank,
       i.numerator, i.denominator, i.model, i.as_of, i.note
FROM risk_indicators i""",
    ),
)


def drop_views(conn: Connection) -> None:
    """Drop the analyst views (PostgreSQL will not drop or rebuild a table a view reads)."""
    _serialise_ddl(conn)
    for view in reversed(VIEWS):
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view.name}"))


def create_views(conn: Connection) -> None:
    """(Re)create every analyst view with this version's definition."""
    drop_views(conn)
    for view in VIEWS:
        conn.execute(sa.text(f"CREATE VIEW {view.name} AS {view.select.strip()}"))


def _serialise_ddl(conn: Connection) -> None:
    # Two processes starting at once would race on DROP/CREATE; one transaction-scoped lock
    # serialises them on PostgreSQL (SQLite serialises writers by itself). Held until the
    # caller's transaction ends: Warehouse.ensure_schema builds the tables under it too.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


_LOCK_KEY = zlib.crc32(b"risk_pipelines.views")


def render_data_dictionary() -> str:
    lines = [
        "# Data dictionary: analyst views",
        "",
        "For analysts in SQL and notebooks: stable views, created by the warehouse layer on "
        "SQLite and PostgreSQL alike.",
        "Generated from `risk_pipelines/warehouse/views.py`; regenerate with "
        "`risk-pipelines data-dictionary > docs/data_dictionary.md`.",
    ]
    for view in VIEWS:
        lines += ["", f"## `{view.name}`", "", view.purpose, "", "| column | meaning |"]
        lines += ["|---|---|"]
        lines += [f"| `{c}` | {m.replace('|', chr(92) + '|')} |" for c, m in view.columns.items()]
    return "\n".join(lines) + "\n"

"""Table definitions of the warehouse (docs/architecture.md, "Tables"; docs/data_dictionary.md).

Types and keys are explicit, never inferred from a DataFrame. Timestamps are stored as naive
UTC on every backend so SQLite and PostgreSQL return the same values.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from risk_pipelines.warehouse.schema_dsa import define_dsa_tables
from risk_pipelines.warehouse.schema_investigations import define_investigation_tables

metadata = MetaData()


def _series_dimensions() -> list[Column]:
    return [
        Column("unique_id", String(300), nullable=False),
        Column("metric", String(80), nullable=False),
        Column("platform", String(120), nullable=False),
        Column("policy_category", String(80), nullable=False),
        Column("region", String(40), nullable=False),
        Column("surface", String(40), nullable=False),
    ]


moderation_decisions = Table(
    "moderation_decisions",
    metadata,
    Column("ds", Date, primary_key=True, comment="partition day: UTC date of decided_at"),
    Column("event_id", String(128), primary_key=True),
    Column("decided_at", DateTime, nullable=False),
    Column("reported_at", DateTime),
    Column("content_created_at", DateTime),
    Column("policy_category", String(80), nullable=False),
    Column("region", String(40), nullable=False),
    Column("surface", String(40), nullable=False),
    Column("detection_source", String(40), nullable=False),
    Column("action", String(40), nullable=False),
    Column("automated_decision", String(20), nullable=False),
    Column("views_before_action", BigInteger),
    Column("appealed", Boolean, nullable=False),
    Column("appeal_outcome", String(20)),
    Column("platform", String(120), nullable=False),
    Column("user_id_hash", String(64), comment="keyed hash; raw ids are never stored"),
    Column("content_id_hash", String(64), comment="keyed hash; raw ids are never stored"),
    Column("source_file", String(500), nullable=False),
    Column("source_row", Integer, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("ds", Date, primary_key=True, comment="partition day: UTC date of detected_at"),
    Column("incident_id", String(128), primary_key=True),
    Column("started_at", DateTime, nullable=False),
    Column("detected_at", DateTime, nullable=False),
    Column("resolved_at", DateTime),
    Column("severity", String(8), nullable=False),
    Column("policy_category", String(80), nullable=False),
    Column("region", String(40), nullable=False),
    Column("detection_source", String(40), nullable=False),
    Column("title", Text),
    Column("platform", String(120), nullable=False),
    Column("source_file", String(500), nullable=False),
    Column("source_row", Integer, nullable=False),
)

daily_metrics = Table(
    "daily_metrics",
    metadata,
    Column("ds", Date, primary_key=True),
    *[
        Column(c.name, c.type, primary_key=c.name == "unique_id", nullable=False)
        for c in _series_dimensions()
    ],
    Column("value", Float, nullable=False),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("source", String(20), nullable=False, comment="derived | landed | dsa"),
    Index("ix_daily_metrics_series", "unique_id", "ds"),
    Index("ix_daily_metrics_metric_ds", "metric", "ds"),
)

metric_forecasts = Table(
    "metric_forecasts",
    metadata,
    # Every run is kept (rerunning a day adds a run): accuracy can always be traced to the
    # forecast that was live, and readers take the newest run of each as_of.
    Column("run_id", String(64), primary_key=True),
    Column("as_of", Date, primary_key=True, comment="last actual date the forecast saw"),
    *[
        Column(c.name, c.type, primary_key=c.name == "unique_id", nullable=False)
        for c in _series_dimensions()
    ],
    Column("ds", Date, primary_key=True),
    Column("model", String(40), primary_key=True),
    Column("horizon", Integer, nullable=False),
    Column("yhat", Float, nullable=False),
    Column("yhat_lo_80", Float, nullable=False),
    Column("yhat_hi_80", Float, nullable=False),
    Column("yhat_lo_95", Float, nullable=False),
    Column("yhat_hi_95", Float, nullable=False),
    Column("is_primary", Boolean, nullable=False, comment="the model indicators and alerts use"),
    Column("note", String(200)),
    Column("created_at", DateTime, nullable=False),
    Index("ix_metric_forecasts_series_ds", "unique_id", "ds"),
)

forecast_backtests = Table(
    "forecast_backtests",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("unique_id", String(300), primary_key=True),
    Column("model", String(40), primary_key=True),
    Column("cutoff", Date, primary_key=True),
    Column("horizon", Integer, nullable=False),
    Column("mase", Float),
    Column("smape", Float),
    Column("coverage_80", Float),
    Column("coverage_95", Float),
    Column("winkler_95", Float),
    Column("created_at", DateTime, nullable=False),
)

forecast_accuracy = Table(
    "forecast_accuracy",
    metadata,
    Column("ds", Date, primary_key=True),
    Column("unique_id", String(300), primary_key=True),
    Column("model", String(40), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("run_id", String(64), nullable=False, comment="the newest run of that as_of"),
    Column("is_primary", Boolean, nullable=False),
    Column("horizon", Integer, nullable=False),
    Column("actual", Float, nullable=False),
    Column("yhat", Float, nullable=False),
    Column("scaled_error", Float, comment="|actual - yhat| / the series' weekly naive error"),
    Column("covered_80", Boolean, nullable=False),
    Column("covered_95", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_forecast_accuracy_as_of", "as_of"),
)

forecast_model_selection = Table(
    "forecast_model_selection",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("unique_id", String(300), primary_key=True),
    Column("selected_at", DateTime, nullable=False),
    Column("as_of", Date, nullable=False, comment="last actual the backtests saw"),
    Column("model", String(40), nullable=False),
    Column("params", Text, comment="estimated parameters (JSON), reused by the daily refresh"),
    Column("factor_80", Float, nullable=False, comment="calibration stretch of the 80 % band"),
    Column("factor_95", Float, nullable=False),
    Column("calibration_basis", String(12), nullable=False, comment="series | model | none"),
    Column("mase", Float),
    Column("winkler_95", Float),
    Column("reason", Text, nullable=False),
)

risk_indicators = Table(
    "risk_indicators",
    metadata,
    Column("ds", Date, primary_key=True),
    Column("indicator", String(80), primary_key=True),
    *[
        Column(c.name, c.type, primary_key=c.name == "unique_id", nullable=False)
        for c in _series_dimensions()
    ],
    Column("value", Float),
    Column("expected", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("score", Float),
    Column("level", String(12), nullable=False, comment="ok | elevated | high | critical"),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("model", String(40)),
    Column("as_of", Date, comment="as_of of the forecast that gave expected/lower/upper"),
    Column("note", String(200)),
    Index("ix_risk_indicators_series_ds", "unique_id", "ds"),
)

# The DSA source's counts (schema_dsa.py): per key, per country, per facet.
dsa_statement_counts, dsa_country_counts, dsa_facet_counts = define_dsa_tables(metadata)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(120), nullable=False),
    Column("unique_id", String(300), nullable=False),
    Column("state", String(12), nullable=False, comment="pending | firing | resolved"),
    Column("severity", String(12), nullable=False),
    Column("metric", String(80)),
    Column("policy_category", String(80)),
    Column("region", String(40)),
    Column("first_breach_ds", Date, nullable=False),
    Column("last_evaluated_ds", Date, nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("fired_at", DateTime),
    Column("last_notified_at", DateTime),
    Column("resolved_at", DateTime),
    Column("breach_count", Integer, nullable=False),
    Column("clean_count", Integer, nullable=False),
    Column("observed_value", Float),
    Column("threshold", Float),
    Column("message", Text, nullable=False),
    Column("ack_by", String(120)),
    Column("ack_at", DateTime),
    Column("label", String(20), comment="confirmed | false_alarm | expected | new_trend"),
    Column("labelled_by", String(120), comment="who gave the label (the signed-in user)"),
    Column("labelled_at", DateTime),
    Column("label_comment", Text, comment="why the label, in the labeller's words"),
    Column("silenced_by", String(120)),
    Column("notified_ds", Date, comment="evaluated day of the last notice (re-notify interval)"),
    Column("escalated_from", String(12), comment="the severity before an escalation"),
    Column("last_breach_ds", Date, comment="the last day the rule itself breached"),
    Column("level_shift_to", Float, comment="the new level, once found a level shift"),
    Column("significance", Float, comment="surprise x volume x duration, the largest so far"),
    Column("incident_id", Integer, comment="the incident it belongs to (alert_incidents)"),
    Column("muted_until", Date, comment="after a new_trend label: no new alert until then"),
    Column("contributors", Text, comment="JSON: top contributing sub-dimensions and shares"),
    Column("annotation", Text, comment="known calendar events overlapping the alert"),
    Index("ix_alerts_identity_state", "rule_id", "unique_id", "state"),
)

alert_incidents = Table(
    "alert_incidents",
    metadata,
    # Related alerts grouped (alerting/evaluation/grouping.py): one page for one cause.
    Column("incident_id", Integer, primary_key=True, autoincrement=True),
    Column("opened_ds", Date, nullable=False, comment="the day its first alert fired"),
    Column("last_ds", Date, nullable=False, comment="the last day an alert joined or changed"),
    Column("state", String(12), nullable=False, comment="open | resolved"),
    Column("direction", String(4), nullable=False, comment="up | down"),
    Column("cause", Text, nullable=False, comment="JSON: the series covering every member"),
    Column("headline", Text, nullable=False),
    Column("alert_count", Integer, nullable=False),
    Column("significance", Float, comment="the largest of its alerts'"),
    Column("resolved_ds", Date),
    Index("ix_alert_incidents_state", "state"),
)

alert_notifications = Table(
    "alert_notifications",
    metadata,
    Column("notification_id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.alert_id"), nullable=False),
    Column(
        "event",
        String(20),
        nullable=False,
        comment="firing | resolved | renotify | escalated | level_shift",
    ),
    Column("channel", String(40), nullable=False, comment="the route (channels.yaml)"),
    Column(
        "status",
        String(12),
        nullable=False,
        comment="queued | sent | failed | skipped | silenced | suppressed",
    ),
    Column("attempts", Integer, nullable=False, comment="delivery attempts so far (0: queued)"),
    Column("error", Text, comment="why it failed, or was skipped, silenced or suppressed"),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("idempotency_key", String(200), nullable=False, comment="one notification, all rows"),
    Column("digest_key", String(40), comment="the message it went out in (Idempotency-Key)"),
    Column("severity", String(12), nullable=False),
    Column("message", Text, nullable=False),
    Column("owners", String(300)),
    Index("ix_alert_notifications_key", "idempotency_key", "notification_id"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("silence_id", Integer, primary_key=True, autoincrement=True),
    Column("matcher", Text, nullable=False, comment="JSON: rule_id and/or series dimensions"),
    Column("author", String(120), nullable=False),
    Column("comment", Text, nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False, comment="at most 30 days after the start"),
    Column("expired_by", String(120), comment="who ended it early, if anyone"),
)

# The days the alert rules have been evaluated for. Kept in the warehouse rather than only in a
# sensor cursor, so the CLI and the sensor never evaluate the same day twice.
alert_evaluations = Table(
    "alert_evaluations",
    metadata,
    Column("ds", Date, primary_key=True),
    Column("evaluated_at", DateTime, nullable=False),
    Column("rules", Integer, nullable=False),
    Column("opened", Integer, nullable=False),
    Column("fired", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("firing_after", Integer, nullable=False),
)

quarantined_rows = Table(
    "quarantined_rows",
    metadata,
    Column("quarantine_id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(80), nullable=False),
    Column("ds", Date, nullable=False),
    Column("source_file", String(500)),
    Column("source_row", Integer),
    Column("column_name", String(120)),
    Column("reason", Text, nullable=False),
    Column("raw_values", Text, comment="the rejected row as JSON"),
    Column("run_id", String(64)),
    Column("quarantined_at", DateTime, nullable=False),
    Index("ix_quarantined_rows_dataset_ds", "dataset", "ds"),
)


# Every landing file each load read: what it held, when it arrived and what became of it, so a
# re-delivered file, a late day or a changed header can be traced to the delivery.
landing_files = Table(
    "landing_files",
    metadata,
    Column("dataset", String(80), primary_key=True),
    Column("ds", Date, primary_key=True),
    Column("source_file", String(500), primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("header", Text, comment="the file's columns as a JSON list, in file order"),
    Column("rows_read", Integer, nullable=False),
    Column("landed_at", DateTime, nullable=False, comment="file modification time (UTC)"),
    Column("loaded_at", DateTime, nullable=False),
    Column("status", String(12), nullable=False, comment="loaded | blocked | unreadable"),
    Column("problem", Text),
    Column("run_id", String(64)),
    Index("ix_landing_files_sha256", "sha256"),
)

# The latest verdict of every data-quality check for every partition of every source; the
# data-quality alert sensor reads it, and analysts can see why a day is missing downstream.
data_quality_results = Table(
    "data_quality_results",
    metadata,
    Column("dataset", String(80), primary_key=True),
    Column("ds", Date, primary_key=True),
    Column("check_name", String(80), primary_key=True),
    Column("passed", Boolean, nullable=False),
    Column("severity", String(12), nullable=False, comment="error (blocks) | warn"),
    Column("message", Text, nullable=False),
    Column("rows_read", Integer),
    Column("rows_accepted", Integer),
    Column("rows_quarantined", Integer),
    Column("run_id", String(64)),
    Column("evaluated_at", DateTime, nullable=False),
    Index("ix_data_quality_results_evaluated_at", "evaluated_at"),
)
investigations, investigation_notes = define_investigation_tables(metadata)

# Each `rules backtest`: what the rule would have raised over a range, for the console's rules
# page next to what it raised live.
rule_backtests = Table(
    "rule_backtests",
    metadata,
    Column("backtest_id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(120), nullable=False),
    Column("ran_at", DateTime, nullable=False),
    Column("start_ds", Date, nullable=False),
    Column("end_ds", Date, nullable=False),
    Column("series", Integer, nullable=False),
    Column("alerts", Integer, nullable=False, comment="alerts it would have fired"),
    Column("alerts_per_week", Float, nullable=False, comment="mean over the range's weeks"),
    Column("precision", Float, comment="against the live alerts' labels, where they match"),
    Column("cadence_days", Integer, nullable=False, comment="days between model refits"),
)
TABLES: dict[str, Table] = dict(metadata.tables)

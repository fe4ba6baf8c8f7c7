"""Investigations: what a risk team finds out about an incident, kept next to its alerts, from
the first note to the post-mortem (the risk console writes them; analysts read them in SQL)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text

INVESTIGATION_STATES = ("open", "mitigating", "monitoring", "closed")


def define_investigation_tables(metadata: MetaData) -> tuple[Table, Table]:
    investigations = Table(
        "investigations",
        metadata,
        Column(
            "incident_id",
            Integer,
            ForeignKey("alert_incidents.incident_id"),
            primary_key=True,
            comment="one investigation per incident",
        ),  # fmt: skip
        Column("owner", String(120), comment="who leads it"),
        Column("status", String(20), nullable=False, comment=" | ".join(INVESTIGATION_STATES)),
        Column("root_cause", Text, comment="what caused it, once known"),
        Column("follow_ups", Text, comment="follow-up actions, one per line"),
        Column("opened_by", String(120), nullable=False),
        Column("opened_at", DateTime, nullable=False),
        Column("updated_by", String(120), nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    investigation_notes = Table(
        "investigation_notes",
        metadata,
        Column("note_id", Integer, primary_key=True, autoincrement=True),
        Column("incident_id", Integer, ForeignKey("alert_incidents.incident_id"), nullable=False),
        Column("author", String(120), nullable=False, comment="the signed-in user"),
        Column("written_at", DateTime, nullable=False),
        Column("body", Text, nullable=False),
    )
    return investigations, investigation_notes

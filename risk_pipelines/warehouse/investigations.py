"""One investigation per incident: owner, status, root cause, follow-up actions, and a timeline
of notes, each written by a named (signed-in) person. The console writes through these, as the
command line writes labels through warehouse.alerts."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from risk_pipelines.warehouse.schema import alert_incidents, investigation_notes, investigations
from risk_pipelines.warehouse.schema_investigations import INVESTIGATION_STATES
from risk_pipelines.warehouse.store import Warehouse

MAX_NOTE_CHARS = 20_000


def investigation(warehouse: Warehouse, incident_id: int) -> dict | None:
    """The investigation with its notes, oldest first; None before anyone opened one."""
    with warehouse.engine.connect() as conn:
        found = conn.execute(
            sa.select(investigations).where(investigations.c.incident_id == incident_id)
        ).mappings()
        record = next(iter(found), None)
        notes = conn.execute(
            sa.select(investigation_notes)
            .where(investigation_notes.c.incident_id == incident_id)
            .order_by(investigation_notes.c.written_at, investigation_notes.c.note_id)
        ).mappings()
        notes = [dict(n) for n in notes]
    if record is None and not notes:
        return None
    return {**(dict(record) if record else {"status": "open"}), "notes": notes}


def save_investigation(
    warehouse: Warehouse, incident_id: int, by: str, now: dt.datetime, **fields: str
) -> None:
    """Open the incident's investigation (the first save) or update it: ``owner``, ``status``,
    ``root_cause``, ``follow_ups``; an empty text clears its field."""
    unknown = set(fields) - {"owner", "status", "root_cause", "follow_ups"}
    if unknown:
        raise ValueError(f"an investigation has no field(s) {sorted(unknown)}")
    status = fields.get("status")
    if status is not None and status not in INVESTIGATION_STATES:
        raise ValueError(f"status {status!r}: expected one of {list(INVESTIGATION_STATES)}")
    values = {k: (v.strip() or None) for k, v in fields.items()}
    with warehouse.engine.begin() as conn:
        _require_incident(conn, incident_id)
        exists = conn.execute(
            sa.select(investigations.c.incident_id).where(
                investigations.c.incident_id == incident_id
            )
        ).first()
        if exists:
            conn.execute(
                sa.update(investigations)
                .where(investigations.c.incident_id == incident_id)
                .values(**values, updated_by=by, updated_at=now)
            )
        else:
            conn.execute(
                sa.insert(investigations).values(
                    incident_id=incident_id, status=values.pop("status", None) or "open",
                    opened_by=by, opened_at=now, updated_by=by, updated_at=now, **values,
                )
            )  # fmt: skip


def add_note(warehouse: Warehouse, incident_id: int, by: str, now: dt.datetime, body: str) -> int:
    text = body.strip()
    if not text:
        raise ValueError("a note needs some text")
    if len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"a note holds at most {MAX_NOTE_CHARS:,} characters")
    with warehouse.engine.begin() as conn:
        _require_incident(conn, incident_id)
        result = conn.execute(
            sa.insert(investigation_notes).values(
                incident_id=incident_id, author=by, written_at=now, body=text
            )
        )
        return int(result.inserted_primary_key[0])


def _require_incident(conn, incident_id: int) -> None:
    found = conn.execute(
        sa.select(alert_incidents.c.incident_id).where(alert_incidents.c.incident_id == incident_id)
    ).first()
    if found is None:
        raise ValueError(f"incident #{incident_id} does not exist")

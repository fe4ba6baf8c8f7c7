"""The console's incident pages: the list, and one incident's investigation (owner, status,
root cause, follow-ups, a timeline of notes) which is its post-mortem and exports as Markdown."""

from __future__ import annotations

import datetime as dt

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse

from risk_pipelines.console import queries
from risk_pipelines.console.security import Analyst, FormText, Reader, check_csrf
from risk_pipelines.reporting.postmortem import postmortem_markdown
from risk_pipelines.warehouse import investigations as store
from risk_pipelines.warehouse.schema_investigations import INVESTIGATION_STATES


def add_incident_routes(app: FastAPI, render, back) -> None:
    @app.get("/incidents")
    def incident_list(request: Request, user: Reader, state: str = ""):
        found = queries.incident_list(request.app.state.warehouse, state)
        return render(request, "incidents.html", incidents=found, state=state)

    @app.get("/incidents/{incident_id}")
    def incident_page(request: Request, incident_id: int, user: Reader):
        incident, members, record = _load(request, incident_id)
        # The most significant member's series: what the incident is mostly about.
        chart = queries.series_chart(request.app.state.warehouse, members[0]) if members else None
        return render(request, "incident.html", incident=incident, members=members,
                      investigation=record, states=INVESTIGATION_STATES, chart=chart)  # fmt: skip

    @app.post("/incidents/{incident_id}/investigation", dependencies=[Depends(check_csrf)])
    def save(
        request: Request, incident_id: int, user: Analyst, status: FormText,
        owner: FormText = "", root_cause: FormText = "", follow_ups: FormText = "",
    ):  # fmt: skip
        _load(request, incident_id)
        try:
            store.save_investigation(
                request.app.state.warehouse, incident_id, user.name, _now(),
                owner=owner, status=status, root_cause=root_cause, follow_ups=follow_ups,
            )  # fmt: skip
        except ValueError as exc:
            return back(request, f"/incidents/{incident_id}", f"not saved: {exc}")
        return back(request, f"/incidents/{incident_id}", f"investigation saved by {user.name}")

    @app.post("/incidents/{incident_id}/notes", dependencies=[Depends(check_csrf)])
    def note(request: Request, incident_id: int, user: Analyst, body: FormText = ""):
        _load(request, incident_id)
        try:
            store.add_note(request.app.state.warehouse, incident_id, user.name, _now(), body)
        except ValueError as exc:
            return back(request, f"/incidents/{incident_id}", f"no note: {exc}")
        return back(request, f"/incidents/{incident_id}", f"note added by {user.name}")

    @app.get("/incidents/{incident_id}/postmortem.md")
    def export(request: Request, incident_id: int, user: Reader) -> PlainTextResponse:
        incident, members, record = _load(request, incident_id)
        text = postmortem_markdown(incident, members, record, _now())
        name = f"incident-{incident_id}-postmortem.md"
        return PlainTextResponse(
            text, media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip


def _load(request: Request, incident_id: int):
    warehouse = request.app.state.warehouse
    found = queries.incident_with_alerts(warehouse, incident_id)
    if found is None:
        raise HTTPException(404, f"incident #{incident_id} does not exist")
    incident, members = found
    return incident, members, store.investigation(warehouse, incident_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)

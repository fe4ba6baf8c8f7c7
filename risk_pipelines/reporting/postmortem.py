"""An incident's post-mortem as Markdown: what fired, what the investigation found, what is to
be done, and the timeline of notes, for a ticket, a wiki or a review meeting."""

from __future__ import annotations

import datetime as dt


def postmortem_markdown(
    incident: dict, alerts: list[dict], investigation: dict | None, now: dt.datetime
) -> str:
    found = investigation or {"status": "not investigated yet", "notes": []}
    lines = [
        f"# Incident #{incident['incident_id']}: {incident['headline']}",
        "",
        f"- State: {incident['state']} (opened {incident['opened_ds']}"
        + (f", resolved {incident['resolved_ds']})" if incident.get("resolved_ds") else ")"),
        f"- Investigation: {found.get('status')}"
        + (f", owner {found['owner']}" if found.get("owner") else ""),
        f"- Alerts: {len(alerts)}; direction {incident['direction']}",
        f"- Exported {now:%Y-%m-%d %H:%M} UTC from the risk console",
        "",
        "## Root cause",
        "",
        found.get("root_cause") or "_not established yet_",
        "",
        "## Follow-up actions",
        "",
    ]
    follow_ups = [f.strip() for f in (found.get("follow_ups") or "").splitlines() if f.strip()]
    lines += [f"- [ ] {item}" for item in follow_ups] or ["_none recorded_"]
    lines += ["", "## Alerts", "", "| # | rule | series | state | first breach | label |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for a in alerts:
        cells = [f"#{a['alert_id']}", a["rule_id"], a["unique_id"], a["state"],
                 str(a["first_breach_ds"]), a.get("label") or ""]  # fmt: skip
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Timeline", ""]
    notes = found.get("notes") or []
    lines += [
        f"- **{n['written_at']:%Y-%m-%d %H:%M}** {n['author']}: {n['body']}" for n in notes
    ] or ["_no notes_"]
    return "\n".join(lines) + "\n"

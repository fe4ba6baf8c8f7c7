"""One message per route per evaluation: the notifications grouped by policy area, most severe
first, rendered as plain text, Slack Block Kit, HTML (email) and JSON (webhook)."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from dataclasses import asdict, dataclass, field

from risk_pipelines.alerting.notification.routes import severity_rank

EVENT_WORDS = {
    "firing": "FIRING",
    "resolved": "RESOLVED",
    "renotify": "STILL FIRING",
    "escalated": "ESCALATED",
    "level_shift": "LEVEL SHIFT",
}
SLACK_ICONS = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
    "info": ":white_circle:",
}
# Slack rejects a section longer than 3,000 characters and a message of more than 50 blocks.
_SLACK_SECTION_CHARS = 2900
_SLACK_MAX_AREAS = 40


@dataclass(frozen=True)
class DigestItem:
    idempotency_key: str
    alert_id: int
    event: str  # firing | resolved | renotify | escalated | level_shift
    severity: str
    rule_id: str
    unique_id: str
    metric: str | None
    policy_category: str | None
    region: str | None
    message: str
    owners: tuple[str, ...] = ()
    contributors: tuple[dict, ...] = ()
    annotation: str | None = None
    incident_id: int | None = None
    incident_headline: str | None = None
    significance: float | None = None

    def headline(self) -> str:
        return f"[{EVENT_WORDS.get(self.event, self.event.upper())}][{self.severity.upper()}]"

    def contributor_text(self) -> str:
        if not self.contributors:
            return ""
        parts = [f"{c['dimension']}={c['value']} {c['share']:.0%}" for c in self.contributors]
        return "top contributors: " + ", ".join(parts)


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email digest (the daily risk brief)."""

    filename: str
    content: bytes = field(repr=False)
    maintype: str
    subtype: str


@dataclass(frozen=True)
class Digest:
    route: str
    generated_at: dt.datetime
    items: tuple[DigestItem, ...]
    chart_png: bytes | None = field(default=None, repr=False)
    attachments: tuple[Attachment, ...] = ()
    console_url: str | None = None  # the risk console, where each alert has its page

    def link(self, item: DigestItem) -> str | None:
        return alert_page_url(self.console_url, item.alert_id)

    @property
    def key(self) -> str:
        """Idempotency key of the message: the same notifications give the same key."""
        joined = "\n".join(sorted(i.idempotency_key for i in self.items))
        return hashlib.sha256(f"{self.route}\n{joined}".encode()).hexdigest()[:32]

    def by_area(self) -> list[tuple[str, list[DigestItem]]]:
        return _by_area(list(self.items))

    def sections(self) -> list[tuple[str, list[DigestItem]]]:
        """What a message shows, in order: each incident with two or more of its alerts here,
        titled by its headline, most severe first; then the other alerts by policy area."""
        incidents: dict[int, list[DigestItem]] = {}
        for item in self.items:
            if item.incident_id is not None:
                incidents.setdefault(item.incident_id, []).append(item)
        grouped = {k: v for k, v in incidents.items() if len(v) > 1}
        out = []
        for incident_id, items in sorted(grouped.items(), key=lambda kv: _worst_first(kv[1])):
            items.sort(key=_item_order)
            headline = items[0].incident_headline or f"{len(items)} related alerts"
            out.append((f"incident #{incident_id}: {headline}", items))
        rest = [i for i in self.items if i.incident_id not in grouped]
        return out + [(area.replace("_", " "), items) for area, items in _by_area(rest)]

    def title(self) -> str:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.event] = counts.get(item.event, 0) + 1
        parts = [f"{n} {EVENT_WORDS.get(e, e).lower()}" for e, n in sorted(counts.items())]
        return f"Risk alerts ({self.route}): " + ", ".join(parts)


def _item_order(item: DigestItem) -> tuple:
    return (
        -severity_rank(item.severity),
        -(item.significance or 0.0),
        item.rule_id,
        item.unique_id,
    )


def _worst_first(items: list[DigestItem]) -> tuple:
    return (-max(severity_rank(i.severity) for i in items), -len(items))


def _by_area(items: list[DigestItem]) -> list[tuple[str, list[DigestItem]]]:
    areas: dict[str, list[DigestItem]] = {}
    for item in items:
        areas.setdefault(item.policy_category or "all", []).append(item)
    for members in areas.values():
        members.sort(key=_item_order)
    worst = {a: max(severity_rank(i.severity) for i in members) for a, members in areas.items()}
    return sorted(areas.items(), key=lambda kv: (-worst[kv[0]], kv[0]))


def alert_page_url(console_url: str | None, alert_id: int) -> str | None:
    """An alert's page in the risk console (console/app.py serves ``/alerts/<id>``)."""
    return f"{console_url}/alerts/{alert_id}" if console_url else None


def item_line(item: DigestItem, link: str | None = None) -> str:
    extra = [t for t in (item.contributor_text(), item.annotation) if t]
    owners = f" owners: {', '.join(item.owners)}" if item.owners else ""
    return (
        f"{item.headline()} {item.rule_id}: {item.message}"
        + "".join(f"; {t}" for t in extra)
        + f" (alert {item.alert_id}{': ' + link if link else ''}){owners}"
    )


def render_text(digest: Digest) -> str:
    lines = [digest.title()]
    for title, items in digest.sections():
        lines.append(f"\n== {title} ==")
        lines += [f"- {item_line(i, digest.link(i))}" for i in items]
    return "\n".join(lines)


def render_slack(digest: Digest) -> dict:
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": digest.title()[:150]}}
    ]
    areas = digest.sections()
    for area, items in areas[:_SLACK_MAX_AREAS]:
        lines = [f"*{area}*"]
        for item in items:
            detail = " · ".join(t for t in (item.contributor_text(), item.annotation) if t)
            link = digest.link(item)
            lines.append(
                f"{SLACK_ICONS.get(item.severity, '')} *{EVENT_WORDS.get(item.event, item.event)}"
                f"* `{item.rule_id}` {item.message}"
                + (f" <{link}|#{item.alert_id}>" if link else "")
                + (f"\n      _{detail}_" if detail else "")
            )
        text = "\n".join(lines)
        if len(text) > _SLACK_SECTION_CHARS:
            text = text[: _SLACK_SECTION_CHARS - 20] + "\n… (truncated)"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        blocks.append({"type": "divider"})
    if len(areas) > _SLACK_MAX_AREAS:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"…and {len(areas) - 40} more policy areas"},
            }
        )
    owners = sorted({o for i in digest.items for o in i.owners})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"owners: {', '.join(owners) or '-'} · "
                    f"`risk-pipelines alerts ack ID --by you` · digest {digest.key[:12]}",
                }
            ],
        }
    )
    return {"text": digest.title(), "blocks": blocks}


def render_html(digest: Digest, chart_cid: str | None = None) -> str:
    esc = html.escape
    parts = [
        "<html><body style='font-family:Arial,sans-serif'>",
        f"<h2>{esc(digest.title())}</h2>",
    ]
    if chart_cid:
        parts.append(f"<p><img src='cid:{chart_cid}' alt='alert chart' width='675'></p>")
    for title, items in digest.sections():
        parts.append(f"<h3>{esc(title)}</h3><table cellpadding='4'>")
        for item in items:
            detail = " · ".join(t for t in (item.contributor_text(), item.annotation) if t)
            parts.append(
                f"<tr><td><b>{esc(item.headline())}</b></td><td><code>{esc(item.rule_id)}</code>"
                f"</td><td>{esc(item.message)}"
                + (f"<br><i>{esc(detail)}</i>" if detail else "")
                + f"</td><td>{_alert_cell(item, digest.link(item))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _alert_cell(item: DigestItem, link: str | None) -> str:
    text = f"alert {item.alert_id}"
    return f"<a href='{html.escape(link)}'>{text}</a>" if link else text


def render_json(digest: Digest) -> bytes:
    body = {
        "digest_key": digest.key,
        "route": digest.route,
        "generated_at": digest.generated_at.isoformat(),
        "title": digest.title(),
        "notifications": [
            {
                **asdict(i),
                "owners": list(i.owners),
                "contributors": list(i.contributors),
                "url": digest.link(i),
            }  # fmt: skip
            for i in digest.items
        ],
    }
    return json.dumps(body, sort_keys=True, default=str).encode()

"""The brief as one self-contained HTML page: inline CSS and charts, no external requests, so
it opens from a mail attachment or a file share exactly as it was rendered."""

from __future__ import annotations

import base64
from html import escape

from risk_pipelines.alerting.notification.digest import alert_page_url
from risk_pipelines.reporting.brief import Brief, FiringAlert, TopRisk

LEVEL_COLOURS = {
    "ok": "#2e7d32",
    "elevated": "#f9a825",
    "high": "#ef6c00",
    "critical": "#c62828",
}
SEVERITY_COLOURS = {
    "info": "#607d8b",
    "low": "#2e7d32",
    "medium": "#f9a825",
    "high": "#ef6c00",
    "critical": "#c62828",
}
PAGE_WIDTH_PX = 960

_CSS = f"""
body {{ font-family: "DejaVu Sans", Arial, sans-serif; color: #1d2329; margin: 0;
       background: #ffffff; }}
main {{ width: {PAGE_WIDTH_PX - 48}px; padding: 24px; }}
h1 {{ font-size: 24px; margin: 0 0 4px; }}
h2 {{ font-size: 18px; margin: 28px 0 10px; border-bottom: 2px solid #e3e7eb;
      padding-bottom: 4px; }}
.meta {{ color: #5f6b76; font-size: 13px; }}
.headline {{ font-size: 16px; background: #f4f6f8; padding: 12px 14px; margin-top: 14px;
             border-left: 5px solid #1d2329; }}
.card {{ border: 1px solid #e3e7eb; border-radius: 6px; padding: 12px 14px;
         margin-bottom: 12px; }}
.badge {{ display: inline-block; color: #ffffff; font-weight: bold; font-size: 12px;
          padding: 2px 8px; border-radius: 10px; text-transform: uppercase;
          margin-right: 8px; }}
.title {{ font-size: 15px; font-weight: bold; }}
.why {{ font-size: 13px; color: #3c4650; margin: 6px 0; }}
.card img {{ width: 100%; max-width: 675px; display: block; margin-top: 6px; }}
ul {{ margin: 4px 0; padding-left: 20px; font-size: 14px; }}
.none {{ color: #5f6b76; font-size: 14px; }}
"""


def render_brief_html(brief: Brief) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Daily risk brief {brief.day}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Daily risk brief · {brief.day:%A %d %B %Y}</h1>",
        f'<div class="meta">Generated {brief.generated_at:%Y-%m-%d %H:%M} UTC from the '
        "risk indicators and alert state of risk_pipelines.</div>",
        f'<div class="headline" id="headline">{escape(brief.headline())}</div>',
        '<h2 id="top-risks">Top risks</h2>',
    ]
    parts += [_risk_card(r) for r in brief.top_risks] or [
        '<p class="none">Every policy area is at ok.</p>'
    ]
    if brief.incidents:
        parts.append('<h2 id="incidents">Incidents (related alerts, one cause)</h2><ul>')
        parts += [f"<li>{escape(line)}</li>" for line in brief.incidents]
        parts.append("</ul>")
    if brief.peers:
        parts.append('<h2 id="peers">Against the DSA peers (our mix moved, theirs did not)</h2>')
        parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in brief.peers))
        parts.append("</ul>")
    parts.append('<h2 id="firing-alerts">Alerts firing</h2>')
    cards = [_alert_card(a, brief.console_url) for a in brief.firing]
    parts += cards or ['<p class="none">No alert is firing.</p>']
    parts.append('<h2 id="changes">What changed since yesterday</h2>')
    parts.append(_changes(brief))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _risk_card(risk: TopRisk) -> str:
    driver = f" Most surprising series: {escape(risk.driver)}." if risk.driver else ""
    return (
        '<div class="card risk">'
        f"{_badge(risk.level, LEVEL_COLOURS)}"
        f'<span class="title">{escape(risk.policy_category)}</span> '
        f'<span class="meta">({escape(risk.change)})</span>'
        f'<div class="why">{escape(risk.why)}.{driver}</div>'
        f"{_image(risk.chart_png, risk.driver or risk.policy_category)}</div>"
    )


def _alert_card(alert: FiringAlert, console_url: str | None = None) -> str:
    new = " · new today" if alert.is_new else ""
    contributors = (
        f'<div class="why">Top contributors: {escape(alert.contributors)}</div>'
        if alert.contributors
        else ""
    )
    return (
        '<div class="card alert">'
        f"{_badge(alert.severity, SEVERITY_COLOURS)}"
        f'<span class="title">{_alert_ref(alert.alert_id, console_url)} '
        f"{escape(alert.rule_id)}</span> "
        f'<span class="meta">since {alert.since}{new}</span>'
        f'<div class="why">{escape(alert.message)}</div>{contributors}'
        f"{_image(alert.chart_png, alert.unique_id)}</div>"
    )


def _alert_ref(alert_id: int, console_url: str | None) -> str:
    """``#12``, a link to the alert's page in the risk console when there is one (a link, not
    a fetched resource: the page stays self-contained)."""
    url = alert_page_url(console_url, alert_id)
    return f'<a href="{escape(url)}">#{alert_id}</a>' if url else f"#{alert_id}"


def _changes(brief: Brief) -> str:
    new = [a for a in brief.firing if a.is_new]
    sections = [
        ("New alerts", [f"#{a.alert_id} {a.rule_id} on {a.unique_id}" for a in new]),
        ("Resolved", brief.resolved_today),
        ("Policy-area levels that moved", brief.level_changes),
    ]
    html = []
    for title, lines in sections:
        items = "".join(f"<li>{escape(line)}</li>" for line in lines) or "<li>none</li>"
        html.append(f'<div class="card"><span class="title">{title}</span><ul>{items}</ul></div>')
    return "\n".join(html)


def _badge(level: str, colours: dict[str, str]) -> str:
    colour = colours.get(level, "#607d8b")
    return f'<span class="badge" style="background:{colour}">{escape(level)}</span>'


def _image(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'

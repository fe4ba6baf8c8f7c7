"""Write the brief to disk (HTML, and a PNG when Chromium is there) and hand it to email."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from risk_pipelines.alerting.notification.digest import Attachment, DigestItem
from risk_pipelines.alerting.notification.routes import severity_rank
from risk_pipelines.reporting.brief import Brief, build_brief, series_chart_png
from risk_pipelines.reporting.chromium import ChromiumError, find_chromium, screenshot
from risk_pipelines.reporting.render import PAGE_WIDTH_PX, render_brief_html
from risk_pipelines.warehouse.store import Warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedBrief:
    brief: Brief
    html_path: Path
    png_path: Path | None
    png_note: str  # "rendered by <chromium>" or why there is no PNG


def publish_brief(brief: Brief, out_dir: Path) -> PublishedBrief:
    """``risk-brief-<day>.html`` and ``.png`` in ``out_dir``, each replaced whole (a reader
    never sees half a file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"risk-brief-{brief.day}.html"
    _write_atomically(html_path, render_brief_html(brief).encode("utf-8"))
    png_path: Path | None = out_dir / f"risk-brief-{brief.day}.png"
    try:
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".render-") as scratch:
            shot = screenshot(html_path, Path(scratch) / "brief.png", width=PAGE_WIDTH_PX)
            os.replace(shot, png_path)
        note = f"rendered by {find_chromium()}"
    except (ChromiumError, OSError) as exc:
        png_path, note = None, f"no PNG: {exc}"
    return PublishedBrief(brief, html_path, png_path, note)


def brief_attachments(
    warehouse: Warehouse, now: dt.datetime | None = None, console_url: str | None = None
) -> list[Attachment]:
    """Today's brief for an email digest: the HTML page, and its PNG when Chromium renders it.
    A brief that cannot be built never holds an alert back: the digest goes without it."""
    try:
        brief = build_brief(warehouse, now=now, console_url=console_url)
        with tempfile.TemporaryDirectory(prefix="risk-brief-") as scratch:
            published = publish_brief(brief, Path(scratch))
            files = [(published.html_path, "text", "html")]
            if published.png_path is not None:
                files.append((published.png_path, "image", "png"))
            return [
                Attachment(path.name, path.read_bytes(), maintype, subtype)
                for path, maintype, subtype in files
            ]
    except Exception as exc:  # noqa: BLE001 - the alert matters more than its attachment
        log.warning("digest goes without the daily brief: %s", exc)
        return []


def digest_chart(warehouse: Warehouse, items: list[DigestItem]) -> bytes | None:
    """The most severe alert's series over six weeks: actual against the expected band."""
    firing = [i for i in items if i.event != "resolved"] or items
    top = max(firing, key=lambda i: severity_rank(i.severity))
    return series_chart_png(warehouse, top.unique_id, title=f"{top.rule_id}: {top.unique_id}")


def _write_atomically(path: Path, content: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(content)
    os.replace(f.name, path)

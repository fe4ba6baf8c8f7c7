"""Make the README's screenshots from a running `make run`: the asset graph and the asset list of
the Dagster UI, the newest daily risk brief, and the risk console's alert list and most
significant alert (signed in as make run's demo analyst), in headless Chromium (Debian's
package, driven by Playwright; `make test` installs both).

    make run                      # in one terminal: the demo, the UI on :3000, the console on :3001
    .venv/bin/python scripts/screenshots.py [--ui http://127.0.0.1:3000] [--out docs/images]

The asset groups are listed from the code location itself, so a new group shows expanded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, sync_playwright

from risk_pipelines.config import load_settings
from risk_pipelines.reporting.chromium import find_chromium

ROOT = Path(__file__).resolve().parents[1]
SETTLE_MS = 6000  # the UI fetches its GraphQL data after the page loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ui", default="http://127.0.0.1:3000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--brief", type=Path, help="default: the newest brief in data/briefs/")
    parser.add_argument("--console", default="http://127.0.0.1:3001")
    args = parser.parse_args()
    brief = args.brief or newest_brief(load_settings().briefs_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: ./scripts/ensure_chromium.sh installs Debian's")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1800, "height": 900})
        # Dagster's community sign-up dialog covers the page on a new browser profile.
        context.add_init_script("localStorage.setItem('communityNux', '1')")
        page = context.new_page()
        shoot(page, f"{args.ui}/asset-groups?expanded={expanded_groups()}", args.out, "asset-graph")
        shoot(page, f"{args.ui}/assets", args.out, "asset-list")
        page.set_viewport_size({"width": 1000, "height": 1400})
        shoot(page, brief.resolve().as_uri(), args.out, "daily-brief", settle_ms=500)
        page.set_viewport_size({"width": 1400, "height": 900})
        console_pages(page, args.console, args.out)
        browser.close()


def console_pages(page: Page, console: str, out: Path) -> None:
    name, password = demo_login(load_settings().data_dir / "console_demo_login.txt")
    page.goto(f"{console}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console}/alerts")
    shoot(page, f"{console}/alerts", out, "console-alerts", settle_ms=300)
    first = page.get_attribute("tbody tr:first-child td a", "href")
    shoot(page, f"{console}{first}", out, "console-alert", settle_ms=300)


def demo_login(path: Path) -> tuple[str, str]:
    if not path.exists():
        raise SystemExit(f"no {path}: make run writes it with the demo analyst's password")
    fields = dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)
    return fields["name"], fields["password"]


def expanded_groups() -> str:
    from risk_pipelines.definitions import defs

    nodes = defs.get_repository_def().asset_graph.asset_nodes
    groups = sorted({node.group_name for node in nodes if node.group_name})
    return quote(",".join(f"global@global:{group}" for group in groups), safe="")


def newest_brief(folder: Path) -> Path:
    briefs = sorted(folder.glob("risk-brief-*.html"))
    if not briefs:
        raise SystemExit(f"no brief in {folder}: run make run (or risk-pipelines brief) first")
    return briefs[-1]


def shoot(page: Page, url: str, out: Path, name: str, settle_ms: int = SETTLE_MS) -> None:
    page.goto(url)
    page.wait_for_timeout(settle_ms)
    path = out / f"{name}.png"
    page.screenshot(path=path)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  <- {url[:90]}")


if __name__ == "__main__":
    main()

"""The daily risk brief: what it says, that headless Chromium renders it, that it is an asset
the alert sensor requests, and that the leadership email carries it."""

import datetime as dt
import os
import re

import dagster as dg
import pytest
from PIL import Image

from risk_pipelines.alerting.notification.routes import load_routes
from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_alert_config
from risk_pipelines.reporting.brief import LEVELS, build_brief
from risk_pipelines.reporting.chromium import find_chromium, rendered_text
from risk_pipelines.reporting.publish import publish_brief
from risk_pipelines.reporting.render import LEVEL_COLOURS, PAGE_WIDTH_PX, render_brief_html
from risk_pipelines.runs import materialise_brief
from risk_pipelines.stages.alerts import evaluate_with_config
from risk_pipelines.stages.delivery import deliver
from risk_pipelines.warehouse import Warehouse
from tests.conftest import DEMO_END, unevaluated_copy
from tests.receivers import queue_leadership_email, smtp_receiver

SQLITE_ONLY = pytest.mark.parametrize("pipeline", ["sqlite"], indirect=True)


@pytest.fixture
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: make test installs it (ensure_chromium.sh)")
        pytest.skip("no Chromium here: ./scripts/ensure_chromium.sh installs it")
    return binary


def _evaluated(pipeline) -> Warehouse:
    warehouse = Warehouse(pipeline["url"])
    evaluate_with_config(warehouse, load_alert_config(PACKAGED_CONFIG_DIR))
    return warehouse


@SQLITE_ONLY
def test_the_brief_ranks_top_risks_lists_firing_alerts_and_what_changed(pipeline):
    warehouse = _evaluated(pipeline)
    brief = build_brief(warehouse, DEMO_END, now=dt.datetime(2026, 8, 10, 6, 0))

    ranks = [LEVELS.index(r.level) for r in brief.top_risks]
    assert ranks == sorted(ranks, reverse=True) and all(rank > 0 for rank in ranks)
    assert all(r.chart_png and r.chart_png.startswith(b"\x89PNG") for r in brief.top_risks)
    firing = warehouse.read_sql("SELECT alert_id FROM alerts WHERE state = 'firing'")
    assert sorted(a.alert_id for a in brief.firing) == sorted(firing["alert_id"])
    surge = [a for a in brief.firing if a.rule_id in ("report_spike", "report_surge")]
    assert surge and "scams_and_fraud" in surge[0].unique_id and surge[0].contributors
    assert f"{len(brief.firing)} alert(s) firing" in brief.headline()

    html = render_brief_html(brief)
    assert "Daily risk brief · Sunday 09 August 2026" in html
    assert html.count("data:image/png;base64,") >= len(brief.top_risks)
    # Self-contained: no script, nothing fetched from elsewhere (the base64 images may
    # spell "http" by chance, so look for references, not for the letters).
    assert "<script" not in html
    assert not re.search(r"""src\s*=\s*["']?\s*https?:|url\(\s*["']?\s*https?:""", html)
    # Each firing alert links to its page in the risk console (a link: nothing is fetched).
    linked = build_brief(_evaluated(pipeline), DEMO_END, console_url="https://risk.example")
    first = linked.firing[0].alert_id
    assert f'<a href="https://risk.example/alerts/{first}">#{first}</a>' in render_brief_html(
        linked
    )


@SQLITE_ONLY
def test_the_brief_renders_in_headless_chromium_with_its_key_text(pipeline, chromium, tmp_path):
    brief = build_brief(_evaluated(pipeline), DEMO_END)
    published = publish_brief(brief, tmp_path)

    assert published.png_path is not None, published.png_note
    with Image.open(published.png_path) as image:
        shot = image.convert("RGB")
    assert shot.width == PAGE_WIDTH_PX and 600 < shot.height < 4000  # trimmed to the content
    colours = {colour for _, colour in shot.getcolors(maxcolors=1 << 20)}
    badge = tuple(int(LEVEL_COLOURS[brief.top_risks[0].level][i : i + 2], 16) for i in (1, 3, 5))
    assert badge in colours, "the top risk's level badge is not on the screenshot"
    assert len(colours) > 500, "the screenshot has no charts on it"

    dom = rendered_text(published.html_path)
    for text in ("Daily risk brief", "Top risks", "Alerts firing", "What changed since yesterday"):
        assert text in dom
    assert brief.headline().replace("·", "&middot;") in dom or brief.headline() in dom
    assert brief.top_risks[0].policy_category in dom


@SQLITE_ONLY
def test_the_brief_asset_writes_the_days_page(pipeline):
    with dg.instance_for_test() as instance:
        result = materialise_brief(DEMO_END, instance=instance, resources=pipeline["resources"])
    assert result.success
    metadata = result.asset_materializations_for_node("risk_brief")[0].metadata
    assert metadata["html"].value.endswith(f"risk-brief-{DEMO_END}.html")
    assert os.path.exists(metadata["html"].value)
    assert metadata["dagster/row_count"].value >= 1
    assert "alert(s) firing" in metadata["headline"].value
    assert "data:image/png;base64," in metadata["chart"].value


@SQLITE_ONLY
def test_the_alert_sensor_requests_the_brief_of_the_newest_day_it_evaluated(pipeline, tmp_path):
    from risk_pipelines.defs.alerting.sensors import risk_alerts_sensor

    resources = unevaluated_copy(pipeline, tmp_path)

    tick = risk_alerts_sensor(
        dg.build_sensor_context(instance=pipeline["instance"], resources=resources)
    )
    assert isinstance(tick, dg.SensorResult)
    (request,) = tick.run_requests
    assert request.partition_key == str(DEMO_END)
    assert request.run_key.startswith(f"brief:{DEMO_END}:")


@SQLITE_ONLY
def test_the_leadership_email_carries_the_brief_as_html_and_png(pipeline, chromium, monkeypatch):
    warehouse = _evaluated(pipeline)
    routes = load_routes(PACKAGED_CONFIG_DIR / "channels.yaml")
    alert_id = int(warehouse.read_sql("SELECT MIN(alert_id) AS a FROM alerts")["a"].iat[0])
    now = dt.datetime(2026, 8, 10, 6, 0)
    with warehouse.engine.begin() as conn:
        queue_leadership_email(conn, alert_id, "renotify", "still firing", now)
    with smtp_receiver() as smtp:
        # The route's address and recipients come from the environment, as in production.
        monkeypatch.setenv("RISK_SMTP_HOST", smtp.host)
        monkeypatch.setenv("RISK_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("RISK_LEADERSHIP_EMAILS", "head-of-risk@risk.test")
        report = deliver(warehouse, routes, now)
    assert report.sent >= 1
    (message,) = smtp.messages
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    page = attachments[f"risk-brief-{DEMO_END}.html"].get_content()
    assert "Daily risk brief" in page and "Top risks" in page
    assert attachments[f"risk-brief-{DEMO_END}.png"].get_content().startswith(b"\x89PNG")

"""The risk console, used in a real browser (Debian's Chromium, driven by Playwright) against a
real server on the demo's evaluated alerts: an analyst signs in, labels and silences; a viewer
only reads; data from a feed renders as text; a write without a session or a CSRF token is
refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import uvicorn

from risk_pipelines.config import (
    PACKAGED_CONFIG_DIR,
    load_alert_config,
    load_console_settings,
    load_settings,
)
from risk_pipelines.console.app import create_app
from risk_pipelines.console.auth import add_user
from risk_pipelines.reporting.chromium import find_chromium
from risk_pipelines.stages.alerts import evaluate_with_config
from risk_pipelines.warehouse import Warehouse
from risk_pipelines.warehouse import alerts as store
from tests.conftest import ALERT_STATE_TABLES

SQLITE_ONLY = pytest.mark.parametrize("pipeline", ["sqlite"], indirect=True)
PASSWORD = "correct horse battery"


@pytest.fixture
def console(pipeline, tmp_path):
    """The console on a free port over an evaluated copy of the demo warehouse, with an analyst
    (ana) and a viewer (lee) in its users file."""
    copy = tmp_path / "warehouse.sqlite"
    with sqlite3.connect(pipeline["url"].removeprefix("sqlite:///")) as source:
        target = sqlite3.connect(copy)
        source.backup(target)
        target.close()
    url = f"sqlite:///{copy}"
    warehouse = Warehouse(url)
    evaluate_with_config(warehouse, load_alert_config(PACKAGED_CONFIG_DIR))
    environ = {"RISK_WAREHOUSE_URL": url, "RISK_DATA_DIR": str(tmp_path / "data")}
    settings, console_settings = load_settings(environ), load_console_settings(environ)
    add_user(console_settings.users_file, "ana", "analyst", PASSWORD)
    add_user(console_settings.users_file, "lee", "viewer", PASSWORD)
    with served(create_app(settings, console_settings)) as base:
        yield {"base": base, "warehouse": warehouse}


@contextlib.contextmanager
def served(app):
    """The app on a free loopback port, in a real uvicorn server, for as long as the block."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser():
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: make test installs it (ensure_chromium.sh)")
        pytest.skip("no Chromium here: ./scripts/ensure_chromium.sh installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


def sign_in(browser, base: str, name: str):
    page = browser.new_page()
    page.goto(f"{base}/alerts")  # not signed in: sent to the sign-in page, then back
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/alerts")
    return page


@SQLITE_ONLY
def test_an_analyst_labels_an_alert_and_the_label_is_in_the_history_and_precision(
    console, browser, monkeypatch, capsys
):
    from risk_pipelines.alerting.evaluation.backtest import backtest_rule, record_backtest
    from risk_pipelines.cli import main

    page = sign_in(browser, console["base"], "ana")
    assert "ana (analyst)" in page.inner_text("header")
    firing = int(page.inner_text(".counts a:has(.firing) strong"))
    assert firing >= 1
    page.click("tbody tr:first-child td a")  # the most significant alert
    alert_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("img[alt^='the series']").count() == 1  # the chart with its band
    assert page.inner_text("pre").startswith("id: ")  # the rule as its author wrote it
    page.select_option("#label-form select[name=label]", "confirmed")
    page.fill("#label-form input[name=comment]", "matches the T-42 scam wave")
    page.click("#label-form button")
    assert "labelled confirmed by ana" in page.inner_text(".flash")
    assert "confirmed by ana: matches the T-42 scam wave" in page.inner_text("#label")

    history = (
        console["warehouse"]
        .read_sql(
            "SELECT label, labelled_by, label_comment, ack_by FROM v_alert_history "
            "WHERE alert_id = :a",
            {"a": alert_id},
        )
        .iloc[0]
    )
    assert (history["label"], history["labelled_by"], history["ack_by"]) == (
        "confirmed",
        "ana",
        "ana",
    )
    rule_id = (
        console["warehouse"]
        .read_sql("SELECT rule_id FROM alerts WHERE alert_id = :a", {"a": alert_id})["rule_id"]
        .iat[0]
    )
    precision = store.precision_by_rule(console["warehouse"]).set_index("rule_id")
    assert precision.loc[rule_id, "confirmed"] >= 1 and precision.loc[rule_id, "labelled"] >= 1
    # ... and `risk-pipelines alerts precision` counts it, on the same warehouse.
    monkeypatch.setenv("RISK_WAREHOUSE_URL", str(console["warehouse"].engine.url))
    assert main(["alerts", "precision"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if rule_id in line)
    fired, labelled, confirmed = row.split()[1:4]
    assert int(fired) == precision.loc[rule_id, "fired"] and (labelled, confirmed) == ("1", "1")

    rule = next(r for r in load_alert_config(PACKAGED_CONFIG_DIR).rules if r.id == "incident_spike")
    result = backtest_rule(console["warehouse"], rule, dt.date(2026, 7, 1), dt.date(2026, 8, 9))
    record_backtest(console["warehouse"], result, 7, dt.datetime(2026, 8, 10, 6))
    page.goto(f"{console['base']}/rules")
    assert rule_id in page.inner_text("#precision")
    backtest = page.inner_text("#backtests")
    assert "incident_spike" in backtest and "2026-07-01 .. 2026-08-09" in backtest


@SQLITE_ONLY
def test_a_silence_made_from_an_alert_holds_back_its_next_notification(console, browser):
    warehouse = console["warehouse"]
    fired = warehouse.read_sql(
        "SELECT alert_id, rule_id, unique_id FROM alerts WHERE fired_at IS NOT NULL "
        "ORDER BY alert_id LIMIT 1"
    ).iloc[0]
    page = sign_in(browser, console["base"], "ana")
    page.goto(f"{console['base']}/alerts/{fired['alert_id']}")
    page.fill("#silence-form input[name=comment]", "creator-fund launch, ticket T-7")
    page.click("#silence-form button")
    assert "silence #1" in page.inner_text(".flash") and "by ana" in page.inner_text(".flash")

    # The same days evaluated again: the alert fires again, and its notice is held back.
    with warehouse.engine.begin() as conn:
        for table in ALERT_STATE_TABLES:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    evaluate_with_config(warehouse, load_alert_config(PACKAGED_CONFIG_DIR))
    notes = warehouse.read_sql(
        "SELECT n.status, n.error FROM alert_notifications n JOIN alerts a USING (alert_id) "
        "WHERE a.rule_id = :r AND a.unique_id = :u",
        {"r": fired["rule_id"], "u": fired["unique_id"]},
    )
    assert len(notes) and (notes["status"] == "silenced").all()
    assert "by ana: creator-fund launch, ticket T-7" in notes["error"].iat[0]


@SQLITE_ONLY
def test_an_investigation_is_kept_with_its_incident_and_exports_as_a_postmortem(console, browser):
    incident_id = int(
        console["warehouse"]
        .read_sql("SELECT MIN(incident_id) AS i FROM alert_incidents")["i"]
        .iat[0]
    )
    page = sign_in(browser, console["base"], "ana")
    page.click("header a:text('Incidents')")
    page.click(f"a[href='/incidents/{incident_id}'] >> nth=0")
    assert page.locator("img[alt^='the most significant']").count() == 1
    page.fill("#investigation-form input[name=owner]", "ana")
    page.select_option("#investigation-form select[name=status]", "mitigating")
    page.fill("#investigation-form textarea[name=root_cause]", "a scam campaign moved to DE")
    page.fill(
        "#investigation-form textarea[name=follow_ups]", "block the sender ring\ntune the rule"
    )
    page.click("#investigation-form button")
    page.fill("#note-form textarea[name=body]", "T-42: 80% of the reports name one seller")
    page.click("#note-form button")
    assert "ana: T-42: 80% of the reports name one seller" in page.inner_text("#timeline")

    with page.expect_download() as download:
        page.click("#export")
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith(f"# Incident #{incident_id}: ")
    assert "- Investigation: mitigating, owner ana" in markdown
    assert "a scam campaign moved to DE" in markdown
    assert "- [ ] block the sender ring\n- [ ] tune the rule" in markdown
    assert "ana: T-42: 80% of the reports name one seller" in markdown
    notes = console["warehouse"].read_sql("SELECT author FROM investigation_notes")
    assert notes["author"].tolist() == ["ana"]


@SQLITE_ONLY
def test_a_viewer_reads_but_cannot_label(console, browser):
    page = sign_in(browser, console["base"], "lee")
    page.click("tbody tr:first-child td a")
    assert page.locator("#label-form").count() == 0  # no form to fill
    alert_id = int(page.url.rsplit("/", 1)[1])
    csrf = page.input_value("header input[name=csrf_token]")
    answer = page.request.post(
        f"{console['base']}/alerts/{alert_id}/label",
        form={"label": "false_alarm", "csrf_token": csrf},
    )
    assert answer.status == 403 and "viewer" in answer.text()
    labels = console["warehouse"].read_sql(
        "SELECT label FROM alerts WHERE alert_id = :a", {"a": alert_id}
    )
    assert labels["label"].isna().all()


def test_a_platform_named_script_in_a_landing_file_renders_as_text(tmp_path, request, monkeypatch):
    """The name arrives as a feed would send it: in a landed daily-metrics file, through the
    whole pipeline to an alert, and is shown on the list and the alert page as text. The
    browser starts after the run: Dagster's run and Playwright's event loop keep apart."""
    from risk_pipelines.cli import main
    from tests.test_real_data_flow import day_range, land, series_frame

    script = "<script>alert(1)</script>"
    days = day_range(dt.date(2026, 5, 1), 60)
    land(tmp_path / "landing", series_frame(days, [script], ["scams_and_fraud"]))
    config = tmp_path / "config"
    config.mkdir()
    (config / "alert_rules.yaml").write_text(
        "rules:\n  - {id: statements_seen, type: threshold, match: {metric: statements},\n"
        "     threshold: 0, severity: high}\n"
    )
    environ = {
        "RISK_DATA_DIR": str(tmp_path / "data"), "RISK_LANDING_DIR": str(tmp_path / "landing"),
        "RISK_PIPELINES_CONFIG": str(config), "RISK_FORECAST_WORKERS": "1",
    }  # fmt: skip
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RISK_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["run", "--start", str(days[0]), "--end", str(days[-1])]) == 0
    console_settings = load_console_settings(environ)
    add_user(console_settings.users_file, "ana", "analyst", PASSWORD)
    browser = request.getfixturevalue("browser")
    with served(create_app(load_settings(environ), console_settings)) as base:
        page = sign_in(browser, base, "ana")
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{base}/alerts?platform={urllib.parse.quote(script)}")
        assert script in page.inner_text("tbody")
        page.click("tbody tr:first-child td a")
        assert page.inner_text("#platform") == script and script in page.inner_text("#message")
        assert page.locator("script").count() == 0  # not one element: the text stayed text
    assert dialogs == []


@SQLITE_ONLY
def test_a_write_without_a_session_or_without_the_csrf_token_is_refused(console, browser):
    base = console["base"]
    alert_id = int(
        console["warehouse"].read_sql("SELECT MIN(alert_id) AS a FROM alerts")["a"].iat[0]
    )
    form = urllib.parse.urlencode({"label": "false_alarm", "csrf_token": "x"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"{base}/alerts/{alert_id}/label", form))
    assert refused.value.code in (401, 403)  # no session: no user, no CSRF token to match
    page = sign_in(browser, base, "ana")
    answer = page.request.post(f"{base}/alerts/{alert_id}/label", form={"label": "false_alarm"})
    assert answer.status == 403 and "CSRF" in answer.text()
    assert (
        console["warehouse"]
        .read_sql("SELECT label FROM alerts WHERE alert_id = :a", {"a": alert_id})["label"]
        .isna()
        .all()
    )
    cookie = next(c for c in page.context.cookies() if c["name"] == "risk_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_behind_a_trusted_proxy_its_header_names_the_user_and_the_file_their_role(tmp_path):
    """Single sign-on: no password, the proxy's header names the user; a name the users file
    does not list gets nothing, and the role is the file's whatever the proxy says."""
    environ = {
        "RISK_DATA_DIR": str(tmp_path / "data"), "RISK_CONSOLE_AUTH": "proxy",
        "RISK_CONSOLE_PROXY_HEADER": "X-Auth-User",
        "RISK_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'w.sqlite'}",
    }  # fmt: skip
    console_settings = load_console_settings(environ)
    add_user(console_settings.users_file, "lee", "viewer", PASSWORD)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(base: str, user: str | None) -> tuple[str, str]:
        request = urllib.request.Request(
            f"{base}/alerts", headers={"X-Auth-User": user} if user else {}
        )
        with opener.open(request) as answer:
            return answer.url, answer.read().decode()

    with served(create_app(load_settings(environ), console_settings)) as base:
        url, page = get(base, "lee")
        assert url.endswith("/alerts") and "lee (viewer)" in page
        for stranger in (None, "mallory"):
            url, page = get(base, stranger)
            assert "/login" in url and "not in the console's users file" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', get(base, "lee")[1]).group(1)
        form = urllib.parse.urlencode({"label": "confirmed", "csrf_token": token}).encode()
        request = urllib.request.Request(f"{base}/alerts/1/label", form, {"X-Auth-User": "lee"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request)
        assert refused.value.code == 403  # a viewer in the file stays a viewer
        token = re.search(r'name="csrf_token" value="([^"]+)"', get(base, "lee")[1]).group(1)
        form = urllib.parse.urlencode({"name": "lee", "password": PASSWORD, "csrf_token": token})
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(f"{base}/login", form.encode())
        assert refused.value.code == 403  # no password sign-in beside the proxy

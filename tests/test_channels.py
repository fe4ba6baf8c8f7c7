"""Channels deliver readable digests to real local servers: Slack (Block Kit), email over SMTP
with the chart inline, and a JSON webhook signed with HMAC-SHA256. Routes come from YAML."""

import datetime as dt
import hashlib
import hmac

import pytest

from risk_pipelines.alerting.notification.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DisabledChannel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
    build_channel,
)
from risk_pipelines.alerting.notification.digest import Digest, DigestItem, render_text
from risk_pipelines.alerting.notification.routes import RouteError, parse_routes
from risk_pipelines.config import PACKAGED_CONFIG_DIR, load_alert_config
from tests.receivers import http_receiver, smtp_receiver

NOW = dt.datetime(2026, 3, 10, 9, 0)
SURGE = DigestItem(
    idempotency_key="1:firing:2026-03-09:risk-slack",
    alert_id=1,
    event="firing",
    severity="critical",
    rule_id="report_surge",
    unique_id="user_reports|own|scams_and_fraud|DE|all",
    metric="user_reports",
    policy_category="scams_and_fraud",
    region="DE",
    message="user_reports (scams_and_fraud, DE) was 400 on 2026-03-09, above the 95% band",
    owners=("risk-analysis",),
    contributors=({"dimension": "surface", "value": "video", "share": 0.71},),
    annotation="public holiday in DE: Karfreitag",
)
DROP = DigestItem(
    idempotency_key="2:resolved:2026-03-09:risk-slack",
    alert_id=2,
    event="resolved",
    severity="high",
    rule_id="proactive_detection_drop",
    unique_id="proactive_rate|own|illegal_or_harmful_speech|FR|all",
    metric="proactive_rate",
    policy_category="illegal_or_harmful_speech",
    region="FR",
    message="resolved: proactive_rate (illegal_or_harmful_speech, FR) back inside its band",
)
PNG = b"\x89PNG\r\n\x1a\n-a-chart-"


def digest(route: str = "risk-slack", chart: bytes | None = None) -> Digest:
    return Digest(route, NOW, (DROP, SURGE), chart)


def test_slack_gets_one_block_kit_message_grouped_by_policy_area_most_severe_first():
    with http_receiver() as slack:
        delivery = SlackChannel(slack.url + "/services/T0/B0/secret").send(digest())
    assert delivery.status == "sent"
    (request,) = slack.requests
    payload = request.json()
    assert payload["text"].startswith("Risk alerts (risk-slack)")
    blocks = payload["blocks"]
    assert blocks[0]["type"] == "header"
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert sections[0].startswith("*scams and fraud*")  # the critical one leads
    assert ":red_circle: *FIRING* `report_surge`" in sections[0]
    assert "surface=video 71%" in sections[0] and "Karfreitag" in sections[0]
    assert sections[1].startswith("*illegal or harmful speech*") and "RESOLVED" in sections[1]
    assert "risk-analysis" in blocks[-1]["elements"][0]["text"]
    assert request.headers["Idempotency-Key"] == digest().key


def test_the_webhook_body_is_signed_over_timestamp_and_body_with_the_shared_secret():
    with http_receiver() as hook:
        assert WebhookChannel(hook.url, "s3cret").send(digest()).status == "sent"
    (request,) = hook.requests
    timestamp, signature = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert signature == "sha256=" + expected.hexdigest()
    wrong = hmac.new(b"other", timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert signature != "sha256=" + wrong.hexdigest()
    body = request.json()
    assert body["digest_key"] == request.headers["Idempotency-Key"] == digest().key
    keys = {n["idempotency_key"] for n in body["notifications"]}
    assert keys == {SURGE.idempotency_key, DROP.idempotency_key}
    surge = next(n for n in body["notifications"] if n["alert_id"] == 1)
    assert surge["contributors"][0]["value"] == "video" and surge["region"] == "DE"


def test_email_is_html_with_the_chart_inline_and_a_plain_text_part():
    with smtp_receiver() as smtp:
        channel = EmailChannel(smtp.host, smtp.port, "alerts@risk.test", ["head@risk.test"])
        assert channel.send(digest("leadership-email", PNG)).status == "sent"
    (message,) = smtp.messages
    assert message["To"] == "head@risk.test" and "Risk alerts" in message["Subject"]
    assert message["X-Idempotency-Key"] == digest("leadership-email").key
    plain = message.get_body(("plain",)).get_content()
    assert "[FIRING][CRITICAL] report_surge" in plain
    html = message.get_body(("html",)).get_content()
    assert "<h3>scams and fraud</h3>" in html and "surface=video 71%" in html
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert image.get_content() == PNG
    assert f"cid:{image['Content-ID'][1:-1]}" in html


def test_every_digest_links_each_alert_to_its_page_in_the_risk_console():
    linked = Digest("risk-slack", NOW, (DROP, SURGE), None, (), "https://risk.example")
    page = "https://risk.example/alerts/1"
    with http_receiver() as receiver:
        SlackChannel(receiver.url + "/services/T0/B0/secret").send(linked)
        WebhookChannel(receiver.url, "s3cret").send(linked)
    slack, hook = (r.json() for r in receiver.requests)
    assert f"<{page}|#1>" in next(b["text"]["text"] for b in slack["blocks"] if "surge" in str(b))
    urls = {n["alert_id"]: n["url"] for n in hook["notifications"]}
    assert urls == {1: page, 2: "https://risk.example/alerts/2"}
    with smtp_receiver() as smtp:
        EmailChannel(smtp.host, smtp.port, "alerts@risk.test", ["head@risk.test"]).send(linked)
    (message,) = smtp.messages
    assert f"(alert 1: {page})" in message.get_body(("plain",)).get_content()
    assert f"<a href='{page}'>alert 1</a>" in message.get_body(("html",)).get_content()
    assert "/alerts/" not in render_text(digest())  # no console configured: no link


def test_a_server_that_is_down_or_failing_is_reported_not_raised():
    with http_receiver() as hook:
        hook.fail_next = 1
        failed = WebhookChannel(hook.url, "s").send(digest())
    assert failed.status == "failed" and "HTTP 500" in failed.error
    unreachable = SlackChannel("http://127.0.0.1:9/hook").send(digest())
    assert unreachable.status == "failed" and "unreachable" in unreachable.error
    no_smtp = EmailChannel("127.0.0.1", 9, "a@b", ["c@d"]).send(digest())
    assert no_smtp.status == "failed" and "SMTP 127.0.0.1:9" in no_smtp.error


def test_routes_read_secrets_from_the_environment_only_and_a_missing_one_disables_the_route():
    config = parse_routes({"routes": {
        "hook": {"channel": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET",
                 "min_severity": "high", "policy_categories": ["scams_and_fraud"]},
    }})  # fmt: skip
    route = config.routes["hook"]
    disabled = build_channel(route, environ={"HOOK_URL": "http://x"})
    assert isinstance(disabled, DisabledChannel) and "HOOK_SECRET not set" in disabled.reason
    enabled = build_channel(route, environ={"HOOK_URL": "http://x", "HOOK_SECRET": "k"})
    assert isinstance(enabled, WebhookChannel) and enabled.secret == "k"
    assert route.takes("critical", "scams_and_fraud")
    assert not route.takes("medium", "scams_and_fraud")  # below the route's severity
    assert not route.takes("critical", "violence")  # another policy area


@pytest.mark.parametrize(
    "route, message",
    [
        ({"channel": "pager"}, "'channel' is 'pager'"),
        ({"channel": "slack"}, "needs 'webhook_url_env'"),
        ({"channel": "slack", "webhook_url_env": "https://hooks.slack.com/x"}, "upper case"),
        ({"channel": "log", "min_severity": "urgent"}, "'min_severity' is 'urgent'"),
        ({"channel": "log", "colour": "red"}, "unknown field(s) ['colour']"),
    ],
)
def test_bad_routes_are_rejected_with_the_route_and_field_named(route, message):
    with pytest.raises(RouteError, match="route 'r'") as error:
        parse_routes({"routes": {"r": route}}, source="channels.yaml")
    assert message in str(error.value)


def test_rules_may_only_name_declared_routes():
    from risk_pipelines.alerting.evaluation.rules import RuleError, parse_rules

    rule = {"id": "r", "type": "threshold", "severity": "low", "threshold": 1, "routes": ["x"]}
    with pytest.raises(RuleError, match=r"unknown route\(s\) \['x'\]"):
        parse_rules({"rules": [rule]}, known_routes=["log"])


def test_the_packaged_config_loads_and_routes_every_rule_to_the_log_at_least():
    config = load_alert_config(PACKAGED_CONFIG_DIR)
    declared = {"log", "risk-slack", "leadership-email", "incident-webhook"}
    assert declared <= set(config.routes.routes)
    assert all("log" in rule.routes for rule in config.rules)
    assert config.calendar.public_holidays == "annotate"

"""Delivery channels: each sends one digest and reports what happened, never raising, so one
channel's outage cannot stop the others (the dispatcher retries failures on a later tick)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from risk_pipelines.alerting.notification.digest import (
    Digest,
    item_line,
    render_html,
    render_json,
    render_slack,
    render_text,
)
from risk_pipelines.alerting.notification.routes import Route

log = logging.getLogger("risk_pipelines.alerts")
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "X-Risk-Signature"
TIMESTAMP_HEADER = "X-Risk-Timestamp"


@dataclass(frozen=True)
class Delivery:
    status: str  # sent | failed | skipped
    error: str | None = None


class Channel(Protocol):
    def send(self, digest: Digest) -> Delivery: ...


class LogChannel:
    """One log line per notification (the Dagster sensor or run log shows them)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log

    def send(self, digest: Digest) -> Delivery:
        for item in digest.items:
            self.logger.warning("%s", item_line(item))
        return Delivery("sent")


class SlackChannel:
    """A Slack incoming webhook: Block Kit sections per policy area."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, digest: Digest) -> Delivery:
        body = _json_bytes(render_slack(digest))
        return _post(self.url, body, {"Idempotency-Key": digest.key})


class WebhookChannel:
    """A generic JSON webhook. The signature is HMAC-SHA256 over ``"<timestamp>.<body>"`` with
    the shared secret, hex-encoded as ``sha256=<hex>``; the timestamp is signed too so a
    captured request cannot be replayed later with a fresh timestamp."""

    def __init__(self, url: str, secret: str) -> None:
        self.url, self.secret = url, secret

    def send(self, digest: Digest) -> Delivery:
        body = render_json(digest)
        timestamp = str(int(time.time()))
        return _post(
            self.url,
            body,
            {
                "Idempotency-Key": digest.key,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            },
        )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class EmailChannel:
    """HTML email over SMTP with the digest's chart inline (a related image, by Content-ID)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.username, self.password, self.starttls = username, password, starttls

    def send(self, digest: Digest) -> Delivery:
        message = EmailMessage()
        message["Subject"] = digest.title()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["X-Idempotency-Key"] = digest.key
        message.set_content(render_text(digest))
        cid = make_msgid(domain="risk-pipelines.local") if digest.chart_png else None
        message.add_alternative(render_html(digest, cid[1:-1] if cid else None), subtype="html")
        if cid:
            message.get_payload()[1].add_related(
                digest.chart_png, maintype="image", subtype="png", cid=cid
            )
        for attachment in digest.attachments:
            message.add_attachment(
                attachment.content,
                maintype=attachment.maintype,
                subtype=attachment.subtype,
                filename=attachment.filename,
            )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery("failed", f"SMTP {self.host}:{self.port}: {exc}")
        return Delivery("sent")


class DisabledChannel:
    """A route whose environment variables are unset: recorded, not sent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def send(self, digest: Digest) -> Delivery:
        return Delivery("skipped", self.reason)


def build_channel(route: Route, environ: Mapping[str, str]) -> Channel:
    """The channel for a route, with its addresses and secrets looked up in ``environ`` (the
    live environment, handed in by the caller when it sends: a rotated secret is picked up on
    the next tick)."""
    missing = route.missing_env(environ)
    if missing:
        return DisabledChannel(f"route {route.name} disabled: {', '.join(missing)} not set")
    s = route.settings
    if route.channel == "slack":
        return SlackChannel(environ[s["webhook_url_env"]])
    if route.channel == "webhook":
        return WebhookChannel(environ[s["url_env"]], environ[s["secret_env"]])
    if route.channel == "email":
        recipients = [r.strip() for r in environ[s["recipients_env"]].split(",") if r.strip()]
        return EmailChannel(
            host=environ.get(s.get("smtp_host_env", ""), "") or "localhost",
            port=int(environ.get(s.get("smtp_port_env", ""), "") or 25),
            sender=s.get("sender", "risk-alerts@localhost"),
            recipients=recipients,
            username=environ.get(s.get("username_env", "")) or None,
            password=environ.get(s.get("password_env", "")) or None,
            starttls=bool(s.get("starttls", False)),
        )
    return LogChannel()


def _json_bytes(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> Delivery:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            if 200 <= response.status < 300:
                return Delivery("sent")
            return Delivery("failed", f"HTTP {response.status} from {_host(url)}")
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode(errors="replace").strip()
        return Delivery("failed", f"HTTP {exc.code} from {_host(url)}: {detail}")
    except (urllib.error.URLError, OSError) as exc:
        return Delivery("failed", f"{_host(url)} unreachable: {exc}")


def _host(url: str) -> str:
    # Never log a webhook URL whole: Slack's carries its secret in the path.
    return urllib.parse.urlsplit(url).netloc

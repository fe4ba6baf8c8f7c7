"""Real local servers that receive what the alert channels send: an HTTP server for Slack and
webhook messages (it can be told to fail the next requests), and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with HTTP 500 before accepting
    # Keep the next request this many requests waiting for its answer until ``release`` is set
    # (``arrived`` is set as one comes in): a sender can be killed while its request is open.
    hold_next: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def http_receiver():
    receiver = HttpReceiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                failing = receiver.fail_next > 0
                receiver.fail_next -= failing
                if not failing:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                holding = receiver.hold_next > 0
                receiver.hold_next -= holding
            if holding:
                receiver.arrived.set()
                receiver.release.wait(60)
            self.send_response(500 if failing else 200)
            self.end_headers()
            self.wfile.write(b"upstream unavailable" if failing else b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)


@contextlib.contextmanager
def smtp_receiver(port: int | None = None):
    """A real SMTP server on ``port`` (default: a free one) that keeps what it receives."""
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver("127.0.0.1", 0)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            receiver.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    receiver.port = port or free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


def free_port() -> int:
    # aiosmtpd checks it is up by connecting to the port it was given, so port 0 will not do.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def queue_leadership_email(conn, alert_id: int, event: str, message: str, now) -> None:
    """One notification of ``alert_id`` queued for the leadership-email route, as evaluation
    would queue it."""
    from risk_pipelines.warehouse.alerts import Notification, queue_notification

    notice = Notification(
        alert_id=alert_id, event=event, route="leadership-email",
        key=f"{alert_id}:{event}:test:leadership-email", severity="high",
        message=message, owners=("risk-analysis",),
    )  # fmt: skip
    queue_notification(conn, notice, now)

"""Local endpoints for delivery tests: a webhook receiver and an SMTP server, on loopback.

The webhook receiver checks what it receives the way a real receiver should: the
``X-Kinship-Signature`` with the secret of ITS endpoint (derived from the test master secret
and its URL, as ``python -m kinship_notifications endpoint-secret <url>`` prints it), and the
signed ``sent_at``, refusing bodies older than five minutes (replays).
"""

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from kinship_devstack.loopback import LoopbackServer, Receive, Scope, Send, read_body
from kinship_notifications.domain.signing import endpoint_secret

WEBHOOK_SECRET = "test-webhook-secret"
"""The notifications service's KINSHIP_WEBHOOK_SECRET in tests (endpoint secrets derive from it)."""

MAX_AGE = timedelta(minutes=5)


def webhook_problem(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    max_age: timedelta = MAX_AGE,
) -> str | None:
    """Why a receiver must refuse a webhook (``bad_signature``, ``stale``), or None.

    What a receiver checks: the signature over the exact body with its endpoint's secret
    (constant time), then the signed ``sent_at`` (a replayed body is old; the
    ``X-Kinship-Timestamp`` header must agree with it). ``delivery_id`` deduplicates.
    """
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-kinship-signature", "")):
        return "bad_signature"
    try:
        sent_at = datetime.fromisoformat(str(json.loads(body)["sent_at"]))
    except (ValueError, KeyError, TypeError):
        return "stale"
    if headers.get("x-kinship-timestamp") != json.loads(body)["sent_at"]:
        return "stale"
    if not now - max_age <= sent_at <= now + timedelta(seconds=30):
        return "stale"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    accepted: bool
    problem: str | None = None
    """Why the receiver refused it (``bad_signature``, ``stale``), if it did."""


@dataclass
class WebhookReceiver:
    """Answers 200 by default; ``fail_first[path] = n`` answers 500 n times; ``hang`` never.

    A webhook is verified with its endpoint's secret (from ``master``) and refused with 401
    when unsigned, signed for another endpoint or older than five minutes. Paths starting
    with ``slack`` play Slack incoming webhooks, which Kinship does not sign.
    """

    fail_first: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    master: bytes = WEBHOOK_SECRET.encode()
    shared: bool = False
    """Verify with ``master`` itself (a receiver built to the spec's interface alone, for
    ``KINSHIP_WEBHOOK_SIGNING=shared``) instead of the endpoint's derived secret."""
    _server: LoopbackServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def accepted(self, path: str) -> list[Received]:
        """Accepted requests to ``path``, one per delivery id (what a recipient acts on)."""
        seen: dict[str, Received] = {}
        for item in self.received:
            if item.path == f"/{path}" and item.accepted:
                seen.setdefault(item.headers.get("x-kinship-delivery", ""), item)
        return list(seen.values())

    def attempts(self, path: str) -> list[Received]:
        return [item for item in self.received if item.path == f"/{path}"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        problem = None
        if not path.lstrip("/").startswith("slack"):
            # The endpoint is the URL it was called at (a test may call it by another name).
            called = f"http://{headers.get('host', f'127.0.0.1:{self.port}')}{path}"
            secret = self.master if self.shared else endpoint_secret(self.master, called).encode()
            problem = webhook_problem(secret, body, headers, datetime.now(UTC))
        if problem is not None:
            self.received.append(Received(path, headers, body, time.monotonic(), False, problem))
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": problem.encode()})
            return
        if path.lstrip("/") in self.hang:
            self.received.append(Received(path, headers, body, time.monotonic(), False))
            await asyncio.sleep(3600)
            return
        failing = self.fail_first.get(path.lstrip("/"), 0)
        accepted = failing <= 0
        if not accepted:
            self.fail_first[path.lstrip("/")] = failing - 1
        self.received.append(Received(path, headers, body, time.monotonic(), accepted))
        status = 200 if accepted else 500
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if accepted else b"no"})

    async def start(self) -> None:
        self._server = LoopbackServer(self, self.port)
        await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(force=True)  # hung requests never end by themselves


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self._mailbox = _Mailbox()
        self._controller = Controller(self._mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        return self._mailbox.messages

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

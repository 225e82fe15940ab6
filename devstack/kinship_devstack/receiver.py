"""Local receivers for the demo: webhooks (signed) and email (a real SMTP server, aiosmtpd),
so the demo shows what responders and people would get.

The webhook receiver checks each call as a real receiver should: ``X-Kinship-Signature`` with
the secret of ITS endpoint (what ``python -m kinship_notifications endpoint-secret <url>``
prints; derived here from the local stack's ``KINSHIP_WEBHOOK_SECRET``, as the operator
would), and the signed ``sent_at``: a body older than five minutes is a replay and refused.
"""

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller

from kinship_devstack.loopback import LoopbackServer, Receive, Scope, Send, read_body

MAX_AGE = timedelta(minutes=5)


def endpoint_secret(master: bytes, url: str) -> bytes:
    """The signing secret of the endpoint ``url`` (as the notifications service derives it:
    HMAC-SHA256 of the URL with its webhook secret, in hex), as the HMAC key."""
    message = b"kinship-webhook-endpoint:v1:" + url.encode()
    return hmac.new(master, message, hashlib.sha256).hexdigest().encode()


def verified(secret: bytes, body: bytes, headers: Mapping[str, str], now: datetime) -> bool:
    """Whether a webhook is signed with this endpoint's secret and was sent in the last five
    minutes (the signed ``sent_at``, which ``X-Kinship-Timestamp`` repeats)."""
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-kinship-signature", "")):
        return False
    try:
        stamp = str(json.loads(body)["sent_at"])
        sent_at = datetime.fromisoformat(stamp)
    except (ValueError, KeyError, TypeError):
        return False
    fresh = now - MAX_AGE <= sent_at <= now + timedelta(seconds=30)
    return fresh and headers.get("x-kinship-timestamp") == stamp


@dataclass
class Delivery:
    """One webhook call as received."""

    recipient: str
    delivery_id: str
    kind: str
    body: dict[str, Any]
    signed: bool
    at: float
    channel: str = "webhook"


@dataclass
class DemoReceiver:
    """Accepts webhooks on ``http://127.0.0.1:<port>/<recipient>``; one record per delivery id.

    ``secret`` is the notifications service's ``KINSHIP_WEBHOOK_SECRET``: each recipient's
    endpoint secret is derived from it. A call that is not signed for its endpoint, or is
    stale, is refused (401) and counted in ``refused``; a later good attempt still arrives.
    """

    secret: bytes
    port: int = 8099
    deliveries: list[Delivery] = field(default_factory=list)
    refused: int = 0
    arrived: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    _server: LoopbackServer | None = None

    def url(self, recipient: str) -> str:
        """The webhook URL of a recipient."""
        return f"http://127.0.0.1:{self.port}/{recipient}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app."""
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        recipient = scope["path"].strip("/")
        secret = endpoint_secret(self.secret, self.url(recipient))
        signed = verified(secret, raw, headers, datetime.now(UTC))
        delivery_id = headers.get("x-kinship-delivery", "")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        delivery = Delivery(
            recipient=recipient,
            delivery_id=delivery_id,
            kind=headers.get("x-kinship-kind", "?"),
            body=body if isinstance(body, dict) else {},
            signed=signed,
            at=time.monotonic(),
        )
        if not signed:
            self.refused += 1  # never acted on (nor shown as a delivery)
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"bad signature or stale"})
            return
        if all(d.delivery_id != delivery_id for d in self.deliveries):  # the same id: once
            self.deliveries.append(delivery)
            self.arrived.put_nowait(delivery)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def start(self) -> None:
        """Listen on loopback."""
        self._server = LoopbackServer(self, self.port)
        await self._server.start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            await self._server.stop()


class DemoMailbox:
    """An SMTP server on ``127.0.0.1:<port>`` whose mail joins the webhook receiver's queue.

    aiosmtpd runs in its own thread; messages are handed to the demo's event loop.
    """

    def __init__(self, receiver: DemoReceiver, port: int = 8025) -> None:
        self.port = port
        self._receiver = receiver
        self._loop: asyncio.AbstractEventLoop | None = None
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd's hook: one message received."""
        message = message_from_bytes(envelope.content)
        delivery_id = str(message.get("X-Kinship-Delivery", ""))
        payload = message.get_payload(decode=True)
        text = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
        recipient = str(envelope.rcpt_tos[0]).split("@", 1)[0] if envelope.rcpt_tos else "?"
        delivery = Delivery(
            recipient=recipient,
            delivery_id=delivery_id,
            kind=delivery_id.split(":", 1)[0] or "?",
            body={"subject": str(message.get("Subject", "")), "text": text},
            signed=True,
            at=time.monotonic(),
            channel="email",
        )
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._receive, delivery)
        return "250 OK"

    def _receive(self, delivery: Delivery) -> None:
        if all(d.delivery_id != delivery.delivery_id for d in self._receiver.deliveries):
            self._receiver.deliveries.append(delivery)
            self._receiver.arrived.put_nowait(delivery)

    def start(self) -> None:
        """Listen on loopback (in aiosmtpd's thread)."""
        self._loop = asyncio.get_running_loop()
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

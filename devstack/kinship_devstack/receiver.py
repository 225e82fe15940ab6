"""Local receivers for the demo: webhooks (signed) and email (a real SMTP server, aiosmtpd),
so the demo shows what responders and people would get.
"""

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller

from kinship_devstack.loopback import LoopbackServer, Receive, Scope, Send, read_body


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
    """Accepts webhooks on ``http://127.0.0.1:<port>/<recipient>``; one record per delivery id."""

    secret: bytes
    port: int = 8099
    deliveries: list[Delivery] = field(default_factory=list)
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
        expected = "sha256=" + hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        delivery_id = headers.get("x-kinship-delivery", "")
        if all(d.delivery_id != delivery_id for d in self.deliveries):  # the same id: once
            delivery = Delivery(
                recipient=scope["path"].strip("/"),
                delivery_id=delivery_id,
                kind=headers.get("x-kinship-kind", "?"),
                body=json.loads(raw or b"{}"),
                signed=hmac.compare_digest(expected, headers.get("x-kinship-signature", "")),
                at=time.monotonic(),
            )
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

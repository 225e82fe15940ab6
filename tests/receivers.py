"""Local endpoints for delivery tests: a webhook receiver and an SMTP server, on loopback."""

import asyncio
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from kinship_devstack.loopback import LoopbackServer, Receive, Scope, Send, read_body


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


@dataclass
class WebhookReceiver:
    """Answers 200 by default; ``fail_first[path] = n`` answers 500 n times; ``hang`` never."""

    fail_first: dict[str, int] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)
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

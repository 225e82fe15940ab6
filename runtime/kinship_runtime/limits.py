"""Request limits that apply before any route code runs (an ASGI middleware).

- A body larger than ``KINSHIP_MAX_BODY_BYTES`` is answered ``413`` before anything parses
  it: a declared ``Content-Length`` is checked first; a body sent without one is counted
  as it arrives. Up to ``drain_bytes`` of an oversized body are read and discarded first, so
  an honest client receives the 413 instead of a reset connection.
- A request with a body to a protected path must authenticate before its body is read:
  no unauthenticated client can make a service buffer and parse megabytes. The identity
  proven here is handed to the route's access check, which does not verify it again.
"""

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Identify = Callable[[str], Awaitable[object | None]]
"""Verifies a bearer token; returns the identity, or None."""

IDENTITY_KEY = "kinship_identity"
"""Where in the ASGI scope's ``state`` the verified identity is left for the access check."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestLimits:
    """Body-size limit and authentication before the body, for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        identify: Identify,
        protected_prefix: str = "/v1/",
        public_paths: Sequence[str] = (),
        drain_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._app = app
        self._max = max_body_bytes
        self._identify = identify
        self._prefix = protected_prefix
        self._public = tuple(public_paths)
        self._drain = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with a body that cannot exceed the limit."""
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self._max:
            await self._drain_then(receive, declared, send, 413, self._too_large())
            return
        path: str = scope["path"]
        if path.startswith(self._prefix) and not path.startswith(self._public):
            token = _bearer(scope)
            identity = await self._identify(token) if token else None
            if identity is None:
                await self._drain_then(receive, declared, send, 401, _unauthorized())
                return
            scope.setdefault("state", {})[IDENTITY_KEY] = identity
        body = await self._read(receive)
        if body is None:
            await _respond(send, 413, self._too_large())
            return
        await self._app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await self._discard(receive, size, message.get("more_body", False))
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _discard(self, receive: Receive, size: int, more: bool) -> None:
        while more and size <= self._drain:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)

    async def _drain_then(
        self,
        receive: Receive,
        declared: int | None,
        send: Send,
        status: int,
        body: dict[str, Any],
    ) -> None:
        # A body sent without a length (chunked) is drained too, up to the same bound: the
        # client then reads the answer instead of a reset connection.
        if declared is None or 0 < declared <= self._drain:
            await self._discard(receive, 0, True)
        await _respond(send, status, body, close=True)

    def _too_large(self) -> dict[str, Any]:
        return {"detail": f"the request body is larger than {self._max} bytes"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = bytes(value).decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def _unauthorized() -> dict[str, Any]:
    return {
        "detail": "send 'Authorization: Bearer <token>': your system's API key or a valid, "
        "unexpired token from your organisation's sign-in"
    }


def _replay(body: bytes, original: Receive) -> Receive:
    """The body read once, then the client's own messages (a disconnect, in time)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


async def _respond(send: Send, status: int, body: dict[str, Any], close: bool = False) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})

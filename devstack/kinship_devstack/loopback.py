"""Small HTTP servers on loopback, for the demo's receivers and the tests' ones: an ASGI app
served by uvicorn inside the running event loop, and a request's whole body."""

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """The whole body of an ASGI HTTP request, however many messages it comes in."""
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


class LoopbackServer:
    """Serves ``app`` on ``http://127.0.0.1:<port>`` (uvicorn, no lifespan)."""

    def __init__(self, app: App, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen; returns once uvicorn accepts connections."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.02)

    async def stop(self, *, force: bool = False) -> None:
        """Stop listening; ``force`` also drops open connections (a request that never ends)
        and gives up after 10 s."""
        if self._task is None:
            return
        self._server.should_exit = True
        if force:
            self._server.force_exit = True
            await asyncio.wait_for(self._task, timeout=10)
        else:
            await self._task

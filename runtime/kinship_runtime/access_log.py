"""The HTTP access log without personal data.

uvicorn's own access log prints the client's address and the raw path with its query string:
``<client> - "GET /v1/preferences/<person id>?token=<…> HTTP/1.1" 200`` — a person's id, their
address, an acknowledgement token. Services run uvicorn without it and log each request here
instead, by its route template: ``GET /v1/preferences/{person_id} 200 3.1 ms``. A request that
matched no route is logged as ``<unmatched>``.
"""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kinship.access")


class AccessLog:
    """ASGI middleware: one line per HTTP request, by route template, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; log it when the response has started."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, recording)
        finally:
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                route,
                status,
                (time.perf_counter() - started) * 1000,
                extra={
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

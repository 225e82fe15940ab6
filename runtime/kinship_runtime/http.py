"""The HTTP application shell every service shares: errors, OpenAPI and AsyncAPI documents."""

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kinship_contracts.errors import UNKNOWN
from kinship_runtime.resilience import TRANSIENT_TYPES, is_transient
from kinship_runtime.vault import VaultRefusedError

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


def field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """Field errors without the submitted values (they may hold a person's answers), and
    without the name of a field the contract does not know (the sender chose that text)."""
    errors = []
    for detail in error.errors():
        loc = list(detail["loc"])
        if detail["type"] == "extra_forbidden" and loc:
            loc[-1] = UNKNOWN
        errors.append({"loc": loc, "msg": detail["msg"], "type": detail["type"]})
    return errors


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": field_errors(error)}, status_code=422)


class DependencyOutage:
    """Requests answered 503 while a dependency is away: logged when the first one is, and
    once more (with the count) when a request succeeds again, never once per request."""

    def __init__(self) -> None:
        self.refused = 0

    def failed(self, error: BaseException) -> None:
        """A request could not be served because a dependency is away."""
        if self.refused == 0:
            log.warning(
                "a dependency is away (%s): requests get 503 with Retry-After until it is back",
                type(error).__name__,
            )
        self.refused += 1

    def recovered(self) -> None:
        """A request was served: the outage, if any, is over."""
        if self.refused:
            log.warning(
                "dependencies answer again; %d requests got 503 meanwhile",
                self.refused,
                extra={"count": self.refused},
            )
            self.refused = 0


def _unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "temporarily unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _transient_error(
    outage: DependencyOutage,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    # Registered per exception class, so Starlette's ExceptionMiddleware answers and the
    # error stops here; a handler for ``Exception`` itself answers too but re-raises, and the
    # server then logs every request of an outage as "Exception in ASGI application".
    async def handle(_request: Request, error: Exception) -> JSONResponse:
        if not is_transient(error):
            raise error  # a bug after all: the 500 handler answers it
        outage.failed(error)
        return _unavailable()

    return handle


UNSTORABLE_TEXT: tuple[type[Exception], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
    UnicodeEncodeError,
)
"""What a caller's text causes where it meets the database or an encoder: a NUL character
(PostgreSQL text cannot hold one) or an unpaired surrogate (no UTF-8 for it). Contracts
refuse both at the door; these catch the rest (path and query parameters, say)."""


async def _unstorable_text(_request: Request, _error: Exception) -> JSONResponse:
    detail = [
        {
            "loc": ["request"],
            "msg": "text must not contain NUL characters or unpaired surrogates",
            "type": "value_error",
        }
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _vault_refused(_request: Request, _error: Exception) -> JSONResponse:
    # A configuration error (this service's vault key lacks a scope, or the services'
    # versions differ), not the caller's fault and not a bug to answer 500 for. The message
    # is not logged: it names the vault path, which may hold a subject id.
    log.error("the check-in service's vault refused this service's call (check its key)")
    return JSONResponse(
        {
            "detail": "this service cannot use the check-in service's vault (its key lacks "
            "a scope or the services' versions differ); the operators have been told"
        },
        status_code=503,
    )


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    if is_transient(error):
        # The database or the broker is away (seen outside a route, e.g. in a middleware).
        return _unavailable()
    log.error("request failed (%s)", type(error).__name__)  # never the message: it may quote input
    return JSONResponse({"detail": "internal error"}, status_code=500)


class _OutageEnd:
    """Notices the first successful answer after an outage (costs nothing otherwise)."""

    def __init__(self, app: ASGIApp, outage: DependencyOutage) -> None:
        self._app = app
        self._outage = outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._outage.refused or scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        outage = self._outage

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 500:
                outage.recovered()
            await send(message)

        await self._app(scope, receive, watch)


def create_http_app(
    *,
    title: str,
    description: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter],
    broker: KafkaBroker,
) -> FastAPI:
    """A FastAPI app with the service's routes, ``/openapi.json`` and ``/asyncapi.json``."""
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _validation_error)
    outage = DependencyOutage()
    for error_type in TRANSIENT_TYPES:
        app.add_exception_handler(error_type, _transient_error(outage))
    for error_type in UNSTORABLE_TEXT:
        app.add_exception_handler(error_type, _unstorable_text)
    app.add_exception_handler(VaultRefusedError, _vault_refused)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(_OutageEnd, outage=outage)
    for router in routers:
        app.include_router(router)
    asyncapi_document = AsyncAPI(broker, title=title, version="1.0.0", description=description)
    # Server spans named by route template ("POST /v1/checkins"), never by the raw path; their
    # attributes are filtered again on export (telemetry.SafeSpanExporter).
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz", exclude_spans=["receive", "send"]
    )

    @app.get("/asyncapi.json", tags=["documents"], summary="AsyncAPI 3.0 document")
    async def asyncapi() -> JSONResponse:
        return JSONResponse(json.loads(asyncapi_document.to_specification().to_json()))

    return app

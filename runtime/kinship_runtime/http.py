"""The HTTP application shell every service shares: errors, OpenAPI and AsyncAPI documents."""

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from kinship_contracts.errors import UNKNOWN
from kinship_runtime.resilience import is_transient

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


async def _unexpected_error(_request: Request, error: Exception) -> JSONResponse:
    if is_transient(error):
        # The database or the broker is away: tell the caller to retry, not that it failed.
        return JSONResponse(
            {"detail": "temporarily unavailable; retry shortly"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("request failed (%s)", type(error).__name__)  # never the message: it may quote input
    return JSONResponse({"detail": "internal error"}, status_code=500)


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
    app.add_exception_handler(Exception, _unexpected_error)
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

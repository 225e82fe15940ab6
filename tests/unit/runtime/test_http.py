"""The HTTP shell: outages are 503 with Retry-After, surprises are a bare 500 (kinship_runtime.http)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from kinship_runtime.http import create_http_app

SECRET = "SECRET-VALUE-99"


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def app() -> FastAPI:
    router = APIRouter()

    @router.get("/outage")
    async def outage() -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    @router.get("/bug")
    async def bug() -> None:
        raise RuntimeError(f"something quoted {SECRET}")

    return create_http_app(
        title="t",
        description="",
        lifespan=_no_lifespan,
        routers=[router],
        broker=KafkaBroker("127.0.0.1:9"),
    )


async def test_a_database_outage_is_503_with_retry_after() -> None:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/outage")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


async def test_an_unexpected_error_is_500_without_its_message() -> None:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/bug")
    assert response.status_code == 500
    assert SECRET not in response.text

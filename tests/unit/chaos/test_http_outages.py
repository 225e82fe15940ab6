"""An outage seen over HTTP: every request gets 503 with Retry-After, the log gets two lines
(issue 14: "logged once when it starts and once when it ends, not once per attempt")."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from kinship_runtime.http import create_http_app


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(state: dict[str, bool]) -> FastAPI:
    router = APIRouter()

    @router.get("/work")
    async def work() -> dict[str, str]:
        if state["down"]:
            raise ConnectionRefusedError(111, "Connect call failed")
        return {"status": "ok"}

    @router.get("/starting")
    async def starting() -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    return create_http_app(
        title="t",
        description="",
        lifespan=_no_lifespan,
        routers=[router],
        broker=KafkaBroker("127.0.0.1:9"),
    )


async def test_an_outage_is_503_for_every_request_and_two_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = {"down": True}
    # raise_app_exceptions=True: an outage is answered, not re-raised into the server
    # (uvicorn would log each re-raised one as "Exception in ASGI application").
    transport = httpx.ASGITransport(app=_app(state))
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = [await client.get("/work") for _ in range(20)]
        answers.append(await client.get("/starting"))
        state["down"] = False
        back = [await client.get("/work") for _ in range(3)]
    assert {(a.status_code, a.headers["retry-after"]) for a in answers} == {(503, "5")}
    assert [b.status_code for b in back] == [200, 200, 200]
    lines = [r.getMessage() for r in caplog.records if r.name == "kinship_runtime.http"]
    assert lines == [
        "a dependency is away (ConnectionRefusedError): requests get 503 with Retry-After "
        "until it is back",
        "dependencies answer again; 21 requests got 503 meanwhile",
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_text_the_database_cannot_hold_is_a_422_not_a_500() -> None:
    router = APIRouter()

    @router.get("/nul")
    async def nul() -> None:
        raise asyncpg.exceptions.CharacterNotInRepertoireError(
            'invalid byte sequence for encoding "UTF8": 0x00'
        )

    @router.get("/surrogate")
    async def surrogate() -> None:
        "\ud800".encode()

    app = create_http_app(
        title="t",
        description="",
        lifespan=_no_lifespan,
        routers=[router],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    transport = httpx.ASGITransport(app=app)  # nothing re-raised into the server either
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/nul", "/surrogate"):
            response = await client.get(path)
            assert response.status_code == 422
            assert response.json()["detail"][0]["loc"] == ["request"]
            assert "0x00" not in response.text

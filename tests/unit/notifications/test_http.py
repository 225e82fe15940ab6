"""The notifications HTTP API over the in-memory unit of work (the real routes, fakes behind)."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import jwt
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.entrypoints.http import notifications_router
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.auth import ApiKeys, Authenticator, JwtVerifier
from kinship_runtime.http import create_http_app
from tests.unit.fakes.notifications import NOW, FakeNotificationsUnitOfWork, request

SYSTEM = {"Authorization": "Bearer unit-key"}
JWT_SECRET = "a-unit-test-secret-that-is-long-enough-for-hs256"


def as_person(person_id: str) -> dict[str, str]:
    claims = {"sub": person_id, "aud": "kinship", "exp": int(time.time()) + 300}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


class Fakes(Provider):
    """The routes' dependencies: the in-memory unit of work and a real authenticator."""

    scope = Scope.APP

    def __init__(self, uow: FakeNotificationsUnitOfWork) -> None:
        super().__init__()
        self.uow = uow

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> NotificationsUnitOfWork:
        return self.uow

    @provide
    def authenticator(self) -> Authenticator:
        return Authenticator(
            ApiKeys(SecretStr("tests=unit-key")),
            JwtVerifier(
                secret=SecretStr(JWT_SECRET), public_key=None, audience="kinship", issuer=None
            ),
        )


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def uow() -> FakeNotificationsUnitOfWork:
    return FakeNotificationsUnitOfWork()


@pytest.fixture
async def client(uow: FakeNotificationsUnitOfWork) -> AsyncIterator[httpx.AsyncClient]:
    container = make_async_container(Fakes(uow))
    app = create_http_app(
        title="notifications (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[notifications_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as http:
        yield http
    await container.close()


async def test_http_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/preferences/ann")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_http_a_person_sets_then_reads_their_preferences(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    ann = as_person("ann")
    assert (await client.get("/v1/preferences/ann", headers=ann)).json() == {
        "locale": "en",
        "quiet_start": None,
        "quiet_end": None,
        "recognition_opt_out": False,
        "max_per_day": 5,
    }
    body = {"locale": "de", "quiet_start": "22:00:00", "quiet_end": "07:00:00", "max_per_day": 2}
    put = await client.put("/v1/preferences/ann", json=body, headers=ann)
    assert put.status_code == 200, put.text
    got = (await client.get("/v1/preferences/ann", headers=ann)).json()
    assert (got["locale"], got["quiet_start"], got["max_per_day"]) == ("de", "22:00:00", 2)
    assert uow.commits == 3


async def test_http_someone_elses_preferences_are_403_for_a_person_not_for_a_system(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    put = await client.put("/v1/preferences/bob", json={"max_per_day": 0}, headers=as_person("ann"))
    assert (put.status_code, put.json()["detail"]) == (403, "only for your own preferences")
    assert (await client.get("/v1/preferences/bob", headers=as_person("ann"))).status_code == 403
    assert uow.tables.preferences == {}
    put = await client.put("/v1/preferences/bob", json={"max_per_day": 0}, headers=SYSTEM)
    assert put.status_code == 200
    assert uow.tables.preferences["bob"].max_per_day == 0


async def test_http_invalid_preferences_are_422(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/preferences/ann", json={"locale": "english", "max_per_day": 1000}, headers=SYSTEM
    )
    assert response.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in response.json()["detail"])
    assert locations == [("body", "locale"), ("body", "max_per_day")]


async def test_http_delivery_status_is_for_systems_and_404_when_unknown(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
    found = await client.get("/v1/deliveries/d-1", headers=SYSTEM)
    assert found.status_code == 200
    assert found.json() == {
        "id": "d-1",
        "kind": "checkin_reminder",
        "critical": False,
        "status": "pending",
        "attempts": 0,
        "channel": None,
        "last_error": None,
        "created_at": NOW.isoformat().replace("+00:00", "Z"),
        "finished_at": None,
    }
    assert (await client.get("/v1/deliveries/d-9", headers=SYSTEM)).status_code == 404
    assert (await client.get("/v1/deliveries/d-1", headers=as_person("ann"))).status_code == 403

"""The check-in HTTP API over the in-memory unit of work (the real routes, fakes behind them)."""

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_checkin.domain.privacy import CheckinPrivacy, NoteCipher, Pseudonymiser
from kinship_checkin.domain.support import CrisisResources, load_crisis_resources
from kinship_checkin.entrypoints.http import checkin_router
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import RecordingTopics
from kinship_checkin.settings import CheckinSettings
from kinship_runtime.auth import ApiKeys, Authenticator, JwtVerifier
from kinship_runtime.http import create_http_app
from kinship_runtime.outbox import OutboxRelay
from tests.kafka_reading import checkin
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork

PLANTED_NOTE = "SECRET-NOTE-123"
AUTH = {"Authorization": "Bearer unit-key"}
NOTE_KEY = base64.b64encode(b"n" * 32).decode()


class FakeRelay:
    """Counts wake-ups instead of publishing."""

    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


class Fakes(Provider):
    """The check-in service's dependencies, with the unit of work and relay faked."""

    scope = Scope.APP

    def __init__(self, uow: FakeCheckinUnitOfWork, relay: FakeRelay) -> None:
        super().__init__()
        self.uow, self.relay = uow, relay

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> CheckinUnitOfWork:
        return self.uow

    @provide
    def outbox_relay(self) -> OutboxRelay:
        return self.relay  # type: ignore[return-value]

    @provide
    def authenticator(self) -> Authenticator:
        return Authenticator(
            ApiKeys(SecretStr("tests=unit-key")),
            JwtVerifier(secret=None, public_key=None, audience="kinship", issuer=None),
        )

    @provide
    def privacy(self) -> CheckinPrivacy:
        return CheckinPrivacy(Pseudonymiser(b"s" * 32), NoteCipher({"n1": b"n" * 32}, "n1"))

    @provide
    def topics(self) -> RecordingTopics:
        return RecordingTopics("recorded", "urgent")

    @provide
    def crisis(self) -> CrisisResources:
        return load_crisis_resources(None)

    @provide
    def settings(self) -> CheckinSettings:
        return CheckinSettings(
            pseudonym_key=SecretStr("p" * 32),
            note_keys=SecretStr(f"n1:{NOTE_KEY}"),
            note_key_id="n1",
        )


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def uow() -> FakeCheckinUnitOfWork:
    return FakeCheckinUnitOfWork()


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
async def client(uow: FakeCheckinUnitOfWork, relay: FakeRelay) -> AsyncIterator[httpx.AsyncClient]:
    container = make_async_container(Fakes(uow, relay))
    app = create_http_app(
        title="checkin (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[checkin_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://checkin") as http:
        yield http
    await container.close()


async def test_http_checkin_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/checkins", json=checkin("c-1"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_http_checkin_is_202_then_202_duplicate_with_one_effect(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork, relay: FakeRelay
) -> None:
    first = await client.post("/v1/checkins", json=checkin("c-1"), headers=AUTH)
    again = await client.post("/v1/checkins", json=checkin("c-1", mood=1), headers=AUTH)
    assert (first.status_code, first.json()) == (202, {"id": "c-1", "status": "accepted"})
    assert (again.status_code, again.json()) == (202, {"id": "c-1", "status": "duplicate"})
    assert len(uow.outbox) == 1
    assert (uow.commits, relay.wakes) == (2, 2)


async def test_http_critical_checkin_response_carries_the_crisis_resources(
    client: httpx.AsyncClient,
) -> None:
    body = checkin("c-1", phq9=[0] * 8 + [1])
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 202
    support = response.json()["immediate_support"]
    expected = [r.name for r in load_crisis_resources(None).resources]
    assert [item["name"] for item in support] == expected


async def test_http_contact_request_with_mood_1_carries_the_crisis_resources(
    client: httpx.AsyncClient,
) -> None:
    body = checkin("c-1", mood=1, wants_contact=True)
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.json()["immediate_support"]


async def test_http_invalid_checkin_is_422_with_field_locations_and_no_submitted_values(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    body = checkin("c-1", mood=9, note=PLANTED_NOTE + "x" * 2000)
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in response.json()["detail"])
    assert locations == [("body", "mood"), ("body", "note")]
    assert PLANTED_NOTE not in response.text
    assert uow.checkins == {}


async def test_http_422_never_echoes_an_unknown_field_name(client: httpx.AsyncClient) -> None:
    body = {**checkin("c-1"), PLANTED_NOTE: "x"}
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "<unknown>"]]
    assert PLANTED_NOTE not in response.text

"""The recognition HTTP API over the in-memory ports (the real routes, fakes behind them)."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import jwt
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_contracts.subjects import Pseudonymiser
from kinship_recognition.entrypoints.http import recognition_router
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.ports import ChartRenderer, RecognitionUnitOfWork
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.auth import ApiKeys, Authenticator, JwtVerifier
from kinship_runtime.http import create_http_app
from kinship_runtime.outbox import OutboxRelay
from tests.unit.fakes.recognition import (
    FakeChartRenderer,
    FakeRecognitionUnitOfWork,
    FakeRelay,
)

AUTH = {"Authorization": "Bearer unit-key"}
JWT_SECRET = "unit-jwt-secret-0123456789abcdef0123456789"
PSEUDONYMS = Pseudonymiser(b"p" * 32)


def bearer(person_id: str, *roles: str) -> dict[str, str]:
    claims = {"sub": person_id, "aud": "kinship", "exp": int(time.time()) + 600, "roles": roles}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


class Fakes(Provider):
    """The recognition service's dependencies, with its ports and the relay faked."""

    scope = Scope.APP

    def __init__(
        self, uow: FakeRecognitionUnitOfWork, relay: FakeRelay, chart: FakeChartRenderer
    ) -> None:
        super().__init__()
        self.uow, self.relay, self.chart_ = uow, relay, chart

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> RecognitionUnitOfWork:
        return self.uow

    @provide
    def outbox_relay(self) -> OutboxRelay:
        return cast(OutboxRelay, self.relay)

    @provide
    def chart(self) -> ChartRenderer:
        return self.chart_

    @provide
    def authenticator(self) -> Authenticator:
        return Authenticator(
            ApiKeys(SecretStr("tests=unit-key")),
            JwtVerifier(
                secret=SecretStr(JWT_SECRET), public_key=None, audience="kinship", issuer=None
            ),
        )

    @provide
    def settings(self) -> RecognitionSettings:
        return RecognitionSettings(pseudonym_key=SecretStr("p" * 32), kudos_daily_limit=3)

    @provide
    def topics(self) -> AwardTopics:
        return AwardTopics("awards", "requests")

    @provide
    def pseudonyms(self) -> Pseudonymiser:
        return PSEUDONYMS


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def uow() -> FakeRecognitionUnitOfWork:
    return FakeRecognitionUnitOfWork()


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
def chart() -> FakeChartRenderer:
    return FakeChartRenderer()


@pytest.fixture
async def client(
    uow: FakeRecognitionUnitOfWork, relay: FakeRelay, chart: FakeChartRenderer
) -> AsyncIterator[httpx.AsyncClient]:
    container = make_async_container(Fakes(uow, relay, chart))
    app = create_http_app(
        title="recognition (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[recognition_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://recognition") as http:
        yield http
    await container.close()


def kudos(
    id_: str, sender: str = "ann", to: str = "bob", message: str = "Thanks!"
) -> dict[str, Any]:
    return {
        "id": id_,
        "from_person_id": sender,
        "to_person_id": to,
        "message": message,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "tests",
    }


def pulse(id_: str, person: str, helps: int = 4) -> dict[str, Any]:
    return {
        "id": id_,
        "person_id": person,
        "survey_id": "2026-11",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "tests",
        "answers": {"programme_helps": helps},
    }


async def test_kudos_without_credentials_are_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/kudos", json=kudos("k-1"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_kudos_are_202_then_202_duplicate_with_one_award(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork, relay: FakeRelay
) -> None:
    first = await client.post("/v1/kudos", json=kudos("k-1", message="<b>Great</b>"), headers=AUTH)
    again = await client.post("/v1/kudos", json=kudos("k-1"), headers=AUTH)
    assert (first.status_code, first.json()) == (202, {"id": "k-1", "status": "accepted"})
    assert (again.status_code, again.json()) == (202, {"id": "k-1", "status": "duplicate"})
    assert uow.kudos["k-1"].message == "Great"
    assert [a["id"] for a in uow.published("awards")] == ["kudos:k-1"]
    assert (uow.commits, relay.wakes) == (2, 2)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (kudos("k-self", to="ann"), "to_person_id", "self_kudos"),
        (kudos("k-empty", message="<i></i>"), "message", "empty_message"),
    ],
)
async def test_refused_kudos_are_422_naming_the_field_and_change_nothing(
    client: httpx.AsyncClient,
    uow: FakeRecognitionUnitOfWork,
    body: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    response = await client.post("/v1/kudos", json=body, headers=AUTH)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", field], reason)
    assert uow.kudos == {} and uow.outbox == []


async def test_kudos_over_the_daily_limit_are_429(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    for n in range(3):  # the limit here is 3 a day
        sent = await client.post("/v1/kudos", json=kudos(f"k-{n}"), headers=AUTH)
        assert sent.status_code == 202
    over = await client.post("/v1/kudos", json=kudos("k-over"), headers=AUTH)
    assert over.status_code == 429
    assert over.json()["detail"] == "at most 3 kudos a day; try tomorrow"
    assert "k-over" not in uow.kudos


async def test_a_person_sends_kudos_and_answers_pulses_only_as_themselves(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    as_other = await client.post(
        "/v1/kudos", json=kudos("k-1", sender="ann"), headers=bearer("cat")
    )
    assert as_other.status_code == 403
    as_self = await client.post("/v1/kudos", json=kudos("k-2", sender="cat"), headers=bearer("cat"))
    assert as_self.status_code == 202
    other_pulse = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=bearer("cat"))
    assert other_pulse.status_code == 403
    assert list(uow.kudos) == ["k-2"] and uow.pulse_rows == {}


async def test_pulse_answers_are_202_and_kept_under_a_pseudonym(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    response = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=bearer("ann"))
    assert (response.status_code, response.json()) == (202, {"id": "p-1", "status": "accepted"})
    assert list(uow.pulse_rows) == [("2026-11", PSEUDONYMS.subject_id("ann"))]
    bad = await client.post("/v1/pulse", json=pulse("p-2", "ann", helps=9), headers=AUTH)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-2:] == ["answers", "programme_helps"]


async def test_reports_are_for_coordinators_and_systems_only(client: httpx.AsyncClient) -> None:
    responder = await client.get("/v1/reports/programme", headers=bearer("r", "peer_responder"))
    assert responder.status_code == 403
    coordinator = await client.get("/v1/reports/programme", headers=bearer("c", "coordinator"))
    assert coordinator.status_code == 200
    system = await client.get("/v1/reports/programme", params={"weeks": "2"}, headers=AUTH)
    body = system.json()
    assert (system.status_code, len(body["weeks"]), body["k"], body["team_id"]) == (200, 2, 5, None)
    too_long = await client.get("/v1/reports/programme", params={"weeks": "53"}, headers=AUTH)
    assert too_long.status_code == 422


@pytest.mark.parametrize(("fmt", "media"), [("svg", "image/svg+xml"), ("png", "image/png")])
async def test_the_chart_is_drawn_from_the_report_with_its_media_type(
    client: httpx.AsyncClient, chart: FakeChartRenderer, fmt: str, media: str
) -> None:
    response = await client.get(
        f"/v1/reports/programme/chart.{fmt}",
        params={"weeks": "4", "team_id": "team-a"},
        headers=AUTH,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content == f"{fmt} chart of 4 weeks".encode()
    ((report, drawn_as),) = chart.drawn
    assert (report.team_id, drawn_as) == ("team-a", fmt)
    forbidden = await client.get(f"/v1/reports/programme/chart.{fmt}", headers=bearer("r"))
    assert forbidden.status_code == 403
    assert len(chart.drawn) == 1


async def test_an_unknown_chart_format_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/programme/chart.gif", headers=AUTH)
    assert response.status_code == 422

"""The recognition HTTP API over the in-memory ports (the real routes, fakes behind them):
each route's policy, with the weakest credential that should be refused refused."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI

from kinship_contracts.directory import Role
from kinship_recognition.entrypoints.http import recognition_router
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.ports import ChartRenderer, RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.access import OWN_DATA, PeopleDirectory, Person, RateLimits, policies
from kinship_runtime.identity import (
    IdentityVerifier,
)
from kinship_runtime.outbox import OutboxRelay
from tests.unit.fakes.http import FakePeople, identities, routes_app
from tests.unit.fakes.http import bearer as person_bearer
from tests.unit.fakes.recognition import (
    FakeChartRenderer,
    FakeRecognitionUnitOfWork,
    FakeVault,
)
from tests.unit.fakes.relay import FakeRelay

KEYS = [
    {"name": "kudos-bot", "scopes": ["kudos:submit"], "key": "kudos-key"},
    {"name": "survey", "scopes": ["pulse:submit"], "key": "survey-key"},
    {"name": "bi", "scopes": ["reports:read"], "key": "reports-key"},
    {"name": "hr", "scopes": ["checkins:submit", "erasure:request"], "key": "other-key"},
]


def key(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


KUDOS_KEY, SURVEY_KEY, REPORTS_KEY, OTHER_KEY = (
    key("kudos-key"),
    key("survey-key"),
    key("reports-key"),
    key("other-key"),
)


def bearer(person_id: str, *claimed_roles: str) -> dict[str, str]:
    """A person's token; ``claimed_roles`` are ignored by the service (the directory decides)."""
    return person_bearer(person_id, roles=list(claimed_roles))


PEOPLE = FakePeople(
    [
        Person("coord", frozenset({Role.COORDINATOR}), "t-0"),
        Person("mgr", frozenset({Role.TEAM_MANAGER}), "t-1"),
        Person("resp", frozenset({Role.PEER_RESPONDER}), "t-2"),
        Person("ann", frozenset(), "t-1"),
        Person("cat", frozenset(), "t-1"),
    ],
    left=["left"],
)
"""The directory roles of the people in these tests (``left`` has left)."""


class Fakes(Provider):
    """The recognition service's dependencies, with its ports and the relay faked."""

    scope = Scope.APP

    def __init__(
        self,
        uow: FakeRecognitionUnitOfWork,
        relay: FakeRelay,
        chart: FakeChartRenderer,
        vault: FakeVault,
    ) -> None:
        super().__init__()
        self.uow, self.relay, self.chart_, self.vault_ = uow, relay, chart, vault

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
    def vault(self) -> SubjectLookup:
        return self.vault_

    @provide
    def identities(self) -> IdentityVerifier:
        return identities(KEYS)

    @provide
    def people(self) -> PeopleDirectory:
        return PEOPLE

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("5/minute", "100/minute")

    @provide
    def settings(self) -> RecognitionSettings:
        return RecognitionSettings(env="dev", kudos_daily_limit=3)

    @provide
    def topics(self) -> AwardTopics:
        return AwardTopics("awards", "requests", b"r" * 32)


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
def vault() -> FakeVault:
    return FakeVault()


def build_app() -> FastAPI:
    return routes_app("recognition", recognition_router())


@pytest.fixture
async def client(
    uow: FakeRecognitionUnitOfWork, relay: FakeRelay, chart: FakeChartRenderer, vault: FakeVault
) -> AsyncIterator[httpx.AsyncClient]:
    container = make_async_container(Fakes(uow, relay, chart, vault))
    app = build_app()
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


def test_every_route_states_the_least_it_needs() -> None:
    table = {
        route: [policy.describe() for policy in found]
        for route, found in policies(build_app()).items()
        if route.split()[1].startswith("/v1/")
    }
    assert table == {
        "POST /v1/kudos": ["systems with kudos:submit; any signed-in person"],
        "POST /v1/pulse": ["systems with pulse:submit; any signed-in person"],
        "GET /v1/reports/programme": ["systems with reports:read; people who are coordinator"],
        "GET /v1/reports/programme/chart.{fmt}": [
            "systems with reports:read; people who are coordinator"
        ],
        "GET /v1/me/streak": ["any signed-in person"],
        "GET /v1/me/data": ["any signed-in person"],
    }
    submissions = {
        route: found[0].rate_limited
        for route, found in policies(build_app()).items()
        if route.startswith("POST /v1/")
    }
    assert submissions == {"POST /v1/kudos": True, "POST /v1/pulse": True}


# Kudos ---------------------------------------------------------------------------------


async def test_kudos_without_credentials_are_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/kudos", json=kudos("k-1"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_kudos_are_202_then_202_duplicate_with_one_award(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork, relay: FakeRelay
) -> None:
    body = kudos("k-1", message="<b>Great</b>")
    first = await client.post("/v1/kudos", json=body, headers=KUDOS_KEY)
    again = await client.post("/v1/kudos", json=kudos("k-1"), headers=KUDOS_KEY)
    assert (first.status_code, first.json()) == (202, {"id": "k-1", "status": "accepted"})
    assert (again.status_code, again.json()) == (202, {"id": "k-1", "status": "duplicate"})
    assert uow.kudos["k-1"].message == "Great"
    assert list(uow.awards) == ["kudos:k-1"] and len(uow.published("awards")) == 1
    assert (uow.commits, relay.wakes) == (2, 2)


async def test_a_key_without_the_kudos_scope_cannot_send_kudos(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    for other in (SURVEY_KEY, REPORTS_KEY, OTHER_KEY):
        response = await client.post("/v1/kudos", json=kudos("k-1"), headers=other)
        assert response.status_code == 403
        assert "kudos:submit" in response.json()["detail"]
    assert uow.kudos == {}


async def test_a_person_sends_kudos_only_as_themself(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    as_other = await client.post(
        "/v1/kudos", json=kudos("k-1", sender="ann"), headers=bearer("cat")
    )
    assert as_other.status_code == 403 and "only as yourself" in as_other.json()["detail"]
    # A token claiming the coordinator role is no exception: roles come from the directory.
    claimed = await client.post(
        "/v1/kudos", json=kudos("k-2", sender="ann"), headers=bearer("cat", "coordinator")
    )
    assert claimed.status_code == 403
    as_self = await client.post("/v1/kudos", json=kudos("k-3", sender="cat"), headers=bearer("cat"))
    assert as_self.status_code == 202
    assert list(uow.kudos) == ["k-3"]


async def test_someone_the_directory_lists_as_inactive_cannot_send_kudos(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/kudos", json=kudos("k-1", sender="left"), headers=bearer("left")
    )
    assert response.status_code == 403


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
    response = await client.post("/v1/kudos", json=body, headers=KUDOS_KEY)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", field], reason)
    assert uow.kudos == {} and uow.outbox == []


async def test_kudos_over_the_daily_limit_are_429(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    for n in range(3):  # the limit here is 3 a day
        sent = await client.post("/v1/kudos", json=kudos(f"k-{n}"), headers=KUDOS_KEY)
        assert sent.status_code == 202
    over = await client.post("/v1/kudos", json=kudos("k-over"), headers=KUDOS_KEY)
    assert over.status_code == 429
    assert over.json()["detail"] == "at most 3 kudos a day; try tomorrow"
    assert "k-over" not in uow.kudos


async def test_a_persons_submissions_are_rate_limited(client: httpx.AsyncClient) -> None:
    # 5 a minute per person here, kudos and pulse together; a key has its own budget.
    codes = [
        (
            await client.post("/v1/pulse", json=pulse(f"p-{n}", "ann"), headers=bearer("ann"))
        ).status_code
        for n in range(6)
    ]
    assert codes == [202] * 5 + [429]
    limited = await client.post("/v1/kudos", json=kudos("k-1"), headers=bearer("ann"))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    other = await client.post("/v1/kudos", json=kudos("k-2", sender="cat"), headers=bearer("cat"))
    assert other.status_code == 202


async def test_an_unreachable_vault_is_503_and_stores_nothing(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork, vault: FakeVault
) -> None:
    vault.unavailable = True
    response = await client.post("/v1/kudos", json=kudos("k-1"), headers=KUDOS_KEY)
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    answered = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=SURVEY_KEY)
    assert answered.status_code == 503
    assert uow.kudos == {} and uow.pulse_rows == {} and uow.outbox == []
    vault.unavailable = False
    again = await client.post("/v1/kudos", json=kudos("k-1"), headers=KUDOS_KEY)
    assert again.json()["status"] == "accepted"


# Pulse ---------------------------------------------------------------------------------


async def test_pulse_answers_are_202_and_kept_under_the_vaults_subject_id(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork, vault: FakeVault
) -> None:
    response = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=bearer("ann"))
    assert (response.status_code, response.json()) == (202, {"id": "p-1", "status": "accepted"})
    assert list(uow.pulse_rows) == [("2026-11", vault.subject("ann"))]
    bad = await client.post("/v1/pulse", json=pulse("p-2", "ann", helps=9), headers=SURVEY_KEY)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-2:] == ["answers", "programme_helps"]


async def test_pulse_needs_the_pulse_scope_or_the_person_themself(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork
) -> None:
    for other in (KUDOS_KEY, REPORTS_KEY, OTHER_KEY):
        refused = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=other)
        assert refused.status_code == 403
    for who in (bearer("cat"), bearer("coord")):  # a coordinator does not answer for others
        refused = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=who)
        assert refused.status_code == 403
    assert uow.pulse_rows == {}
    survey = await client.post("/v1/pulse", json=pulse("p-1", "ann"), headers=SURVEY_KEY)
    assert survey.status_code == 202


# Reports -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/reports/programme", "/v1/reports/programme/chart.svg"])
async def test_reports_are_for_coordinators_and_the_reports_key_only(
    client: httpx.AsyncClient, path: str
) -> None:
    async def status(headers: dict[str, str]) -> int:
        return (await client.get(path, headers=headers)).status_code

    assert await status(bearer("coord")) == 200
    assert await status(REPORTS_KEY) == 200
    assert await status(bearer("ann", "coordinator")) == 403  # a claim is not a role
    assert await status(bearer("resp")) == 403
    assert await status(bearer("mgr")) == 403  # team trends are the check-in service's
    assert await status(bearer("stranger")) == 403  # not in the directory: an employee
    for other in (KUDOS_KEY, SURVEY_KEY, OTHER_KEY):
        assert await status(other) == 403
    assert (await client.get(path)).status_code == 401


async def test_a_report_covers_the_closed_weeks_asked_for(client: httpx.AsyncClient) -> None:
    system = await client.get("/v1/reports/programme", params={"weeks": "2"}, headers=REPORTS_KEY)
    body = system.json()
    assert (system.status_code, len(body["weeks"]), body["k"], body["team_id"]) == (200, 2, 5, None)
    assert datetime.fromisoformat(body["end"]).date() <= datetime.now(UTC).date()
    too_long = await client.get(
        "/v1/reports/programme", params={"weeks": "53"}, headers=REPORTS_KEY
    )
    assert too_long.status_code == 422


@pytest.mark.parametrize(("fmt", "media"), [("svg", "image/svg+xml"), ("png", "image/png")])
async def test_the_chart_is_drawn_from_the_report_with_its_media_type(
    client: httpx.AsyncClient, chart: FakeChartRenderer, fmt: str, media: str
) -> None:
    response = await client.get(
        f"/v1/reports/programme/chart.{fmt}",
        params={"weeks": "4", "team_id": "team-a"},
        headers=REPORTS_KEY,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.content == f"{fmt} chart of 4 weeks".encode()
    ((report, drawn_as),) = chart.drawn
    assert (report.team_id, drawn_as) == ("team-a", fmt)
    forbidden = await client.get(f"/v1/reports/programme/chart.{fmt}", headers=bearer("ann"))
    assert forbidden.status_code == 403
    assert len(chart.drawn) == 1


async def test_an_unknown_chart_format_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/programme/chart.gif", headers=REPORTS_KEY)
    assert response.status_code == 422


# A person's own streak and data ------------------------------------------------------


async def test_streak_and_data_routes_are_for_the_person_themself(
    client: httpx.AsyncClient, uow: FakeRecognitionUnitOfWork, vault: FakeVault
) -> None:
    this_week = datetime.now(UTC).date() - timedelta(days=datetime.now(UTC).weekday())
    for back in (0, 1, 2):
        uow.check_in(vault.subject("ann"), this_week - timedelta(weeks=back))
    sent = await client.post(
        "/v1/kudos",
        json=kudos("k-1", sender="ann", to="cat", message="Thank you"),
        headers=bearer("ann"),
    )
    assert sent.status_code == 202
    streak = await client.get("/v1/me/streak", headers=bearer("ann"))
    assert streak.status_code == 200 and streak.headers["cache-control"] == "no-store"
    assert streak.json() == {
        "current_weeks": 3,
        "longest_weeks": 3,
        "last_week": this_week.isoformat(),
        "weeks_with_checkin": 3,
    }
    data = (await client.get("/v1/me/data", headers=bearer("ann"))).json()
    assert data["service"] == "recognition" and data["person_id"] == "ann"
    assert [k["message"] for k in data["kudos_sent"]] == ["Thank you"]
    assert data["kudos_received"] == [] and data["streak"]["current_weeks"] == 3
    theirs = (await client.get("/v1/me/data", headers=bearer("cat"))).json()
    assert [k["from_person_id"] for k in theirs["kudos_received"]] == ["ann"]
    assert [a["kind"] for a in theirs["awards"]] == ["kudos_received"]
    assert theirs["checkin_weeks"] == []
    for path in ("/v1/me/streak", "/v1/me/data"):
        assert (await client.get(path, headers=KUDOS_KEY)).status_code == 403
        assert (await client.get(path)).status_code == 401


async def test_an_unreachable_vault_is_a_503_to_retry(
    client: httpx.AsyncClient, vault: FakeVault
) -> None:
    vault.unavailable = True
    answer = await client.get("/v1/me/streak", headers=bearer("ann"))
    assert answer.status_code == 503 and answer.headers["retry-after"]


async def test_a_persons_own_data_routes_are_limited_per_person_apart_from_submissions(
    client: httpx.AsyncClient, vault: FakeVault
) -> None:
    """Each call asks the vault, so a person's calls are limited (5 a minute here) in their
    own bucket: they can never spend the service key's vault budget, and a person who hit
    the limit can still send kudos."""
    answers = [
        (await client.get(path, headers=bearer("ann"))).status_code
        for path in ["/v1/me/streak", "/v1/me/data"] * 3
    ]
    assert answers == [200] * 5 + [429]
    assert len(vault.calls) == 5
    assert (await client.get("/v1/me/streak", headers=bearer("cat"))).status_code == 200
    sent = await client.post(
        "/v1/kudos",
        json=kudos("k-1", sender="ann", to="cat", message="Thank you"),
        headers=bearer("ann"),
    )
    assert sent.status_code == 202
    limited = {
        route: (found[0].rate_limited, found[0].bucket)
        for route, found in policies(build_app()).items()
        if route.startswith("GET /v1/me/")
    }
    assert limited == {
        "GET /v1/me/streak": (True, OWN_DATA),
        "GET /v1/me/data": (True, OWN_DATA),
    }

"""The notifications HTTP API over the in-memory unit of work (the real routes and access
checks, fakes behind them): each policy refuses the weakest credential that should be refused.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI

from kinship_contracts.directory import Channels, Role
from kinship_notifications.domain.channels import ChannelKind, ContactMethod
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.entrypoints.http import notifications_router
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.ports import NotificationsUnitOfWork, SubjectLookup
from kinship_runtime.access import OWN_DATA, PeopleDirectory, Person, RateLimits, policies
from kinship_runtime.identity import (
    IdentityVerifier,
)
from kinship_runtime.identity import Scope as KeyScope
from tests.unit.fakes.http import FakePeople, bearer, identities
from tests.unit.fakes.http import routes_app as shared_routes_app
from tests.unit.fakes.notifications import NOW, FakeNotificationsUnitOfWork, FakeVault, request

EVERY_SCOPE = {"Authorization": "Bearer all-scopes-key"}

HOUR = timedelta(hours=1)


PEOPLE = FakePeople(
    [
        Person("ann", frozenset(), "t-1"),
        Person("cora", frozenset({Role.COORDINATOR}), "t-0"),
        Person("rob", frozenset({Role.PEER_RESPONDER}), "t-2"),
        Person("max", frozenset({Role.TEAM_MANAGER}), "t-1"),
    ]
)
"""The directory roles of the people in these tests (``ann`` has none)."""


class Fakes(Provider):
    """The routes' dependencies: the in-memory unit of work, real identities, fake roles."""

    scope = Scope.APP

    def __init__(self, uow: FakeNotificationsUnitOfWork, vault: FakeVault | None = None) -> None:
        super().__init__()
        self.uow = uow
        self.vault_ = vault or FakeVault()

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> NotificationsUnitOfWork:
        return self.uow

    @provide
    def vault(self) -> SubjectLookup:
        return self.vault_

    @provide
    def identities(self) -> IdentityVerifier:
        every = [scope.value for scope in KeyScope]
        return identities([{"name": "ops", "scopes": every, "key": "all-scopes-key"}])

    @provide
    def people(self) -> PeopleDirectory:
        return PEOPLE

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("100/minute", "100/minute")


def routes_app() -> FastAPI:
    return shared_routes_app("notifications", notifications_router())


@pytest.fixture
def uow() -> FakeNotificationsUnitOfWork:
    return FakeNotificationsUnitOfWork()


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


@pytest.fixture
async def client(
    uow: FakeNotificationsUnitOfWork, vault: FakeVault
) -> AsyncIterator[httpx.AsyncClient]:
    app = routes_app()
    container = make_async_container(Fakes(uow, vault))
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as http:
        yield http
    await container.close()


def test_every_route_declares_exactly_one_access_policy() -> None:
    table = {route: found for route, found in policies(routes_app()).items() if "/v1/" in route}
    assert set(table) == {
        "GET /v1/preferences/{person_id}",
        "PUT /v1/preferences/{person_id}",
        "GET /v1/deliveries/{delivery_id}",
        "GET /v1/me/data",
    }
    assert all(len(found) == 1 for found in table.values())
    assert all(not found[0].scopes for found in table.values()), "no API key reaches any"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/preferences/ann"),
        ("PUT", "/v1/preferences/ann"),
        ("GET", "/v1/deliveries/d-1"),
        ("GET", "/v1/me/data"),
    ],
)
async def test_without_credentials_every_route_is_401(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={} if method == "PUT" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_api_key_with_every_scope_reaches_nothing(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
    put = await client.put("/v1/preferences/bob", json={"max_per_day": 0}, headers=EVERY_SCOPE)
    assert put.status_code == 403
    assert (await client.get("/v1/preferences/bob", headers=EVERY_SCOPE)).status_code == 403
    assert (await client.get("/v1/deliveries/d-1", headers=EVERY_SCOPE)).status_code == 403
    assert uow.tables.preferences == {}


async def test_a_person_sets_then_reads_their_own_preferences(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    ann = bearer("ann")
    assert (await client.get("/v1/preferences/ann", headers=ann)).json() == {
        "locale": "en",
        "quiet_start": None,
        "quiet_end": None,
        "recognition_opt_out": False,
        "reminders_opt_out": False,
        "max_per_day": 5,
        "contact_methods": [],
    }
    body = {
        "locale": "de",
        "quiet_start": "22:00:00",
        "quiet_end": "07:00:00",
        "max_per_day": 2,
        "reminders_opt_out": True,
    }
    put = await client.put("/v1/preferences/ann", json=body, headers=ann)
    assert put.status_code == 200, put.text
    got = (await client.get("/v1/preferences/ann", headers=ann)).json()
    assert (got["locale"], got["quiet_start"], got["max_per_day"]) == ("de", "22:00:00", 2)
    assert got["reminders_opt_out"] is True


async def test_a_person_orders_their_channels_with_delays(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    ann = bearer("ann")
    methods = [{"channel": "slack", "delay_seconds": 0}, {"channel": "email", "delay_seconds": 120}]
    put = await client.put("/v1/preferences/ann", json={"contact_methods": methods}, headers=ann)
    assert put.status_code == 200, put.text
    got = (await client.get("/v1/preferences/ann", headers=ann)).json()
    assert got["contact_methods"] == methods
    stored = uow.tables.preferences["ann"].contact_methods
    assert [(m.channel.value, m.delay.total_seconds()) for m in stored] == [
        ("slack", 0),
        ("email", 120),
    ]


@pytest.mark.parametrize(
    ("methods", "problem"),
    [
        ([{"channel": "email"}, {"channel": "email", "delay_seconds": 60}], "at most once"),
        (
            [{"channel": "email", "delay_seconds": 60}, {"channel": "slack", "delay_seconds": 0}],
            "at least the one before",
        ),
        ([{"channel": "pager"}], "channel"),
        ([{"channel": "email", "delay_seconds": 7200}], "delay_seconds"),
    ],
)
async def test_contact_methods_that_cannot_be_followed_are_refused_by_field(
    client: httpx.AsyncClient,
    uow: FakeNotificationsUnitOfWork,
    methods: list[dict[str, object]],
    problem: str,
) -> None:
    put = await client.put(
        "/v1/preferences/ann", json={"contact_methods": methods}, headers=bearer("ann")
    )
    assert put.status_code == 422
    assert problem in put.text
    assert "contact_methods" in put.text
    assert uow.tables.preferences == {}


async def test_someone_the_directory_does_not_know_yet_manages_their_own(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    put = await client.put(
        "/v1/preferences/newcomer", json={"max_per_day": 1}, headers=bearer("newcomer")
    )
    assert put.status_code == 200
    assert uow.tables.preferences["newcomer"].max_per_day == 1


@pytest.mark.parametrize("who", ["ann", "rob", "max"])
async def test_a_person_acting_for_someone_else_is_403(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork, who: str
) -> None:
    put = await client.put("/v1/preferences/bob", json={"max_per_day": 0}, headers=bearer(who))
    assert (put.status_code, put.json()["detail"]) == (403, "only your own preferences")
    assert (await client.get("/v1/preferences/bob", headers=bearer(who))).status_code == 403
    assert uow.tables.preferences == {}


async def test_a_coordinator_reads_anyones_preferences_but_changes_only_their_own(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    await client.put("/v1/preferences/ann", json={"max_per_day": 2}, headers=bearer("ann"))
    read = await client.get("/v1/preferences/ann", headers=bearer("cora"))
    assert (read.status_code, read.json()["max_per_day"]) == (200, 2)
    put = await client.put("/v1/preferences/ann", json={"max_per_day": 9}, headers=bearer("cora"))
    assert put.status_code == 403
    assert uow.tables.preferences["ann"].max_per_day == 2


async def test_a_token_claiming_a_role_the_directory_does_not_give_gets_nothing_more(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
    forged = bearer("ann", roles=["coordinator"], realm_access={"roles": ["coordinator"]})
    assert (await client.get("/v1/deliveries/d-1", headers=forged)).status_code == 403
    assert (await client.get("/v1/preferences/bob", headers=forged)).status_code == 403


async def test_invalid_preferences_are_422(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/preferences/ann",
        json={"locale": "english", "max_per_day": 1000},
        headers=bearer("ann"),
    )
    assert response.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in response.json()["detail"])
    assert locations == [("body", "locale"), ("body", "max_per_day")]


@pytest.mark.parametrize("who", ["ann", "rob", "max"])
async def test_delivery_status_is_403_for_everyone_but_coordinators(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork, who: str
) -> None:
    async with uow:
        await accept_requests([QueuedRequest(request("d-1", person_id=who))], uow, NOW)
    assert (await client.get("/v1/deliveries/d-1", headers=bearer(who))).status_code == 403


async def test_a_coordinator_sees_status_and_a_coarse_reason_and_404_when_unknown(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork
) -> None:
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
        await uow.retry_at("d-1", 1, NOW, "refused_address")
    found = await client.get("/v1/deliveries/d-1", headers=bearer("cora"))
    assert found.status_code == 200
    assert found.json() == {
        "id": "d-1",
        "kind": "checkin_reminder",
        "critical": False,
        "status": "pending",
        "attempts": 1,
        "channel": None,
        "last_error": "refused_address",
        "created_at": NOW.isoformat().replace("+00:00", "Z"),
        "finished_at": None,
    }
    missing = await client.get("/v1/deliveries/d-9", headers=bearer("cora"))
    assert (missing.status_code, missing.json()["detail"]) == (404, "no such delivery")


async def test_my_data_has_my_preferences_and_the_deliveries_to_me_by_id_and_by_subject(
    client: httpx.AsyncClient, uow: FakeNotificationsUnitOfWork, vault: FakeVault
) -> None:
    vault.links["subj-ann"] = "ann"
    async with uow:
        uow.add_person("ann", Channels(email="ann@example.org"), "Europe/Berlin", True)
        methods = (ContactMethod(ChannelKind.EMAIL), ContactMethod(ChannelKind.SLACK, HOUR))
        await uow.save_preferences(
            "ann", Preferences(locale="de", max_per_day=2, contact_methods=methods)
        )
        await accept_requests(
            [
                QueuedRequest(request("d-1", person_id="ann")),
                QueuedRequest(request("d-2", subject_id="subj-ann")),
                QueuedRequest(request("d-3", person_id="bob")),
                QueuedRequest(request("d-4", subject_id="subj-bob")),
            ],
            uow,
            NOW,
        )
    answer = await client.get("/v1/me/data", headers=bearer("ann"))
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["service"] == "notifications" and body["person_id"] == "ann"
    assert (body["preferences"]["locale"], body["preferences"]["max_per_day"]) == ("de", 2)
    assert body["preferences"]["contact_methods"] == [
        {"channel": "email", "delay_seconds": 0},
        {"channel": "slack", "delay_seconds": 3600},
    ]
    assert body["directory"] == {
        "timezone": "Europe/Berlin",
        "channels": {"email": "ann@example.org"},
        "active": True,
    }
    assert [d["id"] for d in body["deliveries"]] == ["d-1", "d-2"]
    assert {d["status"] for d in body["deliveries"]} == {"pending"}
    assert "subj-ann" not in answer.text, "the subject id is used, never shown"
    assert (await client.get("/v1/me/data", headers=EVERY_SCOPE)).status_code == 403


async def test_my_data_of_someone_unknown_is_the_defaults_and_a_vault_away_is_503(
    client: httpx.AsyncClient, vault: FakeVault
) -> None:
    fresh = (await client.get("/v1/me/data", headers=bearer("newcomer"))).json()
    assert fresh["directory"] is None and fresh["deliveries"] == []
    assert fresh["preferences"]["max_per_day"] == 5
    vault.unavailable = True
    away = await client.get("/v1/me/data", headers=bearer("newcomer"))
    assert away.status_code == 503 and away.headers["retry-after"] == "5"


async def test_my_data_is_limited_per_person_in_its_own_bucket(
    client: httpx.AsyncClient, vault: FakeVault
) -> None:
    """Every call asks the check-in service's vault: 100 a minute per person here, counted
    apart from anything else a person does."""
    found = policies(routes_app())["GET /v1/me/data"]
    assert [(p.rate_limited, p.bucket) for p in found] == [(True, OWN_DATA)]
    answers = [
        (await client.get("/v1/me/data", headers=bearer("ann"))).status_code for _ in range(101)
    ]
    assert answers == [200] * 100 + [429]
    assert (await client.get("/v1/me/data", headers=bearer("newcomer"))).status_code == 200

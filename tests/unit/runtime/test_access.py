"""Access policies: declared per route, enforced in one place (kinship_runtime.access)."""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import DishkaRoute, setup_dishka
from fastapi import APIRouter, Depends, FastAPI

from kinship_contracts.directory import Role
from kinship_runtime.access import (
    Actor,
    PeopleDirectory,
    Person,
    RateLimits,
    allow,
    policies,
)
from kinship_runtime.identity import IdentityVerifier
from kinship_runtime.identity import Scope as KeyScope
from tests.unit.fakes.http import bearer, identities

SUBMITTER_KEY = "s" * 40
REPORTER_KEY = "r" * 40


KEY = {"Authorization": f"Bearer {SUBMITTER_KEY}"}


class FakeDirectory:
    def __init__(self) -> None:
        self.people: dict[str, tuple[Person, bool]] = {
            "coord": (Person("coord", frozenset({Role.COORDINATOR}), "t-1"), True),
            "emp": (Person("emp", frozenset(), "t-2"), True),
            "gone": (Person("gone", frozenset({Role.COORDINATOR}), "t-1"), False),
        }

    async def person(self, person_id: str) -> tuple[Person, bool] | None:
        return self.people.get(person_id)


class Fakes(Provider):
    scope = Scope.APP

    @provide
    def identity_verifier(self) -> IdentityVerifier:
        return identities(
            [
                {"name": "survey", "scopes": ["checkins:submit"], "key": SUBMITTER_KEY},
                {"name": "bi", "scopes": ["reports:read"], "key": REPORTER_KEY},
            ]
        )

    @provide
    def directory(self) -> PeopleDirectory:
        return FakeDirectory()

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("3/minute", "5/minute")


Submit = Annotated[
    Actor, Depends(allow(scopes=[KeyScope.CHECKINS_SUBMIT], everyone=True, rate_limited=True))
]
Responders = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR, Role.PEER_RESPONDER]))]
Reports = Annotated[Actor, Depends(allow(scopes=[KeyScope.REPORTS_READ], roles=[Role.COORDINATOR]))]


def build() -> FastAPI:
    router = APIRouter(route_class=DishkaRoute)

    @router.post("/v1/checkins")
    async def submit(
        actor: Submit,
    ) -> dict[str, str]:
        return {"by": actor.audit_name}

    @router.get("/v1/cases")
    async def cases(actor: Responders) -> dict[str, str]:
        return {"by": actor.audit_name}

    @router.get("/v1/reports")
    async def reports(
        actor: Reports,
    ) -> dict[str, str]:
        return {"by": actor.audit_name}

    @router.get("/v1/open")
    async def forgotten() -> dict[str, str]:
        return {}

    app = FastAPI()
    app.include_router(router)
    setup_dishka(make_async_container(Fakes()), app)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        yield http


async def test_a_key_with_the_scope_may_and_a_key_without_it_may_not(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/v1/checkins", headers=KEY)).json() == {"by": "system:survey"}
    refused = await client.get("/v1/reports", headers=KEY)
    assert refused.status_code == 403
    assert "reports:read" in refused.json()["detail"]


async def test_a_key_never_reads_cases(client: httpx.AsyncClient) -> None:
    for key in (SUBMITTER_KEY, REPORTER_KEY):
        response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403


async def test_roles_come_from_the_directory_never_from_the_token(
    client: httpx.AsyncClient,
) -> None:
    claimed = await client.get("/v1/cases", headers=bearer("emp", roles=["coordinator"]))
    assert claimed.status_code == 403
    real = await client.get("/v1/cases", headers=bearer("coord"))
    assert real.json() == {"by": "person:coord"}


async def test_an_inactive_person_is_refused_whatever_their_roles(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/cases", headers=bearer("gone"))
    assert response.status_code == 403 and "inactive" in response.json()["detail"]


async def test_a_person_the_directory_does_not_know_is_an_employee_without_roles(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/v1/checkins", headers=bearer("new-hire"))).status_code == 200
    assert (await client.get("/v1/cases", headers=bearer("new-hire"))).status_code == 403


async def test_no_or_a_bad_token_is_401(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        response = await client.get("/v1/cases", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_the_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    token = bearer("emp")["Authorization"].removeprefix("Bearer ")
    response = await client.post("/v1/checkins", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


async def test_submissions_are_rate_limited_per_person_and_per_key(
    client: httpx.AsyncClient,
) -> None:
    person = [
        (await client.post("/v1/checkins", headers=bearer("emp"))).status_code for _ in range(4)
    ]
    assert person == [200, 200, 200, 429]
    key = [(await client.post("/v1/checkins", headers=KEY)).status_code for _ in range(6)]
    assert key == [200] * 5 + [429]
    limited = await client.post("/v1/checkins", headers=KEY)
    assert int(limited.headers["retry-after"]) >= 1
    # Another person is not affected by the first one's limit.
    assert (await client.post("/v1/checkins", headers=bearer("coord"))).status_code == 200


def test_every_route_states_its_policy_and_a_forgotten_one_is_visible() -> None:
    table = policies(build())
    assert [p.describe() for p in table["POST /v1/checkins"]] == [
        "systems with checkins:submit; any signed-in person"
    ]
    assert [p.describe() for p in table["GET /v1/cases"]] == [
        "people who are coordinator or peer_responder"
    ]
    assert table["GET /v1/open"] == []  # what the services' policy test catches


def test_an_actor_may_act_only_as_themselves() -> None:
    person = Actor(person=Person("emp"))
    person.require_self("emp", "submit check-ins")
    with pytest.raises(Exception, match="only as yourself"):
        person.require_self("someone-else", "submit check-ins")
    Actor(system=None, person=None).__class__  # noqa: B018 - a system acts within its scope


def test_a_team_manager_reads_the_teams_they_manage_or_their_own() -> None:
    own = Person("m", frozenset({Role.TEAM_MANAGER}), team_id="t-1")
    listed = Person("m", frozenset({Role.TEAM_MANAGER}), "t-1", frozenset({"t-7", "t-8"}))
    assert own.managed_teams == {"t-1"}
    assert listed.managed_teams == {"t-7", "t-8"}
    assert Person("e", team_id="t-1").managed_teams == frozenset()

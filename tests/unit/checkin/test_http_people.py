"""The check-in service's routes about people: ``GET /v1/me``, ``GET /v1/people`` and
``GET /v1/me/data`` (the real routes, fakes behind them)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dishka import provide

from kinship_checkin.entrypoints.http import checkin_router
from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from kinship_runtime.access import RateLimits
from tests.kafka_reading import checkin
from tests.unit.checkin.test_http import AUTH, Fakes
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork
from tests.unit.fakes.http import bearer, routes_client
from tests.unit.fakes.relay import FakeRelay


class FewSearches(Fakes):
    """The same fakes with a small submission limit, to see searches counted."""

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("3/minute", "100/minute")


@pytest.fixture
async def uow() -> FakeCheckinUnitOfWork:
    uow = FakeCheckinUnitOfWork()
    records: list[dict[str, Any]] = [
        {"person_id": "mgr", "display_name": "Mia Manager", "team_id": "t-1"},
        {"person_id": "ann", "display_name": "Ann Able", "team_id": "t-1"},
        {"person_id": "anton", "display_name": "Anton Left", "team_id": "t-1", "active": False},
    ]
    records[0]["roles"] = ["team_manager"]
    async with uow:
        await uow.apply_directory(
            [DirectoryChange(r["person_id"], DirectoryPerson.model_validate(r)) for r in records]
        )
    return uow


@pytest.fixture
async def client(uow: FakeCheckinUnitOfWork) -> AsyncIterator[httpx.AsyncClient]:
    async with routes_client("checkin", checkin_router(), FewSearches(uow, FakeRelay())) as http:
        yield http


async def test_me_tells_a_person_their_name_roles_teams_and_where_to_get_help(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/me", headers=bearer("mgr"))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["person_id"] == "mgr" and body["display_name"] == "Mia Manager"
    assert body["roles"] == ["team_manager"] and body["managed_teams"] == ["t-1"]
    assert any(resource["kind"] == "crisis" for resource in body["support"])
    employee = (await client.get("/v1/me", headers=bearer("ann"))).json()
    assert employee["roles"] == [] and employee["managed_teams"] == []


async def test_me_is_for_people_never_for_a_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/me", headers=AUTH)).status_code == 403
    assert (await client.get("/v1/me")).status_code == 401


async def test_people_search_gives_ids_and_names_of_active_people_only(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/people", params={"q": "an"}, headers=bearer("mgr"))
    assert answer.status_code == 200
    assert answer.json() == {
        "people": [
            {"person_id": "ann", "display_name": "Ann Able"},
            {"person_id": "mgr", "display_name": "Mia Manager"},
        ]
    }


async def test_people_search_needs_two_characters_and_a_person(
    client: httpx.AsyncClient,
) -> None:
    for q in ("a", "  a  "):
        short = await client.get("/v1/people", params={"q": q}, headers=bearer("ann"))
        assert short.status_code == 422
    assert (await client.get("/v1/people", params={"q": "ann"}, headers=AUTH)).status_code == 403


async def test_people_searches_are_rate_limited_per_person(client: httpx.AsyncClient) -> None:
    codes = [
        (await client.get("/v1/people", params={"q": "ann"}, headers=bearer("ann"))).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    # Searching never holds back a check-in (its own bucket): ann can still check in.
    checked_in = await client.post(
        "/v1/checkins", json=checkin("c-after", "ann"), headers=bearer("ann")
    )
    assert checked_in.status_code == 202, checked_in.text


async def test_people_search_is_for_people_in_the_directory(client: httpx.AsyncClient) -> None:
    stranger = await client.get("/v1/people", params={"q": "ann"}, headers=bearer("nobody"))
    assert stranger.status_code == 403


async def test_my_data_is_the_callers_own_with_their_notes(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    sent = await client.post(
        "/v1/checkins",
        json=checkin("c-1", person="ann", note="only for me", phq9=[0] * 9),
        headers=bearer("ann"),
    )
    assert sent.status_code == 202
    await client.post("/v1/checkins", json=checkin("c-2", person="mgr"), headers=bearer("mgr"))
    answer = await client.get("/v1/me/data", headers=bearer("ann"))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["service"] == "checkin" and body["person_id"] == "ann"
    (only,) = body["checkins"]
    assert only["id"] == "c-1" and only["note"] == "only for me"
    assert only["phq9_total"] == 0 and only["phq9"] == [0] * 9
    assert body["directory"]["display_name"] == "Ann Able"
    assert body["outreach"] == {"preference": "ask_first", "chosen_by": None}
    assert "sealed" not in answer.text and uow.vault["ann"] not in answer.text
    assert (await client.get("/v1/me/data", headers=AUTH)).status_code == 403

"""``PUT``/``DELETE /v1/directory/people/{person_id}`` over the in-memory unit of work (the
real routes, fakes behind them): keys with ``directory:publish`` only (never a person, a
coordinator neither), the record queued on ``directory.people`` keyed by the person (a
tombstone for a removal), the path's id and the body's the same (422 otherwise), and the
queued records read back by the consumers' parser as the change they stand for."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from dishka import Provider, Scope, provide
from pydantic import SecretStr

from kinship_checkin.entrypoints.directory_http import directory_routes
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.directory import DirectoryPerson, Role
from kinship_runtime.access import PeopleDirectory, Person, RateLimits
from kinship_runtime.identity import IdentityVerifier
from kinship_runtime.outbox import OutboxMessage, OutboxRelay
from kinship_runtime.records import parse_directory
from tests.unit.checkin.test_http import NOTE_KEY
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork
from tests.unit.fakes.http import FakePeople, bearer, identities, routes_client
from tests.unit.fakes.kafka import FakeRecord
from tests.unit.fakes.relay import FakeRelay

HR = {"Authorization": "Bearer hr-key"}
ERASURES_ONLY = {"Authorization": "Bearer erasure-key"}
"""The HR portal's key for erasures: it may not write the directory."""
PREFIX = "unit."
TOPIC = f"{PREFIX}directory.people"


class Fakes(Provider):
    scope = Scope.APP

    def __init__(self, uow: FakeCheckinUnitOfWork, relay: FakeRelay, per_key: str) -> None:
        super().__init__()
        self.uow, self.relay, self.per_key = uow, relay, per_key

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> CheckinUnitOfWork:
        return self.uow

    @provide
    def outbox_relay(self) -> OutboxRelay:
        return self.relay  # type: ignore[return-value]

    @provide
    def settings(self) -> CheckinSettings:
        return CheckinSettings(
            env="dev", note_keys=SecretStr(f"n1:{NOTE_KEY}"), note_key_id="n1", topic_prefix=PREFIX
        )

    @provide
    def identity_verifier(self) -> IdentityVerifier:
        return identities(
            [
                {"name": "hr", "scopes": ["directory:publish"], "key": "hr-key"},
                {"name": "hr-erasure", "scopes": ["erasure:request"], "key": "erasure-key"},
            ]
        )

    @provide
    def people(self) -> PeopleDirectory:
        return FakePeople([Person("coord", frozenset({Role.COORDINATOR}), "t-0")])

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("100/minute", self.per_key)


@pytest.fixture
def uow() -> FakeCheckinUnitOfWork:
    return FakeCheckinUnitOfWork()


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
async def client(uow: FakeCheckinUnitOfWork, relay: FakeRelay) -> AsyncIterator[httpx.AsyncClient]:
    async with routes_client("checkin", directory_routes, Fakes(uow, relay, "100/minute")) as c:
        yield c


def ann(**fields: Any) -> dict[str, Any]:
    """Ann's directory record (``fields`` add or replace)."""
    record: dict[str, Any] = {
        "person_id": "ann",
        "display_name": "Ann Example",
        "team_id": "t-1",
        "timezone": "Europe/Berlin",
        "roles": ["peer_responder"],
        "channels": {"email": "ann@example.org", "webhook": "http://127.0.0.1:9/ann"},
    }
    return {key: value for key, value in (record | fields).items() if value is not None}


def queued(uow: FakeCheckinUnitOfWork) -> list[OutboxMessage]:
    return [m for m in uow.outbox if m.topic == TOPIC]


def consumed(messages: list[OutboxMessage]) -> list[tuple[str, DirectoryPerson | None]]:
    """The queued records as every service's directory consumer reads them."""
    records = [FakeRecord(value=m.value, key=m.key, topic=TOPIC) for m in messages]
    accepted, rejected = parse_directory(records)
    assert rejected == []
    return [(item.event.person_id, item.event.person) for item in accepted]


async def test_a_person_put_is_queued_keyed_by_them_and_reads_back_as_that_person(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork, relay: FakeRelay
) -> None:
    response = await client.put("/v1/directory/people/ann", json=ann(), headers=HR)
    assert response.status_code == 202, response.text
    assert response.json() == {"person_id": "ann", "status": "accepted", "removed": False}
    (message,) = queued(uow)
    assert message.key == b"ann"
    assert dict(message.headers)["ce_type"] == b"kinship.directory.person.v1"
    assert consumed([message]) == [("ann", DirectoryPerson.model_validate(ann()))]
    assert relay.wakes == 1
    assert uow.people == {}  # the consumer applies it, like a record published to Kafka


async def test_a_delete_queues_a_tombstone_that_reads_back_as_a_removal(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    await client.put("/v1/directory/people/ann", json=ann(), headers=HR)
    response = await client.delete("/v1/directory/people/ann", headers=HR)
    assert response.status_code == 202, response.text
    assert response.json() == {"person_id": "ann", "status": "accepted", "removed": True}
    put, removal = queued(uow)
    assert (removal.key, removal.value) == (b"ann", None)
    assert consumed([put, removal]) == [
        ("ann", DirectoryPerson.model_validate(ann())),
        ("ann", None),
    ]
    assert len({put.event_id, removal.event_id}) == 2


async def test_a_body_for_another_person_than_the_path_is_refused(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    response = await client.put("/v1/directory/people/bob", json=ann(), headers=HR)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "person_id"]]
    assert queued(uow) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, ["body", "timezone"]),
        ({"roles": ["admin"]}, ["body", "roles", 0]),
        ({"display_name": ""}, ["body", "display_name"]),
        ({"active": "yes"}, ["body", "active"]),  # StrictBool
        ({"team_id": None}, ["body", "team_id"]),
        ({"channels": {"email": "not-an-address"}}, ["body", "channels", "email"]),
    ],
)
async def test_an_invalid_record_is_refused_naming_the_field_and_nothing_is_queued(
    client: httpx.AsyncClient,
    uow: FakeCheckinUnitOfWork,
    change: dict[str, Any],
    field: list[str | int],
) -> None:
    response = await client.put("/v1/directory/people/ann", json=ann(**change), headers=HR)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [field]
    assert "Ann Example" not in response.text
    assert queued(uow) == []


async def test_a_path_id_the_contract_cannot_hold_is_refused(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    response = await client.delete("/v1/directory/people/" + "a" * 201, headers=HR)
    assert response.status_code == 422
    assert queued(uow) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_only_keys_with_directory_publish_may_change_the_directory(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork, method: str
) -> None:
    path = "/v1/directory/people/ann"
    body = ann() if method == "PUT" else None
    anonymous = await client.request(method, path, json=body)
    erasures = await client.request(method, path, json=body, headers=ERASURES_ONLY)
    coordinator = await client.request(method, path, json=body, headers=bearer("coord"))
    themself = await client.request(method, path, json=body, headers=bearer("ann"))
    assert [r.status_code for r in (anonymous, erasures, coordinator, themself)] == [
        401,
        403,
        403,
        403,
    ]
    assert "directory:publish" in erasures.json()["detail"]
    assert queued(uow) == []


async def test_a_key_over_the_submission_rate_limit_is_told_when_to_come_back(
    uow: FakeCheckinUnitOfWork, relay: FakeRelay
) -> None:
    async with routes_client("checkin", directory_routes, Fakes(uow, relay, "2/minute")) as c:
        answers = [
            await c.put("/v1/directory/people/ann", json=ann(), headers=HR),
            await c.delete("/v1/directory/people/ann", headers=HR),
            await c.put("/v1/directory/people/ann", json=ann(), headers=HR),
        ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert len(queued(uow)) == 2

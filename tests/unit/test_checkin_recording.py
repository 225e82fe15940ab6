"""Recording check-ins through the handlers and the HTTP route, with an in-memory store."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_checkin.domain.checkins import needs_immediate_support
from kinship_checkin.domain.privacy import NoteCipher, Pseudonymiser
from kinship_checkin.domain.support import (
    DEFAULT_CRISIS_RESOURCES,
    SupportResource,
    load_crisis_resources,
)
from kinship_checkin.entrypoints.http import checkin_router
from kinship_checkin.handlers import (
    EVENT_SOURCE,
    CheckinPrivacy,
    CheckinResult,
    Outcome,
    apply_directory_records,
    record_checkins,
)
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_runtime.auth import ApiKeys, Authenticator, JwtVerifier
from kinship_runtime.http import create_http_app
from tests.kafka_reading import checkin
from tests.unit.fakes import FakeCheckinStore, submitted

PRIVACY = CheckinPrivacy(Pseudonymiser(b"s" * 32), NoteCipher({"n1": b"n" * 32}, "n1"))
RECORDED_AT = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
PLANTED_NOTE = "SECRET-NOTE-123"


async def record(
    store: FakeCheckinStore, *items: CheckinSubmitted, urgent: str | None = None
) -> list[CheckinResult]:
    return await record_checkins(
        list(items), store, PRIVACY, "recorded", clock=lambda: RECORDED_AT, urgent_topic=urgent
    )


def outcomes(results: list[CheckinResult]) -> list[Outcome]:
    return [result.outcome for result in results]


# Idempotency ---------------------------------------------------------------


async def test_a_duplicate_id_in_a_later_batch_has_no_second_effect() -> None:
    store = FakeCheckinStore()
    assert outcomes(await record(store, submitted("c-1", mood=2))) == [Outcome.RECORDED]
    assert outcomes(await record(store, submitted("c-1", mood=5, note="changed"))) == [
        Outcome.DUPLICATE
    ]
    assert list(store.checkins) == ["c-1"]
    assert store.checkins["c-1"].event.mood == 2
    assert store.checkins["c-1"].sealed_note is None
    assert [m.event_id for m in store.outbox] == ["c-1"]


async def test_an_id_repeated_within_one_batch_reaches_the_store_once_and_the_first_wins() -> None:
    store = FakeCheckinStore()
    results = await record(
        store, submitted("c-1", mood=1), submitted("c-1", mood=5), submitted("c-2")
    )
    assert outcomes(results) == [Outcome.RECORDED, Outcome.DUPLICATE, Outcome.RECORDED]
    assert [r.id for r in results] == ["c-1", "c-1", "c-2"]
    assert store.record_calls == [["c-1", "c-2"]]
    assert store.checkins["c-1"].event.mood == 1
    assert len(store.outbox) == 2


async def test_a_batch_of_only_repeats_of_a_known_id_is_all_duplicates() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1"))
    results = await record(store, submitted("c-1"), submitted("c-1"))
    assert outcomes(results) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert len(store.outbox) == 1


async def test_an_empty_batch_records_nothing() -> None:
    store = FakeCheckinStore()
    assert await record(store) == []
    assert store.checkins == {} and store.outbox == []


# What the recorded event carries -------------------------------------------


async def test_the_recorded_event_json_has_no_person_id_and_no_note_text() -> None:
    store = FakeCheckinStore(teams={"alice-7": "team-a"})
    await record(store, submitted("c-1", person="alice-7", note=PLANTED_NOTE))
    (message,) = store.outbox
    text = message.value.decode()
    assert "person_id" not in json.loads(text)
    assert "note" not in json.loads(text)
    assert "alice-7" not in text
    assert PLANTED_NOTE not in text
    assert all(PLANTED_NOTE.encode() not in value for _, value in message.headers)
    assert message.key is not None and b"alice-7" not in message.key


async def test_the_recorded_event_says_a_note_exists_and_the_stored_note_is_sealed() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1", note=PLANTED_NOTE))
    assert json.loads(store.outbox[0].value)["has_note"] is True
    sealed = store.checkins["c-1"].sealed_note
    assert sealed is not None and sealed.key_id == "n1"
    assert PLANTED_NOTE.encode() not in sealed.blob
    assert PRIVACY.notes.open(sealed, "c-1") == PLANTED_NOTE


async def test_an_empty_note_is_no_note() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1", note=""))
    assert json.loads(store.outbox[0].value)["has_note"] is False
    assert store.checkins["c-1"].sealed_note is None


async def test_the_event_is_keyed_by_the_subject_id_and_the_vault_maps_it_back() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1", person="bob"))
    subject = PRIVACY.pseudonyms.subject_id("bob")
    (message,) = store.outbox
    assert message.key == subject.encode()
    assert json.loads(message.value)["subject_id"] == subject
    assert store.vault == {subject: "bob"}


async def test_team_id_is_filled_from_the_directory() -> None:
    store = FakeCheckinStore(teams={"alice": "team-a", "bob": "team-b"})
    await record(store, submitted("c-1", person="alice"), submitted("c-2", person="bob"))
    teams = {m.event_id: json.loads(m.value)["team_id"] for m in store.outbox}
    assert teams == {"c-1": "team-a", "c-2": "team-b"}
    assert store.teams_asked == [["alice", "bob"]]


async def test_a_person_unknown_to_the_directory_has_no_team_id_in_the_event() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1", person="newcomer"))
    assert "team_id" not in json.loads(store.outbox[0].value)
    assert store.checkins["c-1"].event.team_id is None


async def test_the_directory_is_asked_once_per_person_per_batch() -> None:
    store = FakeCheckinStore()
    await record(
        store,
        submitted("c-1", person="b"),
        submitted("c-2", person="a"),
        submitted("c-3", person="b"),
    )
    assert store.teams_asked == [["a", "b"]]


async def test_the_event_keeps_the_id_answers_and_adds_derived_scores() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1", who5=[3, 3, 3, 3, 0], phq9=[1, 2, 0, 0, 0, 0, 0, 0, 0]))
    body = json.loads(store.outbox[0].value)
    assert body["id"] == "c-1"
    assert body["who5"] == [3, 3, 3, 3, 0]
    assert body["recorded_at"] == "2026-11-24T10:15:00Z"
    assert body["occurred_at"] == "2026-11-20T09:30:00+01:00"
    assert body["scores"] == {
        "who5_raw": 12,
        "who5_percent": 48,
        "phq9_total": 3,
        "phq9_band": "minimal",
        "phq9_item9_positive": False,
        "phq2_total": 3,
    }


async def test_the_event_carries_cloudevents_headers_with_the_submission_id() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1"))
    headers = dict(store.outbox[0].headers)
    assert headers["ce_id"] == b"c-1"
    assert headers["ce_source"] == EVENT_SOURCE.encode()
    assert headers["ce_type"] == b"kinship.checkin.recorded.v1"
    assert headers["ce_time"] == RECORDED_AT.isoformat().encode()
    assert headers["content-type"] == b"application/json"


# Immediate support ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "immediate"),
    [
        ({"phq9": [0] * 8 + [1]}, True),
        ({"phq9": [0] * 8 + [3], "mood": 5}, True),
        ({"phq9": [3] * 8 + [0]}, False),
        ({"wants_contact": True, "stress": 5}, True),
        ({"wants_contact": True, "mood": 1}, True),
        ({"wants_contact": True, "stress": 4, "mood": 2}, False),
        ({"wants_contact": True}, False),
        ({"wants_contact": False, "stress": 5, "mood": 1}, False),
        ({"phq2": [3, 3]}, False),
    ],
    ids=[
        "item9-1",
        "item9-3-good-mood",
        "item9-0-all-else-high",
        "contact-stress-5",
        "contact-mood-1",
        "contact-moderate",
        "contact-only",
        "low-without-contact",
        "phq2-positive",
    ],
)
async def test_immediate_support_follows_the_immediate_risk_rule(
    fields: dict[str, Any], immediate: bool
) -> None:
    item = submitted("c-1", **fields)
    assert needs_immediate_support(item) is immediate
    store = FakeCheckinStore()
    (result,) = await record(store, item, urgent="urgent")
    assert result.immediate_support is immediate
    assert [m.topic for m in store.outbox] == (
        ["urgent", "recorded"] if immediate else ["recorded"]
    )


async def test_a_retried_critical_checkin_is_a_duplicate_that_still_gets_support() -> None:
    store = FakeCheckinStore()
    critical = submitted("c-1", phq9=[0] * 8 + [2])
    await record(store, critical, urgent="urgent")
    (retry,) = await record(store, critical, urgent="urgent")
    assert (retry.outcome, retry.immediate_support) == (Outcome.DUPLICATE, True)
    assert [m.topic for m in store.outbox] == ["urgent", "recorded"]


async def test_without_an_urgent_topic_critical_checkins_go_only_to_recorded() -> None:
    store = FakeCheckinStore()
    await record(store, submitted("c-1", phq9=[0] * 8 + [1]))
    assert [m.topic for m in store.outbox] == ["recorded"]


def test_the_builtin_crisis_resources_include_emergency_and_crisis_line() -> None:
    assert load_crisis_resources(None) == DEFAULT_CRISIS_RESOURCES
    names = [resource.name for resource in DEFAULT_CRISIS_RESOURCES]
    assert "Emergency services" in names and "Crisis line" in names


def test_an_organisations_crisis_resources_file_replaces_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "crisis.json"
    path.write_text(json.dumps([{"name": "EAP", "description": "24/7", "contact": "0800 1"}]))
    assert load_crisis_resources(path) == (SupportResource("EAP", "24/7", "0800 1"),)


# Directory -------------------------------------------------------------------


def person(person_id: str, team: str) -> DirectoryPerson:
    return DirectoryPerson(person_id=person_id, display_name=person_id.title(), team_id=team)


async def test_directory_records_apply_in_order_the_last_per_person_wins() -> None:
    store = FakeCheckinStore(teams={"gone": "t-0"})
    await apply_directory_records(
        [
            ("alice", person("alice", "t-1")),
            ("bob", person("bob", "t-1")),
            ("alice", person("alice", "t-2")),
            ("bob", None),
            ("gone", None),
            ("carol", None),
            ("carol", person("carol", "t-3")),
        ],
        store,
    )
    assert store.directory_calls == [(["alice", "carol"], ["bob", "gone"])]
    assert store.teams == {"alice": "t-2", "carol": "t-3"}


async def test_a_directory_change_is_seen_by_the_next_checkin() -> None:
    store = FakeCheckinStore()
    await apply_directory_records([("alice", person("alice", "t-9"))], store)
    await record(store, submitted("c-1", person="alice"))
    assert json.loads(store.outbox[0].value)["team_id"] == "t-9"


# HTTP route --------------------------------------------------------------------


@dataclass
class FakeRelay:
    wakes: int = 0

    def wake(self) -> None:
        self.wakes += 1


@dataclass
class FakeSettings:
    trends_min_people: int = 5


@dataclass
class FakeCheckinService:
    """The attributes ``checkin_router`` reads from ``CheckinService``."""

    store: FakeCheckinStore = field(default_factory=FakeCheckinStore)
    authenticator: Authenticator = field(
        default_factory=lambda: Authenticator(
            ApiKeys(SecretStr("tests=unit-key")),
            JwtVerifier(secret=None, public_key=None, audience="kinship", issuer=None),
        )
    )
    privacy: CheckinPrivacy = PRIVACY
    recorded_topic: str = "recorded"
    urgent_topic: str = "urgent"
    crisis_resources: tuple[SupportResource, ...] = DEFAULT_CRISIS_RESOURCES
    relay: FakeRelay = field(default_factory=FakeRelay)
    settings: FakeSettings = field(default_factory=FakeSettings)


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def service() -> FakeCheckinService:
    return FakeCheckinService()


@pytest.fixture
async def client(service: FakeCheckinService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_http_app(
        title="checkin (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[checkin_router(cast(Any, service))],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://checkin") as http:
        yield http


AUTH = {"Authorization": "Bearer unit-key"}


async def test_http_checkin_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/checkins", json=checkin("c-1"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_http_checkin_is_202_then_202_duplicate_with_one_effect(
    client: httpx.AsyncClient, service: FakeCheckinService
) -> None:
    first = await client.post("/v1/checkins", json=checkin("c-1"), headers=AUTH)
    again = await client.post("/v1/checkins", json=checkin("c-1", mood=1), headers=AUTH)
    assert (first.status_code, first.json()) == (202, {"id": "c-1", "status": "accepted"})
    assert (again.status_code, again.json()) == (202, {"id": "c-1", "status": "duplicate"})
    assert len(service.store.outbox) == 1
    assert service.relay.wakes == 2


async def test_http_critical_checkin_response_carries_the_crisis_resources(
    client: httpx.AsyncClient,
) -> None:
    body = checkin("c-1", phq9=[0] * 8 + [1])
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 202
    support = response.json()["immediate_support"]
    assert [item["name"] for item in support] == [r.name for r in DEFAULT_CRISIS_RESOURCES]


async def test_http_contact_request_with_mood_1_carries_the_crisis_resources(
    client: httpx.AsyncClient,
) -> None:
    body = checkin("c-1", mood=1, wants_contact=True)
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.json()["immediate_support"]


async def test_http_invalid_checkin_is_422_with_field_locations_and_no_submitted_values(
    client: httpx.AsyncClient, service: FakeCheckinService
) -> None:
    body = checkin("c-1", mood=9, note=PLANTED_NOTE + "x" * 2000)
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in response.json()["detail"])
    assert locations == [("body", "mood"), ("body", "note")]
    assert PLANTED_NOTE not in response.text
    assert service.store.checkins == {}

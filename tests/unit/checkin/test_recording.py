"""Recording check-ins through the handlers, with the in-memory unit of work."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kinship_checkin.domain.checkins import needs_immediate_support
from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.domain.support import PEER_OUTREACH, crisis_resources
from kinship_checkin.handlers.directory import apply_directory
from kinship_checkin.handlers.recording import (
    EVENT_SOURCE,
    CheckinResult,
    Outcome,
    RecordingTopics,
    record_checkins,
)
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from kinship_contracts.resources import (
    DEFAULT_CATALOGUE,
    ResourceKind,
    SupportResource,
    load_catalogue,
)
from kinship_runtime.outbox import OutboxMessage
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork, submitted

NOTES = NoteCipher({"n1": b"n" * 32}, "n1")
RECORDED_AT = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
PLANTED_NOTE = "SECRET-NOTE-123"


async def record(
    uow: FakeCheckinUnitOfWork, *items: CheckinSubmitted, urgent: str | None = None
) -> list[CheckinResult]:
    async with uow:
        return await record_checkins(
            list(items), uow, NOTES, RecordingTopics("recorded", urgent), RECORDED_AT
        )


def value(message: OutboxMessage) -> bytes:
    assert message.value is not None, "a check-in event is never a tombstone"
    return message.value


def outcomes(results: list[CheckinResult]) -> list[Outcome]:
    return [result.outcome for result in results]


# Idempotency ---------------------------------------------------------------


async def test_a_duplicate_id_in_a_later_batch_has_no_second_effect() -> None:
    uow = FakeCheckinUnitOfWork()
    assert outcomes(await record(uow, submitted("c-1", mood=2))) == [Outcome.RECORDED]
    assert outcomes(await record(uow, submitted("c-1", mood=5, note="changed"))) == [
        Outcome.DUPLICATE
    ]
    assert list(uow.checkins) == ["c-1"]
    assert uow.checkins["c-1"].event.mood == 2
    assert uow.checkins["c-1"].sealed_note is None
    assert [m.event_id for m in uow.outbox] == ["c-1"]


async def test_an_id_repeated_within_one_batch_reaches_the_store_once_and_the_first_wins() -> None:
    uow = FakeCheckinUnitOfWork()
    results = await record(
        uow, submitted("c-1", mood=1), submitted("c-1", mood=5), submitted("c-2")
    )
    assert outcomes(results) == [Outcome.RECORDED, Outcome.DUPLICATE, Outcome.RECORDED]
    assert [r.id for r in results] == ["c-1", "c-1", "c-2"]
    assert uow.record_calls == [["c-1", "c-2"]]
    assert uow.checkins["c-1"].event.mood == 1
    assert len(uow.outbox) == 2


async def test_a_batch_of_only_repeats_of_a_known_id_is_all_duplicates() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1"))
    results = await record(uow, submitted("c-1"), submitted("c-1"))
    assert outcomes(results) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert len(uow.outbox) == 1


async def test_an_empty_batch_records_nothing() -> None:
    uow = FakeCheckinUnitOfWork()
    assert await record(uow) == []
    assert uow.checkins == {} and uow.outbox == []


# What the recorded event carries -------------------------------------------


async def test_the_recorded_event_json_has_no_person_id_and_no_note_text() -> None:
    uow = FakeCheckinUnitOfWork(teams={"alice-7": "team-a"})
    await record(uow, submitted("c-1", person="alice-7", note=PLANTED_NOTE))
    (message,) = uow.outbox
    text = value(message).decode()
    assert "person_id" not in json.loads(text)
    assert "note" not in json.loads(text)
    assert "alice-7" not in text
    assert PLANTED_NOTE not in text
    assert all(PLANTED_NOTE.encode() not in value for _, value in message.headers)
    assert message.key is not None and b"alice-7" not in message.key


async def test_the_recorded_event_says_a_note_exists_and_the_stored_note_is_sealed() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", note=PLANTED_NOTE))
    assert json.loads(value(uow.outbox[0]))["has_note"] is True
    sealed = uow.checkins["c-1"].sealed_note
    assert sealed is not None and sealed.key_id == "n1" and sealed.per_person
    assert PLANTED_NOTE.encode() not in sealed.blob
    subject = uow.vault["alice"]
    assert NOTES.open(sealed, "c-1", uow.keys[subject], subject) == PLANTED_NOTE


async def test_each_person_gets_one_data_key_and_only_when_they_write_a_note() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(
        uow,
        submitted("c-1", person="ann", note="one"),
        submitted("c-2", person="ann", note="two"),
        submitted("c-3", person="bob"),
    )
    await record(uow, submitted("c-4", person="ann", note="three"))
    assert set(uow.keys) == {uow.vault["ann"]}
    ann = uow.vault["ann"]
    for checkin_id, note in (("c-1", "one"), ("c-2", "two"), ("c-4", "three")):
        sealed = uow.checkins[checkin_id].sealed_note
        assert sealed is not None
        assert NOTES.open(sealed, checkin_id, uow.keys[ann], ann) == note


async def test_an_empty_note_is_no_note() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", note=""))
    assert json.loads(value(uow.outbox[0]))["has_note"] is False
    assert uow.checkins["c-1"].sealed_note is None


async def test_the_event_is_keyed_by_a_random_subject_id_only_the_vault_maps_back() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", person="bob"))
    await record(uow, submitted("c-2", person="bob"))
    subject = uow.vault["bob"]
    keys = {message.key for message in uow.outbox}
    assert keys == {subject.encode()}  # the same pseudonym for every check-in of one person
    assert json.loads(value(uow.outbox[0]))["subject_id"] == subject
    assert len(subject) == 32 and "bob" not in subject
    other = FakeCheckinUnitOfWork()
    await record(other, submitted("c-1", person="bob"))
    assert other.vault["bob"] != subject  # not derived from the person: not recomputable


async def test_team_id_is_filled_from_the_directory() -> None:
    uow = FakeCheckinUnitOfWork(teams={"alice": "team-a", "bob": "team-b"})
    await record(uow, submitted("c-1", person="alice"), submitted("c-2", person="bob"))
    teams = {m.event_id: json.loads(value(m))["team_id"] for m in uow.outbox}
    assert teams == {"c-1": "team-a", "c-2": "team-b"}
    assert uow.teams_asked == [["alice", "bob"]]


async def test_a_person_unknown_to_the_directory_has_no_team_id_in_the_event() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", person="newcomer"))
    assert "team_id" not in json.loads(value(uow.outbox[0]))
    assert uow.checkins["c-1"].event.team_id is None


async def test_the_directory_is_asked_once_per_person_per_batch() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(
        uow,
        submitted("c-1", person="b"),
        submitted("c-2", person="a"),
        submitted("c-3", person="b"),
    )
    assert uow.teams_asked == [["a", "b"]]


async def test_the_event_keeps_the_id_answers_and_adds_derived_scores() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", who5=[3, 3, 3, 3, 0], phq9=[1, 2, 0, 0, 0, 0, 0, 0, 0]))
    body = json.loads(value(uow.outbox[0]))
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
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1"))
    headers = dict(uow.outbox[0].headers)
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
    uow = FakeCheckinUnitOfWork()
    (result,) = await record(uow, item, urgent="urgent")
    assert result.immediate_support is immediate
    assert [m.topic for m in uow.outbox] == (["urgent", "recorded"] if immediate else ["recorded"])


async def test_a_retried_critical_checkin_is_a_duplicate_that_still_gets_support() -> None:
    uow = FakeCheckinUnitOfWork()
    critical = submitted("c-1", phq9=[0] * 8 + [2])
    await record(uow, critical, urgent="urgent")
    (retry,) = await record(uow, critical, urgent="urgent")
    assert (retry.outcome, retry.immediate_support) == (Outcome.DUPLICATE, True)
    assert [m.topic for m in uow.outbox] == ["urgent", "recorded"]


async def test_without_an_urgent_topic_critical_checkins_go_only_to_recorded() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", phq9=[0] * 8 + [1]))
    assert [m.topic for m in uow.outbox] == ["recorded"]


def test_the_builtin_crisis_resources_include_emergency_a_helpline_and_the_peer_responder() -> None:
    resources = crisis_resources(DEFAULT_CATALOGUE).resources
    names = [resource.name for resource in resources]
    assert "Emergency services" in names and "Find a helpline" in names
    assert resources[-1] == PEER_OUTREACH
    assert all(not resource.countries for resource in resources)  # no country-only lines


def test_an_organisations_catalogue_replaces_the_defaults_and_keeps_only_crisis_help(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.json"
    entries = [
        {"kind": "employee_assistance", "name": "EAP", "description": "24/7", "contact": "0800 1"},
        {"kind": "self_care", "name": "Guide", "description": "", "contact": "https://x.test"},
    ]
    path.write_text(json.dumps(entries))
    eap = SupportResource(
        kind=ResourceKind.EMPLOYEE_ASSISTANCE, name="EAP", description="24/7", contact="0800 1"
    )
    assert crisis_resources(load_catalogue(path)).resources == (eap, PEER_OUTREACH)


# Directory -------------------------------------------------------------------


def person(person_id: str, team: str) -> DirectoryPerson:
    return DirectoryPerson(person_id=person_id, display_name=person_id.title(), team_id=team)


async def test_directory_records_apply_in_order_the_last_per_person_wins() -> None:
    uow = FakeCheckinUnitOfWork(teams={"gone": "t-0"})
    changes = [
        DirectoryChange("alice", person("alice", "t-1")),
        DirectoryChange("bob", person("bob", "t-1")),
        DirectoryChange("alice", person("alice", "t-2")),
        DirectoryChange("bob", None),
        DirectoryChange("gone", None),
        DirectoryChange("carol", None),
        DirectoryChange("carol", person("carol", "t-3")),
    ]
    async with uow:
        await apply_directory(changes, uow, "outreach", RECORDED_AT)
    assert uow.teams == {"alice": "t-2", "carol": "t-3"}


async def test_a_directory_change_is_seen_by_the_next_checkin() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await apply_directory(
            [DirectoryChange("alice", person("alice", "t-9"))], uow, "outreach", RECORDED_AT
        )
    await record(uow, submitted("c-1", person="alice"))
    assert json.loads(value(uow.outbox[0]))["team_id"] == "t-9"


async def test_a_failed_unit_of_work_records_nothing() -> None:
    uow = FakeCheckinUnitOfWork()
    with pytest.raises(RuntimeError):
        async with uow:
            await record_checkins(
                [submitted("c-1")], uow, NOTES, RecordingTopics("recorded"), RECORDED_AT
            )
            raise RuntimeError("the database refused the batch")
    assert (uow.checkins, uow.outbox, uow.rollbacks) == ({}, [], 1)


# Merged from the former tests/unit/checkin/test_checkin_handlers.py --------------


async def test_recorded_event_has_subject_team_and_no_person_or_note() -> None:
    uow = FakeCheckinUnitOfWork(teams={"alice": "team-7"})
    await record(uow, submitted("c-1", note=PLANTED_NOTE))
    message = uow.outbox[0]
    body = json.loads(value(message))
    assert "person_id" not in body and "alice" not in value(message).decode()
    assert PLANTED_NOTE not in value(message).decode()
    assert body["has_note"] is True
    assert body["team_id"] == "team-7"
    assert message.key == uow.vault["alice"].encode()
    stored = uow.checkins["c-1"].sealed_note
    assert stored is not None and PLANTED_NOTE.encode() not in stored.blob


async def test_immediate_risk_takes_the_urgent_lane_first_with_the_same_value() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(uow, submitted("c-1", phq9=[0] * 8 + [1]), submitted("c-2"), urgent="urgent")
    assert [(m.event_id, m.topic) for m in uow.outbox] == [
        ("c-1", "urgent"),
        ("c-1", "recorded"),
        ("c-2", "recorded"),
    ]
    assert uow.outbox[0].value == uow.outbox[1].value
    assert dict(uow.outbox[0].headers)["ce_type"] == b"kinship.checkin.urgent.v1"


async def test_the_event_says_whether_the_person_shared_the_note_never_the_note() -> None:
    uow = FakeCheckinUnitOfWork()
    await record(
        uow,
        submitted("c-1", note=PLANTED_NOTE, share_note=True),
        submitted("c-2", note=PLANTED_NOTE),
        submitted("c-3", share_note=True),
    )
    shared = {m.event_id: json.loads(value(m))["note_shared"] for m in uow.outbox}
    assert shared == {"c-1": True, "c-2": False, "c-3": False}
    assert all(PLANTED_NOTE.encode() not in value(m) for m in uow.outbox)

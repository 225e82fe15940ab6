"""The check-in handlers with an in-memory store: idempotency and what the event carries."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from kinship_checkin.domain.checkins import RecordedCheckin
from kinship_checkin.domain.privacy import NoteCipher, Pseudonymiser
from kinship_checkin.domain.trends import TrendCell
from kinship_checkin.handlers import CheckinPrivacy, Outcome, record_checkins
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_runtime.outbox import OutboxMessage

SECRET_NOTE = "nobody-should-read-this-4e1f"


class FakeCheckinStore:
    """Implements ``CheckinStore`` in memory."""

    def __init__(self, teams: dict[str, str] | None = None) -> None:
        self.teams = teams or {}
        self.checkins: dict[str, RecordedCheckin] = {}
        self.outbox: list[OutboxMessage] = []

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        return {p: self.teams[p] for p in person_ids if p in self.teams}

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        new = {c.event.id for c in checkins if c.event.id not in self.checkins}
        for item in checkins:
            self.checkins.setdefault(item.event.id, item)
        self.outbox += [m for m in messages if m.event_id in new]
        return new

    async def apply_directory(
        self, upserts: Sequence[DirectoryPerson], removals: Sequence[str]
    ) -> None:
        raise NotImplementedError

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        raise NotImplementedError


PRIVACY = CheckinPrivacy(Pseudonymiser(b"p" * 32), NoteCipher({"k1": b"n" * 32}, "k1"))
NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def submission(id_: str, person: str = "alice", **fields: object) -> CheckinSubmitted:
    payload = {
        "id": id_,
        "person_id": person,
        "occurred_at": "2026-11-24T09:00:00+00:00",
        "source": "tests",
        "mood": 3,
        **fields,
    }
    return CheckinSubmitted.model_validate_json(json.dumps(payload))


async def record(store: FakeCheckinStore, *items: CheckinSubmitted) -> list[Outcome]:
    results = await record_checkins(list(items), store, PRIVACY, "recorded", clock=lambda: NOW)
    return [result.outcome for result in results]


async def test_the_same_id_twice_has_one_effect() -> None:
    store = FakeCheckinStore()
    assert await record(store, submission("c-1")) == [Outcome.RECORDED]
    assert await record(store, submission("c-1", mood=5)) == [Outcome.DUPLICATE]
    assert len(store.outbox) == 1
    assert store.checkins["c-1"].event.mood == 3


async def test_a_repeat_within_one_batch_is_a_duplicate() -> None:
    store = FakeCheckinStore()
    outcomes = await record(store, submission("c-1"), submission("c-2"), submission("c-1"))
    assert outcomes == [Outcome.RECORDED, Outcome.RECORDED, Outcome.DUPLICATE]
    assert len(store.outbox) == 2


async def test_recorded_event_has_subject_team_and_no_person_or_note() -> None:
    store = FakeCheckinStore(teams={"alice": "team-7"})
    await record(store, submission("c-1", note=SECRET_NOTE))
    message = store.outbox[0]
    body = json.loads(message.value)
    assert "person_id" not in body and "alice" not in message.value.decode()
    assert SECRET_NOTE not in message.value.decode()
    assert body["has_note"] is True
    assert body["team_id"] == "team-7"
    assert message.key == PRIVACY.pseudonyms.subject_id("alice").encode()
    assert dict(message.headers)["ce_id"] == b"c-1"
    stored = store.checkins["c-1"].sealed_note
    assert stored is not None and SECRET_NOTE.encode() not in stored.blob


async def test_immediate_support_is_flagged_for_item9() -> None:
    store = FakeCheckinStore()
    results = await record_checkins(
        [submission("c-1", phq9=[0] * 8 + [2]), submission("c-2")], store, PRIVACY, "recorded"
    )
    assert [r.immediate_support for r in results] == [True, False]


async def test_immediate_risk_also_takes_the_urgent_lane_first() -> None:
    store = FakeCheckinStore()
    await record_checkins(
        [submission("c-1", phq9=[0] * 8 + [1]), submission("c-2")],
        store,
        PRIVACY,
        "recorded",
        urgent_topic="urgent",
    )
    assert [(m.event_id, m.topic) for m in store.outbox] == [
        ("c-1", "urgent"),
        ("c-1", "recorded"),
        ("c-2", "recorded"),
    ]
    assert store.outbox[0].value == store.outbox[1].value
    assert dict(store.outbox[0].headers)["ce_type"] == b"kinship.checkin.urgent.v1"

"""Dead letters keep the original record sealed and say why (kinship_runtime.dead_letters)."""

import json
from collections.abc import Sequence
from typing import Any, cast

from kinship_runtime.dead_letters import (
    CLEAR_HEADERS,
    DeadLetters,
    Sealed,
    dead_letter_aad,
    people_in,
)
from kinship_runtime.records import Record, Rejected
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.kafka import FakeProducer, FakeRecord

PLANTED = "SECRET-NOTE-123"


class FakeSealer:
    """Seals by prefixing (the real cipher is tested against PostgreSQL)."""

    def __init__(self) -> None:
        self.sealed: list[Record] = []

    async def seal(self, records: Sequence[Record]) -> list[Sealed]:
        self.sealed += records
        return [
            Sealed(
                f"dlk-{n}",
                b"SEALED" if r.value is not None else None,
                b"SEALED-HEADERS" if any(k not in CLEAR_HEADERS for k, _ in r.headers) else None,
            )
            for n, r in enumerate(records)
        ]


async def test_dead_letters_are_sealed_keyed_by_key_id_and_say_why() -> None:
    producer, sealer = FakeProducer(), FakeSealer()
    record = FakeRecord(
        encode(checkin("c-1", person="alice", mood=0, note=PLANTED)),
        key=b"alice",
        headers=[("ce_id", b"c-1"), ("traceparent", b"00-1-2-01"), ("x-person", b"alice")],
        partition=3,
        offset=42,
    )
    reason = {"code": "validation_failed", "errors": [{"loc": ["mood"]}]}
    dead = DeadLetters(cast(Any, producer), "checkin.submissions", sealer)
    await dead.send([Rejected(record, reason)])
    (sent,) = producer.sent
    assert (sent.topic, sent.key, sent.value) == (
        "wellbeing.checkins.submitted.dlq",
        b"dlk-0",  # never the person's id
        b"SEALED",
    )
    headers = dict(sent.headers)
    assert sent.headers[:2] == [("ce_id", b"c-1"), ("traceparent", b"00-1-2-01")]
    assert "x-person" not in headers  # unknown headers travel sealed only
    assert headers["kinship-dlq-sealed-headers"] == b"SEALED-HEADERS"
    assert json.loads(headers["kinship-dlq-reason"]) == reason
    assert headers["kinship-dlq-code"] == b"validation_failed"
    assert headers["kinship-dlq-topic"] == b"wellbeing.checkins.submitted"
    assert (headers["kinship-dlq-partition"], headers["kinship-dlq-offset"]) == (b"3", b"42")
    assert headers["kinship-dlq-consumer"] == b"checkin.submissions"
    assert headers["kinship-dlq-sealed"] == b"dlk-0"
    assert all(b"alice" not in value and PLANTED.encode() not in value for _, value in sent.headers)


async def test_nothing_to_dead_letter_sends_nothing() -> None:
    producer, sealer = FakeProducer(), FakeSealer()
    await DeadLetters(cast(Any, producer), "c", sealer).send([])
    assert producer.sent == [] and sealer.sealed == []


def test_the_people_a_record_names_are_found_in_its_fields_and_key() -> None:
    kudos = FakeRecord(
        json.dumps({"from_person_id": "ann", "to_person_id": "bob", "message": "x"}).encode(),
        key=b"bob",
    )
    assert people_in(kudos) == {"ann", "bob"}
    recorded = FakeRecord(json.dumps({"subject_id": "s-1"}).encode(), key=b"s-1")
    assert people_in(recorded) == {"s-1"}
    garbage = FakeRecord(b"\xff not json", key=b"p-9")
    assert people_in(garbage) == {"p-9"}
    assert people_in(FakeRecord(None, key=None)) == set()


def test_the_associated_data_binds_a_dead_letter_to_its_position() -> None:
    record = FakeRecord(b"x", partition=1, offset=9)
    assert dead_letter_aad(record) == "wellbeing.checkins.submitted:1:9"

"""Dead letters keep the original record sealed and say why (kinship_runtime.dead_letters)."""

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg

from kinship_runtime.dead_letters import (
    CLEAR_HEADERS,
    EXPIRY_BATCH,
    DeadLetterKeyExpiry,
    DeadLetterKeys,
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


class KeyTable:
    """``dead_letter_keys`` with its people links (ON DELETE CASCADE), as a pool that runs the
    expiry statement only (the SQL itself runs against PostgreSQL in the integration tests)."""

    def __init__(self, expires: dict[str, datetime]) -> None:
        self.expires = dict(expires)
        self.people = {key_id: f"person-of-{key_id}" for key_id in expires}
        self.statements: list[str] = []

    async def execute(self, sql: str, now: datetime, limit: int) -> str:
        assert sql.startswith("DELETE FROM dead_letter_keys") and "expires_at < $1" in sql
        self.statements.append(sql)
        gone = sorted(k for k, at in self.expires.items() if at < now)[:limit]
        for key_id in gone:
            del self.expires[key_id]
            self.people.pop(key_id, None)
        return f"DELETE {len(gone)}"


def keys_over(table: KeyTable) -> DeadLetterKeys:
    return DeadLetterKeys(cast(asyncpg.Pool, table), b"w" * 32)


async def test_expired_keys_are_deleted_by_the_worker_without_new_dead_letters() -> None:
    now = datetime.now(UTC)
    table = KeyTable(
        {
            "dlk-old": now - timedelta(days=1),  # past its 14 days
            "dlk-older": now - timedelta(days=30),
            "dlk-fresh": now + timedelta(days=13),
        }
    )
    expiry = DeadLetterKeyExpiry(keys_over(table), poll_seconds=3600)
    expiry.start()
    try:
        for _ in range(100):  # the first round runs at once, not after an hour
            if expiry.expired:
                break
            await asyncio.sleep(0.01)
        assert expiry.healthy()
    finally:
        await expiry.stop()
    assert expiry.expired == 2
    assert set(table.expires) == {"dlk-fresh"}
    assert set(table.people) == {"dlk-fresh"}  # the people links went with their keys
    assert len(table.statements) == 1  # nothing more to do: wait for the next poll


async def test_a_full_batch_runs_the_next_round_at_once_until_none_are_left() -> None:
    now = datetime.now(UTC)
    expired = {f"dlk-{n:05}": now - timedelta(hours=1) for n in range(EXPIRY_BATCH * 2 + 5)}
    table = KeyTable({**expired, "dlk-fresh": now + timedelta(days=1)})
    expiry = DeadLetterKeyExpiry(keys_over(table), poll_seconds=3600)
    expiry.start()
    try:
        for _ in range(200):
            if expiry.expired == len(expired):
                break
            await asyncio.sleep(0.01)
    finally:
        await expiry.stop()
    assert expiry.expired == len(expired)
    assert list(table.expires) == ["dlk-fresh"]
    assert len(table.statements) == 3  # 1000, 1000, then 5 (not full: wait for the poll)


async def test_expire_says_how_many_keys_went() -> None:
    now = datetime.now(UTC)
    table = KeyTable({"dlk-a": now - timedelta(seconds=1), "dlk-b": now + timedelta(seconds=60)})
    keys = keys_over(table)
    assert await keys.expire(now) == 1
    assert await keys.expire(now) == 0
    assert await keys.expire(now + timedelta(minutes=2)) == 1
    assert not table.expires  # every key gone once past its time

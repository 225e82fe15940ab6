"""Runtime ingestion: parsing raw records, reasons without values, dead letters, retries."""

import json
from collections.abc import Sequence
from typing import Any, cast

import asyncpg
import pytest

from kinship_checkin.domain.privacy import NoteCipher
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.kudos import KudosSubmitted
from kinship_runtime.ingestion import (
    DeadLetters,
    Rejected,
    dead_letter_aad,
    parse_directory,
    parse_records,
    store_or_dead_letter,
    until_stored,
)
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.kafka import FakeProducer, FakeRecord

PLANTED = "SECRET-NOTE-123"


def reasons(rejected: Sequence[Rejected]) -> str:
    return json.dumps([item.reason for item in rejected])


def test_good_json_is_accepted_with_its_record() -> None:
    record = FakeRecord(encode(checkin("c-1", note=PLANTED)), offset=7)
    accepted, rejected = parse_records([record], CheckinSubmitted)
    assert rejected == []
    assert accepted[0].record is record
    assert accepted[0].event.note == PLANTED


@pytest.mark.parametrize(
    "value",
    [b"{not json", b"", b"null", b"[]", b'"a string"', b"\xff\xfe\x00", b'{"id": "c-1"'],
    ids=["broken", "empty", "null", "array", "string", "not-utf8", "truncated"],
)
def test_bad_json_is_rejected_as_validation_failed(value: bytes) -> None:
    accepted, rejected = parse_records([FakeRecord(value)], CheckinSubmitted)
    assert accepted == []
    assert rejected[0].reason["code"] == "validation_failed"
    assert rejected[0].reason["errors"]


def test_a_tombstone_is_rejected_as_empty_value() -> None:
    _, rejected = parse_records([FakeRecord(None)], CheckinSubmitted)
    assert rejected[0].reason == {"code": "empty_value", "errors": []}


def test_accepted_and_rejected_keep_the_batch_order() -> None:
    records = [FakeRecord(encode(checkin(f"c-{n}", mood=n)), offset=n) for n in range(1, 8)]
    accepted, rejected = parse_records(records, CheckinSubmitted)
    assert [a.record.offset for a in accepted] == [1, 2, 3, 4, 5]
    assert [r.record.offset for r in rejected] == [6, 7]


def test_the_reason_lists_each_failing_field_location_but_never_the_submitted_values() -> None:
    payload = checkin(
        "c-1",
        mood=9,
        note=PLANTED * 200,
        who5=[1, 2, 77777, 4, 5],
        wants_contcat=PLANTED,
        occurred_at="SECRET-TIME-456",
    )
    _, (rejected,) = parse_records([FakeRecord(encode(payload))], CheckinSubmitted)
    locations = sorted(tuple(error["loc"]) for error in rejected.reason["errors"])
    assert locations == [
        ("mood",),
        ("note",),
        ("occurred_at",),
        ("wants_contcat",),
        ("who5", 2),
    ]
    text = reasons([rejected])
    for secret in (PLANTED, "77777", "SECRET-TIME-456"):
        assert secret not in text
    assert all(set(error) == {"loc", "msg", "type"} for error in rejected.reason["errors"])


def test_a_nul_in_a_note_is_reported_without_the_note() -> None:
    _, (rejected,) = parse_records(
        [FakeRecord(encode(checkin("c-1", note=PLANTED + "\x00")))], CheckinSubmitted
    )
    assert rejected.reason["errors"][0]["loc"] == ["note"]
    assert PLANTED not in reasons([rejected])


def test_a_ce_id_header_differing_from_the_payload_id_is_rejected_without_either_id() -> None:
    record = FakeRecord(encode(checkin("payload-id-1")), headers=[("ce_id", b"header-id-2")])
    accepted, (rejected,) = parse_records([record], CheckinSubmitted)
    assert accepted == []
    assert rejected.reason == {
        "code": "id_mismatch",
        "errors": [{"loc": ["id"], "msg": "ce_id header differs from payload id"}],
    }
    assert "payload-id-1" not in reasons([rejected])
    assert "header-id-2" not in reasons([rejected])


def test_a_ce_id_header_that_is_not_utf8_is_a_mismatch_not_a_crash() -> None:
    record = FakeRecord(encode(checkin("c-1")), headers=[("ce_id", b"\xff\xfe")])
    _, (rejected,) = parse_records([record], CheckinSubmitted)
    assert rejected.reason["code"] == "id_mismatch"


def test_an_invalid_payload_is_a_validation_failure_even_when_ce_id_differs() -> None:
    record = FakeRecord(encode(checkin("c-1", mood=0)), headers=[("ce_id", b"other")])
    _, (rejected,) = parse_records([record], CheckinSubmitted)
    assert rejected.reason["code"] == "validation_failed"


def test_other_headers_do_not_affect_parsing() -> None:
    record = FakeRecord(
        encode(checkin("c-1")), headers=[("traceparent", b"00-1-2-01"), ("ce_source", b"hr")]
    )
    accepted, rejected = parse_records([record], CheckinSubmitted)
    assert len(accepted) == 1 and rejected == []


def test_parse_records_works_for_other_ingestion_models() -> None:
    kudos = {
        "id": "k-1",
        "from_person_id": "a",
        "to_person_id": "b",
        "message": "thanks!",
        "occurred_at": "2026-11-24T09:00:00Z",
        "source": "chat",
    }
    record = FakeRecord(json.dumps(kudos).encode(), headers=[("ce_id", b"k-1")])
    accepted, rejected = parse_records([record], KudosSubmitted)
    assert [a.event.id for a in accepted] == ["k-1"] and rejected == []


# directory.people ---------------------------------------------------------------

PERSON = {"person_id": "p-1", "display_name": "P", "team_id": "t"}


def test_a_directory_record_with_bad_json_is_rejected_as_validation_failed() -> None:
    changes, (rejected,) = parse_directory([FakeRecord(b"{oops", key=b"p-1")])
    assert changes == [] and rejected.reason["code"] == "validation_failed"


def test_a_directory_key_mismatch_names_the_field_not_the_ids() -> None:
    record = FakeRecord(json.dumps(PERSON).encode(), key=b"SECRET-KEY-9")
    _, (rejected,) = parse_directory([record])
    assert rejected.reason["code"] == "key_mismatch"
    assert "SECRET-KEY-9" not in reasons([rejected]) and "p-1" not in reasons([rejected])


def test_a_directory_rejection_reason_never_echoes_the_submitted_timezone() -> None:
    payload = {**PERSON, "timezone": "SECRET/Zone-123"}
    _, (rejected,) = parse_directory([FakeRecord(json.dumps(payload).encode(), key=b"p-1")])
    assert rejected.reason["errors"][0]["loc"] == ["timezone"]
    assert "SECRET/Zone-123" not in reasons([rejected])


# Dead letters ----------------------------------------------------------------------


async def test_dead_letters_keep_key_bytes_and_headers_and_say_why() -> None:
    producer = FakeProducer()
    record = FakeRecord(
        b"{broken",
        key=b"p-1",
        headers=[("ce_id", b"c-1"), ("traceparent", b"00-1-2-01")],
        partition=3,
        offset=42,
    )
    reason = {"code": "validation_failed", "errors": [{"loc": ["mood"]}]}
    await DeadLetters(cast(Any, producer), "checkin.submissions").send([Rejected(record, reason)])
    (sent,) = producer.sent
    assert (sent.topic, sent.key, sent.value) == (
        "wellbeing.checkins.submitted.dlq",
        b"p-1",
        b"{broken",
    )
    headers = dict(sent.headers)
    assert sent.headers[:2] == record.headers
    assert json.loads(headers["kinship-dlq-reason"]) == reason
    assert headers["kinship-dlq-code"] == b"validation_failed"
    assert headers["kinship-dlq-topic"] == b"wellbeing.checkins.submitted"
    assert headers["kinship-dlq-partition"] == b"3"
    assert headers["kinship-dlq-offset"] == b"42"
    assert headers["kinship-dlq-consumer"] == b"checkin.submissions"
    assert "kinship-dlq-sealed" not in headers


async def test_sealed_dead_letters_hide_the_note_but_open_to_the_exact_original_bytes() -> None:
    cipher = NoteCipher({"dlq-key": b"d" * 32}, "dlq-key")
    producer = FakeProducer()
    original = encode(checkin("c-1", mood=0, note=PLANTED))
    record = FakeRecord(original, partition=1, offset=9)
    _, rejected = parse_records([record], CheckinSubmitted)
    await DeadLetters(cast(Any, producer), "c", seal=cipher.seal_bytes).send(rejected)
    (sent,) = producer.sent
    assert sent.value is not None and PLANTED.encode() not in sent.value
    assert all(PLANTED.encode() not in value for _, value in sent.headers)
    key_id = dict(sent.headers)["kinship-dlq-sealed"].decode()
    assert dead_letter_aad(record) == "wellbeing.checkins.submitted:1:9"
    assert cipher.open_bytes(key_id, sent.value, dead_letter_aad(record)) == original


async def test_nothing_to_dead_letter_sends_nothing() -> None:
    producer = FakeProducer()
    await DeadLetters(cast(Any, producer), "c").send([])
    assert producer.sent == []


# Storing batches ----------------------------------------------------------------------


async def test_a_batch_the_store_refuses_is_retried_record_by_record_isolating_the_poison() -> None:
    stored: list[list[str]] = []

    async def store(items: Sequence[str]) -> None:
        if "poison" in items:
            raise ValueError("refused")
        stored.append(list(items))

    records = {name: FakeRecord(name.encode()) for name in ["a", "poison", "b"]}
    rejected = await store_or_dead_letter(list(records), store, records.__getitem__, "test")
    assert stored == [["a"], ["b"]]
    assert [r.record for r in rejected] == [records["poison"]]
    assert rejected[0].reason == {"code": "processing_failed", "errors": [{"msg": "ValueError"}]}


async def test_a_database_error_on_one_record_is_isolated_too() -> None:
    async def store(items: Sequence[str]) -> None:
        if "bad" in items:
            raise asyncpg.exceptions.CheckViolationError("violates check")

    record = FakeRecord(b"bad")
    rejected = await store_or_dead_letter(["ok", "bad"], store, lambda _: record, "test")
    assert rejected[0].reason["errors"] == [{"msg": "CheckViolationError"}]


async def test_an_empty_batch_is_not_stored() -> None:
    async def store(items: Sequence[str]) -> None:
        raise AssertionError("must not be called")

    assert await store_or_dead_letter([], store, lambda _: FakeRecord(None), "test") == []


async def test_outages_are_waited_out_with_capped_exponential_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays: list[float] = []

    async def no_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr("kinship_runtime.ingestion.asyncio.sleep", no_sleep)
    failures = iter([OSError()] * 8)

    async def operation() -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    await until_stored(operation, "test")
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]


async def test_a_non_transient_error_is_not_retried_by_until_stored() -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad record")

    with pytest.raises(ValueError, match="bad record"):
        await until_stored(operation, "test")
    assert calls == 1

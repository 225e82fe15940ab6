"""Dead letters keep the original record and say why (kinship_runtime.dead_letters)."""

import json
from typing import Any, cast

from kinship_checkin.domain.privacy import NoteCipher
from kinship_contracts.checkins import CheckinSubmitted
from kinship_runtime.dead_letters import DeadLetters, dead_letter_aad
from kinship_runtime.records import Rejected, parse_records
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.kafka import FakeProducer, FakeRecord

PLANTED = "SECRET-NOTE-123"


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
    _, rejected = parse_records(CheckinSubmitted)([record])
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

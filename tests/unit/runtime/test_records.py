"""Validating consumed records into events or rejections (kinship_runtime.records)."""

import json
from collections.abc import Sequence
from typing import Any

import pytest

from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.envelope import cloud_event_headers
from kinship_contracts.kudos import KudosSubmitted
from kinship_runtime.records import Rejected, parse_directory, parse_records, tolerant_parser
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.kafka import FakeRecord

PLANTED = "SECRET-NOTE-123"


def reasons(rejected: Sequence[Rejected]) -> str:
    return json.dumps([item.reason for item in rejected])


def test_good_json_is_accepted_with_its_record() -> None:
    record = FakeRecord(encode(checkin("c-1", note=PLANTED)), offset=7)
    accepted, rejected = parse_records(CheckinSubmitted)([record])
    assert rejected == []
    assert accepted[0].record is record
    assert accepted[0].event.note == PLANTED


@pytest.mark.parametrize(
    "value",
    [b"{not json", b"", b"null", b"[]", b'"a string"', b"\xff\xfe\x00", b'{"id": "c-1"'],
    ids=["broken", "empty", "null", "array", "string", "not-utf8", "truncated"],
)
def test_bad_json_is_rejected_as_validation_failed(value: bytes) -> None:
    accepted, rejected = parse_records(CheckinSubmitted)([FakeRecord(value)])
    assert accepted == []
    assert rejected[0].reason["code"] == "validation_failed"
    assert rejected[0].reason["errors"]


def test_a_tombstone_is_rejected_as_empty_value() -> None:
    _, rejected = parse_records(CheckinSubmitted)([FakeRecord(None)])
    assert rejected[0].reason == {"code": "empty_value", "errors": []}


def test_accepted_and_rejected_keep_the_batch_order() -> None:
    records = [FakeRecord(encode(checkin(f"c-{n}", mood=n)), offset=n) for n in range(1, 8)]
    accepted, rejected = parse_records(CheckinSubmitted)(records)
    assert [a.record.offset for a in accepted] == [1, 2, 3, 4, 5]
    assert [r.record.offset for r in rejected] == [6, 7]


def test_the_reason_lists_each_failing_field_location_but_never_the_submitted_values() -> None:
    payload = checkin(
        "c-1",
        mood=9,
        note=PLANTED * 200,
        who5=[1, 2, 77777, 4, 5],
        occurred_at="SECRET-TIME-456",
    )
    payload[PLANTED] = True  # an unknown field named by the sender
    _, (rejected,) = parse_records(CheckinSubmitted)([FakeRecord(encode(payload))])
    locations = sorted(tuple(error["loc"]) for error in rejected.reason["errors"])
    # An unknown field is named "<unknown>": its name is text the sender chose.
    assert locations == [
        ("<unknown>",),
        ("mood",),
        ("note",),
        ("occurred_at",),
        ("who5", 2),
    ]
    text = reasons([rejected])
    for secret in (PLANTED, "77777", "SECRET-TIME-456"):
        assert secret not in text
    assert all(set(error) == {"loc", "msg", "type"} for error in rejected.reason["errors"])


def test_a_nul_in_a_note_is_reported_without_the_note() -> None:
    _, (rejected,) = parse_records(CheckinSubmitted)(
        [FakeRecord(encode(checkin("c-1", note=PLANTED + "\x00")))]
    )
    assert rejected.reason["errors"][0]["loc"] == ["note"]
    assert PLANTED not in reasons([rejected])


def test_a_ce_id_header_differing_from_the_payload_id_is_rejected_without_either_id() -> None:
    record = FakeRecord(encode(checkin("payload-id-1")), headers=[("ce_id", b"header-id-2")])
    accepted, (rejected,) = parse_records(CheckinSubmitted)([record])
    assert accepted == []
    assert rejected.reason == {
        "code": "id_mismatch",
        "errors": [{"loc": ["id"], "msg": "ce_id header differs from payload id"}],
    }
    assert "payload-id-1" not in reasons([rejected])
    assert "header-id-2" not in reasons([rejected])


def test_a_ce_id_header_that_is_not_utf8_is_a_mismatch_not_a_crash() -> None:
    record = FakeRecord(encode(checkin("c-1")), headers=[("ce_id", b"\xff\xfe")])
    _, (rejected,) = parse_records(CheckinSubmitted)([record])
    assert rejected.reason["code"] == "id_mismatch"


def test_a_record_without_headers_takes_its_event_id_from_the_payload() -> None:
    accepted, rejected = parse_records(CheckinSubmitted)(
        [FakeRecord(encode(checkin("payload-id")), headers=[])]
    )
    assert rejected == []
    assert [item.event.id for item in accepted] == ["payload-id"]


def test_a_record_with_cloudevents_headers_and_a_matching_ce_id_is_accepted() -> None:
    headers = cloud_event_headers(
        "c-9", "hr", "kinship.checkin.submitted.v1", "2026-11-24T09:30:00+01:00"
    )
    accepted, rejected = parse_records(CheckinSubmitted)(
        [FakeRecord(encode(checkin("c-9")), headers=headers)]
    )
    assert [item.event.id for item in accepted] == ["c-9"] and rejected == []


def test_an_invalid_payload_is_a_validation_failure_even_when_ce_id_differs() -> None:
    record = FakeRecord(encode(checkin("c-1", mood=0)), headers=[("ce_id", b"other")])
    _, (rejected,) = parse_records(CheckinSubmitted)([record])
    assert rejected.reason["code"] == "validation_failed"


def test_other_headers_do_not_affect_parsing() -> None:
    record = FakeRecord(
        encode(checkin("c-1")), headers=[("traceparent", b"00-1-2-01"), ("ce_source", b"hr")]
    )
    accepted, rejected = parse_records(CheckinSubmitted)([record])
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
    accepted, rejected = parse_records(KudosSubmitted)([record])
    assert [a.event.id for a in accepted] == ["k-1"] and rejected == []


# directory.people ---------------------------------------------------------------

PERSON = {"person_id": "p-1", "display_name": "P", "team_id": "t"}


def test_a_directory_batch_splits_into_upserts_removals_and_rejections_in_order() -> None:
    person = json.dumps(PERSON).encode()
    changes, rejected = parse_directory(
        [
            FakeRecord(person, key=b"p-1"),
            FakeRecord(None, key=b"p-2"),
            FakeRecord(person, key=b"p-3"),
            FakeRecord(b"{}", key=None),  # the missing key is reported before the bad body
        ]
    )
    assert [(c.event.person_id, c.event.person is None) for c in changes] == [
        ("p-1", False),
        ("p-2", True),
    ]
    assert changes[0].event.person is not None and changes[0].event.person.team_id == "t"
    assert [r.reason["code"] for r in rejected] == ["key_mismatch", "missing_key"]


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


def test_a_directory_tombstone_is_a_removal_and_a_missing_key_is_rejected() -> None:
    (removal,), _ = parse_directory([FakeRecord(None, key=b"p-1")])
    assert (removal.event.person_id, removal.event.person) == ("p-1", None)
    _, (rejected,) = parse_directory([FakeRecord(json.dumps(PERSON).encode(), key=None)])
    assert rejected.reason == {"code": "missing_key", "errors": []}


# Header decoding -------------------------------------------------------------------


async def test_a_header_that_is_not_utf8_reaches_validation_with_its_original_bytes() -> None:
    from aiokafka.structs import ConsumerRecord

    def record(offset: int, header: bytes) -> Any:
        return ConsumerRecord("t", 0, offset, 0, 0, b"k", b"{}", None, 1, 2, (("ce_id", header),))

    batch = (record(1, b"fine"), record(2, b"\xff\xfe bad"), record(3, b"fine"))
    decoded_by_faststream: list[Any] = []

    async def faststream_parser(message: Any) -> Any:
        for item in message:
            decoded_by_faststream.append({k: v.decode() for k, v in item.headers})

        class Parsed:
            raw_message: Any = None

        return Parsed()

    parsed = await tolerant_parser(batch, faststream_parser)
    # FastStream decodes the first record's headers only (nothing reads the others' decoded
    # copies), so a bad header further on cannot fail it; the batch survives whole
    assert decoded_by_faststream == [{"ce_id": "fine"}]
    assert parsed.raw_message is batch  # the originals, bytes untouched, go on
    assert batch[1].headers == (("ce_id", b"\xff\xfe bad"),)
    # a bad header on the first record reaches FastStream replaced, and the original stays
    decoded_by_faststream.clear()
    bad_first = (record(2, b"\xff\xfe bad"), record(3, b"fine"))
    parsed = await tolerant_parser(bad_first, faststream_parser)
    assert decoded_by_faststream == [{"ce_id": "\ufffd\ufffd bad"}]
    assert parsed.raw_message is bad_first
    assert bad_first[0].headers == (("ce_id", b"\xff\xfe bad"),)

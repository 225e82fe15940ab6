"""Found by the Kafka fuzz: a person id holding an unpaired surrogate (JSON ``"\\ud800"``)
or a NUL failed the whole batch's dead-lettering (PostgreSQL cannot store it as the
dead letter's person reference), so the consumer retried the batch forever."""

import json

from kinship_runtime.dead_letters import people_in
from tests.unit.fakes.kafka import FakeRecord


def test_unstorable_person_ids_name_nobody_and_the_storable_ones_are_kept() -> None:
    payload = {
        "person_id": "\ud800",
        "from_person_id": "a\x00b",
        "to_person_id": "person-7",
        "subject_id": "subj-\udfff-x",
    }
    record = FakeRecord(json.dumps(payload).encode(), key=b"k\x00ey")

    refs = people_in(record)

    assert refs == {"person-7"}
    for ref in refs:
        ref.encode()  # every reference is storable text


def test_a_key_that_is_not_utf8_is_kept_with_replacement_characters() -> None:
    record = FakeRecord(b"not json", key=b"\xff\xfeperson")

    assert people_in(record) == {"\ufffd\ufffdperson"}

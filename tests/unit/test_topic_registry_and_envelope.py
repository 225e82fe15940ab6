"""The topic registry (kinship_contracts.topics) and CloudEvents headers (envelope)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.envelope import CloudEventAttributes, cloud_event_headers
from kinship_contracts.topics import EVENT_TYPES, TOPICS, TopicSpec, dead_letter_topic, topic
from kinship_runtime.ingestion import parse_records
from kinship_runtime.settings import KinshipSettings
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.kafka import FakeRecord

SPEC_INGESTION = {
    "wellbeing.checkins.submitted": "person_id",
    "wellbeing.signals.submitted": "person_id or team_id",
    "directory.people": "person_id",
    "recognition.kudos.submitted": "to_person_id",
    # Listed among the spec's platform topics, but written by other systems (the HR portal)
    # as well as by Kinship's own endpoint: validated and dead-lettered like any ingestion.
    "privacy.erasure.requested": "person_id",
}
ADDED_INGESTION = {"programme.pulse.submitted": "person_id"}
"""Ingestion topics Kinship adds to the spec's (docs/decisions.md): additions only."""
SPEC_PLATFORM = {
    "wellbeing.checkins.recorded",
    "escalation.cases",
    "notifications.requests",
    "notifications.receipts",
    "recognition.awards",
}


def test_the_ingestion_topics_are_the_specs_with_their_keys_plus_documented_additions() -> None:
    registered = {spec.name: spec.key for spec in TOPICS if spec.ingestion}
    assert registered == SPEC_INGESTION | ADDED_INGESTION


def test_every_platform_topic_of_the_spec_is_registered() -> None:
    registered = {spec.name for spec in TOPICS if not spec.ingestion}
    assert registered >= SPEC_PLATFORM


@pytest.mark.parametrize("spec", [s for s in TOPICS if s.ingestion], ids=lambda s: s.name)
def test_every_ingestion_topic_dead_letters_to_topic_dot_dlq(spec: TopicSpec) -> None:
    assert spec.dead_letter == f"{spec.name}.dlq"
    assert dead_letter_topic(spec.name) == f"{spec.name}.dlq"


def test_topic_names_are_unique_and_no_name_is_a_dead_letter_topic() -> None:
    names = [spec.name for spec in TOPICS]
    assert len(names) == len(set(names))
    assert not any(name.endswith(".dlq") for name in names)


def test_event_types_are_unique_and_versioned() -> None:
    types = [spec.event_type for spec in EVENT_TYPES]
    assert len(types) == len(set(types))
    assert all(t.startswith("kinship.") and t.rsplit(".", 1)[-1] == "v1" for t in types)


def test_directory_people_is_the_only_compacted_topic_and_has_no_retention_limit() -> None:
    assert [spec.name for spec in TOPICS if spec.compacted] == ["directory.people"]
    config = topic("directory.people").config()
    assert config["cleanup.policy"] == "compact"
    assert "retention.ms" not in config


def test_other_topics_delete_after_their_retention() -> None:
    config = topic("wellbeing.checkins.recorded").config()
    assert config == {"cleanup.policy": "delete", "retention.ms": str(30 * 24 * 3600 * 1000)}
    assert topic("wellbeing.checkins.submitted").config()["retention.ms"] == str(
        7 * 24 * 3600 * 1000
    )


def test_checkins_are_keyed_by_person_on_the_way_in_and_by_subject_on_the_way_out() -> None:
    assert topic("wellbeing.checkins.submitted").key == "person_id"
    assert topic("wellbeing.checkins.recorded").key == "subject_id"
    assert topic("wellbeing.checkins.urgent").key == "subject_id"


def test_an_unknown_topic_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"directory\.people"):
        topic("wellbeing.checkins.submited")


def test_the_environment_prefix_applies_to_physical_topic_names() -> None:
    settings = KinshipSettings(topic_prefix="test-42.")
    assert settings.topic(topic("directory.people")) == "test-42.directory.people"
    assert settings.topic("wellbeing.checkins.submitted") == "test-42.wellbeing.checkins.submitted"


# CloudEvents ---------------------------------------------------------------

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=timezone(timedelta(hours=1)))


def test_binary_mode_headers_are_the_six_cloudevents_headers_in_order() -> None:
    headers = cloud_event_headers("e-1", "kinship/checkin", "kinship.x.v1", NOW.isoformat())
    assert headers == [
        ("ce_id", b"e-1"),
        ("ce_source", b"kinship/checkin"),
        ("ce_type", b"kinship.x.v1"),
        ("ce_specversion", b"1.0"),
        ("ce_time", b"2026-11-24T09:30:00+01:00"),
        ("content-type", b"application/json"),
    ]


def test_attributes_round_trip_through_headers_keeping_the_offset() -> None:
    attributes = CloudEventAttributes(id="e-1", source="hr", type="kinship.x.v1", time=NOW)
    back = CloudEventAttributes.from_headers(dict(attributes.to_headers()))
    assert back == attributes
    assert back is not None and back.time is not None
    assert back.time.utcoffset() == timedelta(hours=1)


def test_extra_headers_are_appended_after_the_cloudevents_ones() -> None:
    attributes = CloudEventAttributes(id="e-1", source="hr", type="t", time=NOW)
    headers = attributes.to_headers([("traceparent", b"00-abc-def-01")])
    assert headers[-1] == ("traceparent", b"00-abc-def-01")
    assert headers[0][0] == "ce_id"


def test_headers_without_ce_id_mean_no_attributes() -> None:
    assert CloudEventAttributes.from_headers({"ce_source": b"x", "ce_time": b"2026"}) is None


def test_missing_source_type_and_specversion_default_when_ce_id_is_present() -> None:
    attributes = CloudEventAttributes.from_headers(
        {"ce_id": b"e-1", "ce_time": b"2026-11-24T09:30:00Z"}
    )
    assert attributes is not None
    assert (attributes.source, attributes.type, attributes.specversion) == (
        "unknown",
        "unknown",
        "1.0",
    )
    assert attributes.time == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def test_cloudevents_time_needs_an_offset() -> None:
    with pytest.raises(ValidationError):
        CloudEventAttributes(id="e-1", source="s", type="t", time=datetime(2026, 1, 1))


def test_headers_with_only_the_required_cloudevents_attributes_are_read() -> None:
    headers = {"ce_id": b"e-1", "ce_source": b"hr", "ce_type": b"t", "ce_specversion": b"1.0"}
    attributes = CloudEventAttributes.from_headers(headers)
    assert attributes is not None and attributes.id == "e-1"


def test_a_record_without_headers_takes_its_event_id_from_the_payload() -> None:
    accepted, rejected = parse_records(
        [FakeRecord(encode(checkin("payload-id")), headers=[])], CheckinSubmitted
    )
    assert rejected == []
    assert [item.event.id for item in accepted] == ["payload-id"]


def test_a_record_with_matching_ce_id_is_accepted() -> None:
    headers = cloud_event_headers("c-9", "hr", "kinship.checkin.submitted.v1", NOW.isoformat())
    accepted, rejected = parse_records(
        [FakeRecord(encode(checkin("c-9")), headers=headers)], CheckinSubmitted
    )
    assert [item.event.id for item in accepted] == ["c-9"] and rejected == []


def test_a_malformed_cloudevents_time_is_a_validation_error() -> None:
    headers = {"ce_id": b"e-1", "ce_source": b"hr", "ce_type": b"t", "ce_time": b"yesterday"}
    with pytest.raises(ValidationError):
        CloudEventAttributes.from_headers(headers)


def test_attributes_without_a_time_write_no_ce_time_header() -> None:
    headers = dict(CloudEventAttributes(id="e-1", source="hr", type="t").to_headers())
    assert "ce_time" not in headers and headers["ce_id"] == b"e-1"

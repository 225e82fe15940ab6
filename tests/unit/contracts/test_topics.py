"""The topic registry (kinship_contracts.topics): names, keys, storage and dead letters."""

import pytest

from kinship_contracts.topics import EVENT_TYPES, TOPICS, TopicSpec, dead_letter_topic, topic

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


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_every_topic_dead_letters_to_topic_dot_dlq(spec: TopicSpec) -> None:
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


def test_compacted_topics_forget_an_erased_record_within_a_day_and_keep_no_retention() -> None:
    assert [spec.name for spec in TOPICS if spec.compacted] == [
        "directory.people",
        "privacy.outreach.preferences",
    ]
    for name in ("directory.people", "privacy.outreach.preferences"):
        config = topic(name).config()
        assert config["cleanup.policy"] == "compact"
        assert "retention.ms" not in config
        assert int(config["max.compaction.lag.ms"]) <= 86_400_000
        assert int(config["delete.retention.ms"]) <= 86_400_000


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
    with pytest.raises(KeyError, match=r"known topics: .*directory\.people"):
        topic("wellbeing.checkins.submited")


ERASURE_TIMED = {
    "wellbeing.checkins.submitted",  # check-in service: skip_replayed
    "wellbeing.signals.submitted",  # escalation: skip_replayed
    "recognition.kudos.submitted",  # recognition: skip_replayed (consumer kudos)
    "programme.pulse.submitted",  # recognition: skip_replayed (consumer pulse)
    "escalation.cases",  # recognition: replayed_responder
    "notifications.requests",  # notifications: screen_erased (requests to a person)
}
"""The topics whose record timestamps an erasure's skip rule compares with the erasure's time
(``handlers/erasure.py`` of checkin, escalation, recognition and notifications)."""


def test_the_broker_stamps_every_ingestion_topic_and_every_topic_a_skip_rule_times() -> None:
    stamped = {
        spec.name
        for spec in TOPICS
        if spec.config().get("message.timestamp.type") == "LogAppendTime"
    }
    assert stamped == {spec.name for spec in TOPICS if spec.ingestion} | ERASURE_TIMED
    assert all(spec.log_append_time == (spec.name in stamped) for spec in TOPICS)


def test_topics_no_skip_rule_times_keep_the_producers_timestamps() -> None:
    config = topic("wellbeing.checkins.recorded").config()
    assert "message.timestamp.type" not in config  # the broker's default: CreateTime


def test_the_event_types_sharing_a_topic_share_its_config() -> None:
    for spec in EVENT_TYPES:
        assert spec.config() == topic(spec.name).config(), spec.event_type


def test_a_compacted_ingestion_topic_is_stamped_by_the_broker_and_still_compacted() -> None:
    config = topic("directory.people").config()
    assert config["message.timestamp.type"] == "LogAppendTime"
    assert config["cleanup.policy"] == "compact"

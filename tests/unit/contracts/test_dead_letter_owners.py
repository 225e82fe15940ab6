"""Across the four services: every consumed topic has exactly one dead-letter owner, and it
is one of the services that consume it (so a bad record gives one dead letter, never two or
none)."""

from collections import defaultdict
from typing import Any

from kinship_checkin.entrypoints.consumers import SUBSCRIPTIONS as CHECKIN
from kinship_contracts.topics import TOPICS
from kinship_escalation.entrypoints.consumers import SUBSCRIPTIONS as ESCALATION
from kinship_notifications.entrypoints.consumers import RequestSignatures, subscriptions
from kinship_recognition.entrypoints.consumers import SUBSCRIPTIONS as RECOGNITION
from kinship_runtime.ingest import Subscription

SERVICES: dict[str, tuple[Subscription[Any], ...]] = {
    "checkin": CHECKIN,
    "escalation": ESCALATION,
    "notifications": subscriptions(RequestSignatures(b"k" * 32)),
    "recognition": RECOGNITION,
}


def consumers_by_topic() -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for service, subscribed in SERVICES.items():
        for subscription in subscribed:
            found[subscription.topic.name].add(service)
    return found


def test_every_consumed_topic_is_dead_lettered_by_exactly_one_of_its_consumers() -> None:
    owners = {spec.name: spec.dead_letter_owner for spec in TOPICS}
    for topic, services in consumers_by_topic().items():
        assert owners[topic] in services, f"{topic}: owner {owners[topic]} consumes it not"


def test_topics_nobody_consumes_name_no_owner() -> None:
    consumed = consumers_by_topic()
    for spec in TOPICS:
        if spec.name not in consumed:
            assert spec.dead_letter_owner is None, spec.name


def test_specs_sharing_a_topic_agree_on_its_owner() -> None:
    owners: dict[str, set[str | None]] = defaultdict(set)
    for spec in TOPICS:
        owners[spec.name].add(spec.dead_letter_owner)
    assert all(len(named) == 1 for named in owners.values()), owners

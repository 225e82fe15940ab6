"""Topic provisioning on the real broker (``kinship_runtime.kafka.ensure_topics``): a topic
created before a registry change gets the registry's settings at the next start, keeping its
other settings, as Strimzi gives them to a KafkaTopic; a back-dated record on an ingestion
topic is then stamped with the broker's clock (``message.timestamp.type=LogAppendTime``)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_SUBMITTED
from kinship_runtime.kafka import ensure_topics, reconcile_topic_configs
from kinship_runtime.settings import KinshipSettings
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration


async def settings_of(
    admin: AIOKafkaAdminClient, name: str, until: tuple[str, str] | None = None
) -> dict[str, str]:
    """The topic's settings; with ``until`` (key, value), once it has that (10 s: a change
    reaches the broker's metadata a moment after it is accepted)."""
    found: dict[str, str] | None = None
    for _ in range(100):
        found = await _settings_of(admin, name)
        if found is not None and (until is None or found.get(until[0]) == until[1]):
            break
        await asyncio.sleep(0.1)
    assert found is not None, f"the broker never described {name}"
    return found


async def _settings_of(admin: AIOKafkaAdminClient, name: str) -> dict[str, str] | None:
    """The topic's settings, or None while the broker does not know it yet (error 3,
    UNKNOWN_TOPIC_OR_PARTITION: a topic just created reaches every broker's metadata a
    moment later, longer on a loaded machine)."""
    (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    ((error_code, _, _, _, entries),) = response.resources
    if error_code == 3:
        return None
    assert error_code == 0
    return {entry[0]: entry[1] for entry in entries}


async def test_a_topic_created_before_the_registry_change_is_brought_to_it_at_the_next_start(
    endpoints: Endpoints, topics: str
) -> None:
    settings = KinshipSettings(
        env="dev", kafka_bootstrap_servers=endpoints.bootstrap_servers, topic_prefix=topics
    )
    submitted, recorded = settings.topic(CHECKINS_SUBMITTED), settings.topic(CHECKINS_RECORDED)
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    try:
        # As an older release created it: the producer's timestamps, an operator's setting.
        old = {
            "cleanup.policy": "delete",
            "retention.ms": "604800000",
            "max.message.bytes": "2000000",
        }
        await admin.create_topics([NewTopic(submitted, 3, 1, topic_configs=old)])
        assert (await settings_of(admin, submitted))["message.timestamp.type"] == "CreateTime"

        await ensure_topics(settings, [CHECKINS_SUBMITTED, CHECKINS_RECORDED])

        stamped = ("message.timestamp.type", "LogAppendTime")
        now = await settings_of(admin, submitted, until=stamped)
        assert now["message.timestamp.type"] == "LogAppendTime"
        assert now["max.message.bytes"] == "2000000"  # its own setting kept
        assert now["retention.ms"] == CHECKINS_SUBMITTED.config()["retention.ms"]
        assert (await settings_of(admin, recorded))["message.timestamp.type"] == "CreateTime"
        # Already as the registry says: nothing to alter.
        present = {submitted: CHECKINS_SUBMITTED.config(), recorded: CHECKINS_RECORDED.config()}
        assert await reconcile_topic_configs(admin, present) == []
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=endpoints.bootstrap_servers, acks="all")
    await producer.start()
    try:
        back_dated = datetime.now(UTC) - timedelta(days=2)
        before = datetime.now(UTC)
        sent = await producer.send_and_wait(
            submitted, b"{}", key=b"ann", timestamp_ms=int(back_dated.timestamp() * 1000)
        )
        kept = await producer.send_and_wait(
            recorded, b"{}", key=b"s", timestamp_ms=int(back_dated.timestamp() * 1000)
        )
    finally:
        await producer.stop()
    assert sent.timestamp_type == 1  # LogAppendTime
    assert datetime.fromtimestamp(sent.timestamp / 1000, UTC) >= before - timedelta(seconds=1)
    assert kept.timestamp_type == 0 and kept.timestamp == int(back_dated.timestamp() * 1000)

"""Test helpers that read and write Kafka topics with a plain aiokafka client."""

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata


async def read_all(bootstrap: str, topic: str, expect: int = 0, timeout: float = 15.0) -> list[Any]:
    """Every record of ``topic`` from the beginning; waits until ``expect`` arrived (or timeout)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        partitions: set[int] | None = None
        while partitions is None:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                if asyncio.get_running_loop().time() > deadline:
                    return []
                await asyncio.sleep(0.2)
        assignment = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assignment)
        await consumer.seek_to_beginning(*assignment)
        records: list[Any] = []
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for items in batch.values():
                records.extend(items)
            if expect and len(records) >= expect:
                # read a little longer to catch duplicates
                more = await consumer.getmany(timeout_ms=500)
                for items in more.values():
                    records.extend(items)
                break
        return records
    finally:
        await consumer.stop()


async def publish(
    bootstrap: str,
    topic: str,
    messages: Sequence[tuple[bytes | None, bytes | None]],
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish (key, value) pairs as another internal system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value in messages
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def checkin(id_: str, person: str = "person-1", **fields: Any) -> dict[str, Any]:
    """A valid check-in payload."""
    payload: dict[str, Any] = {
        "id": id_,
        "person_id": person,
        "occurred_at": "2026-11-20T09:30:00+01:00",
        "source": "tests",
        "mood": 3,
    }
    payload.update(fields)
    return payload


def encode(payload: dict[str, Any]) -> bytes:
    """JSON bytes of a payload."""
    return json.dumps(payload).encode()


async def reset_to_start(bootstrap: str, group: str, topic: str) -> int:
    """Commit offset 0 on every partition of ``topic`` for ``group`` (its consumers stopped),
    as an operator's offset reset does; how many partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in assignment})
        return len(assignment)
    finally:
        await consumer.stop()

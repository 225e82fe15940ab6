"""Every consumer deduplicates (issue 14): the outbox publishes at least once (a record may
be published again around a PostgreSQL restart or a crash), and a broker may redeliver.

A small history goes through the whole platform first (check-ins over HTTP and Kafka, a
weekly streak, a critical check-in that opens a case, alerts a responder and is acknowledged
through its link, kudos that earn an award and a celebration). Then every record of every
topic (the platform's own events and the ingestion topics alike) is published twice more, in
its original partition and order. Afterwards nothing has changed: the same rows in every
service's tables, no new event on any topic beyond the replayed copies, and nothing new at the
webhook receiver.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.chaos.harness import AUTH
from tests.chaos.inprocess import InProcessPlatform, running_platform
from tests.conftest import Endpoints
from tests.escalation_support import bearer, encode_person
from tests.kafka_reading import checkin, encode, publish, read_all
from tests.notifications_support import kudos
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.chaos

SERVICES = ("checkin", "escalation", "notifications", "recognition")
NOT_EFFECTS = frozenset({"dead_letter_keys", "dead_letter_key_people"})
"""Tables that grow when a replayed invalid record is dead-lettered again (a new sealed
copy): not an effect of the event."""


async def table_counts(platform: InProcessPlatform) -> dict[str, int]:
    """Row counts of every table of every service."""
    counts: dict[str, int] = {}
    for service in SERVICES:
        tables = await platform.rows(
            service,
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
            platform.schema(service),
        )
        for row in tables:
            name = row["table_name"]
            if name not in NOT_EFFECTS:
                counts[f"{service}.{name}"] = await platform.count(
                    service, f'SELECT count(*) FROM "{name}"'
                )
    return counts


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Records on each topic (the sum of its partitions' end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        totals: dict[str, int] = {}
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            totals[topic] = sum(ends.values())
        return totals
    finally:
        await consumer.stop()


async def platform_topics(platform: InProcessPlatform) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.bootstrap)
    await consumer.start()
    try:
        prefix = platform.topic("")
        return sorted(
            t for t in await consumer.topics() if t.startswith(prefix) and not t.endswith(".dlq")
        )
    finally:
        await consumer.stop()


async def replay(bootstrap: str, topic: str, times: int) -> int:
    """Publish every record of ``topic`` again, ``times`` times, to its own partition."""
    records = await read_all(bootstrap, topic, timeout=3)
    by_partition: dict[int, list[Any]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for _ in range(times):
            for partition, items in by_partition.items():
                for record in sorted(items, key=lambda r: r.offset):
                    futures.append(
                        await producer.send(
                            topic,
                            value=record.value,
                            key=record.key,
                            partition=partition,
                            headers=list(record.headers),
                        )
                    )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(records)


async def quiet(platform: InProcessPlatform, since: datetime, timeout: float = 60.0) -> None:
    """Until every consumer caught up, no outbox row waits and no delivery made ``since``
    is pending (the shared platform's earlier tests leave deliveries to closed ports)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        behind = await platform.settle(timeout=10)
        waiting = sum([await platform.count(s, "SELECT count(*) FROM outbox") for s in SERVICES])
        pending = await platform.count(
            "notifications",
            "SELECT count(*) FROM deliveries WHERE status = 'pending' AND created_at >= $1",
            since,
        )
        if not behind and not waiting and not pending:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the platform did not settle: {behind}, {waiting}, {pending}")


@pytest.fixture
async def own_platform(
    service_env: dict[str, str], endpoints: Endpoints
) -> AsyncIterator[InProcessPlatform]:
    """The four services for this test alone. On the package's shared platform the critical
    case could be routed to another test's idle responder (alerts go to the least loaded
    one), and the replay would count other tests' late effects as its own."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        async with running_platform(service_env, endpoints, monkeypatch) as running:
            yield running


async def test_every_record_published_twice_more_changes_nothing(
    own_platform: InProcessPlatform, webhooks: WebhookReceiver
) -> None:
    platform = own_platform
    started = datetime.now(UTC)
    tag = f"r{uuid.uuid4().hex[:6]}-"
    responder, team = f"{tag}resp", f"{tag}team"
    people = [f"{tag}p{i}" for i in range(6)]
    await publish(
        platform.bootstrap,
        platform.topic("directory.people"),
        [
            encode_person(
                responder, f"{tag}other", {"webhook": webhooks.url(responder)}, "peer_responder"
            ),
            *(encode_person(p, team, {"webhook": webhooks.url(p)}) for p in people),
        ],
    )
    like = tag + "%"
    directory = "SELECT count(*) FROM directory_people WHERE person_id LIKE $1"
    for service in SERVICES:
        assert await platform.wait_for(service, directory, 7, like) == 7

    checkins = platform.clients["checkin"]
    now = datetime.now(UTC)
    for week in range(4, 0, -1):  # a four-week streak
        at = (now - timedelta(weeks=week)).isoformat()
        body = checkin(f"{tag}w{week}", people[0], occurred_at=at, mood=4)
        assert (await checkins.post("/v1/checkins", json=body, headers=AUTH)).status_code == 202
    critical = checkin(f"{tag}crisis", people[1], phq9=[1, 1, 0, 0, 0, 0, 0, 0, 2])
    assert (await checkins.post("/v1/checkins", json=critical, headers=AUTH)).status_code == 202
    await publish(
        platform.bootstrap,
        platform.topic("wellbeing.checkins.submitted"),
        [(p.encode(), encode(checkin(f"{tag}k{i}", p, mood=2))) for i, p in enumerate(people)],
    )
    await publish(
        platform.bootstrap,
        platform.topic("recognition.kudos.submitted"),
        [
            (people[(i + 1) % 6].encode(), encode(kudos(f"{tag}ku{i}", p, people[(i + 1) % 6])))
            for i, p in enumerate(people)
        ],
    )
    deadline = asyncio.get_running_loop().time() + 60
    while not webhooks.accepted(responder) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    (alert,) = webhooks.accepted(responder)
    body = json.loads(alert.body)
    escalation = platform.clients["escalation"]
    link = body["ack_url"].removeprefix("http://escalation.test")
    assert (await escalation.post(link)).status_code == 200
    # Closed: a critical check-in evaluated again (were it not deduplicated) would open a
    # second case and page someone again.
    case = f"/v1/cases/{body['case_id']}"
    as_responder = bearer(responder)
    assert (await escalation.post(f"{case}/contact", headers=as_responder)).status_code == 200
    resolved = await escalation.post(
        f"{case}/resolve", json={"outcome": "supported"}, headers=as_responder
    )
    assert resolved.status_code == 200, resolved.text
    await quiet(platform, started)
    # Earlier tests on the shared platform leave deliveries to closed ports retrying; one that
    # fails for good would publish its receipt during the replay. Park them: this test counts
    # only what the replay itself may cause.
    await platform.rows(
        "notifications",
        "UPDATE deliveries SET next_attempt_at = now() + interval '1 day'"
        " WHERE status = 'pending' AND created_at < $1",
        started,
    )
    await quiet(platform, started)

    topics = await platform_topics(platform)
    before = await table_counts(platform)
    offsets = await end_offsets(platform.bootstrap, topics)
    seen_before = len(webhooks.received)
    assert before["escalation.cases"] >= 1 and offsets, "the history went through"
    await asyncio.sleep(2)
    assert await table_counts(platform) == before, "the platform is at rest before the replay"

    for topic in topics:
        await replay(platform.bootstrap, topic, times=2)
    await quiet(platform, started, timeout=120)
    await asyncio.sleep(2)  # a late effect would show now

    after = await table_counts(platform)
    changed = {
        name: (before[name], after.get(name)) for name in before if after.get(name) != before[name]
    }
    assert changed == {}, f"a replay had an effect: {changed}"
    offsets_after = await end_offsets(platform.bootstrap, topics)
    produced = {
        topic: offsets_after[topic] - 3 * offsets[topic]
        for topic in topics
        if offsets_after[topic] != 3 * offsets[topic]
    }
    assert produced == {}, f"a consumer published again after a replay: {produced}"
    assert webhooks.received[seen_before:] == [], "the receiver got nothing new"

"""The outbox relay over real PostgreSQL and Kafka: urgent rows are published first."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kinship_runtime.database import RUNTIME_MIGRATIONS, apply_migrations
from kinship_runtime.outbox import OutboxMessage, OutboxRelay, enqueue
from tests.conftest import Endpoints
from tests.database import schema_pool
from tests.kafka_reading import read_all

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(endpoints: Endpoints, database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema, with the runtime's migrations (the outbox) applied."""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await apply_migrations(conn, database, RUNTIME_MIGRATIONS, table="runtime_migrations")
    finally:
        await conn.close()
    async with schema_pool(endpoints, database) as pool:
        yield pool


@pytest.fixture
async def producer(endpoints: Endpoints, topics: str) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer, and this test's two one-partition topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(f"{topics}{name}", 1, 1) for name in ("ordinary", "urgent")]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=endpoints.bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def _message(topic: str, name: str, *, urgent: bool = False) -> OutboxMessage:
    return OutboxMessage(name, topic, b"same-key", name.encode(), urgent=urgent)


async def test_urgent_rows_overtake_the_backlog_which_keeps_its_order(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, endpoints: Endpoints, topics: str, database: str
) -> None:
    ordinary, urgent = f"{topics}ordinary", f"{topics}urgent"
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, [_message(ordinary, "a"), _message(ordinary, "b")])
    async with pool.acquire() as conn, conn.transaction():
        # The urgent lane: its own topic, and a row of the ordinary topic marked urgent.
        await enqueue(
            conn,
            [
                _message(urgent, "u1", urgent=True),
                _message(ordinary, "c", urgent=True),
                _message(ordinary, "d"),
            ],
        )
    relay = OutboxRelay(pool, producer, database, batch_size=10)

    first = await relay.relay_once()

    assert first == 2  # the urgent rows alone, though older ordinary rows wait
    assert [r.value for r in await read_all(endpoints.bootstrap_servers, urgent, 1)] == [b"u1"]
    assert [r.value for r in await read_all(endpoints.bootstrap_servers, ordinary, 1)] == [b"c"]

    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0
    published = await read_all(endpoints.bootstrap_servers, ordinary, 4)
    assert [r.value for r in published] == [b"c", b"a", b"b", b"d"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_batch_of_urgent_rows_is_bounded_and_ordered(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, endpoints: Endpoints, topics: str, database: str
) -> None:
    urgent = f"{topics}urgent"
    names = [f"u{index}" for index in range(5)]
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, [_message(f"{topics}ordinary", "old")])
        await enqueue(conn, [_message(urgent, name, urgent=True) for name in names])
    relay = OutboxRelay(pool, producer, database, batch_size=2)

    counts = [await relay.relay_once() for _ in range(4)]

    # Two urgent rows; then, in turn, the two oldest (the ordinary row and u2); then the rest.
    assert counts == [2, 2, 2, 0]
    published = await read_all(endpoints.bootstrap_servers, urgent, 5)
    assert [r.value.decode() for r in published] == names


async def test_a_replica_that_does_not_lead_publishes_the_urgent_rows_only(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    endpoints: Endpoints,
    topics: str,
    database: str,
) -> None:
    # The leader is another process, busy (it holds the lock and publishes nothing).
    leader = await asyncpg.connect(endpoints.database_url)
    await leader.execute("SELECT pg_advisory_lock(hashtext($1))", f"outbox-relay:{database}")
    ordinary, urgent = f"{topics}ordinary", f"{topics}urgent"
    relay = OutboxRelay(pool, producer, database, poll_interval=0.1)
    relay.start()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, [_message(ordinary, "a"), _message(urgent, "u1", urgent=True)])
        relay.wake()  # as this process's commit does

        published = await read_all(endpoints.bootstrap_servers, urgent, 1)

        assert [r.value for r in published] == [b"u1"]
        async with pool.acquire() as conn:
            waiting = await conn.fetch("SELECT event_id FROM outbox ORDER BY seq")
        assert [row["event_id"] for row in waiting] == ["a"]  # the ordinary row is the leader's
    finally:
        await relay.stop()
        await leader.close()


async def test_a_flood_of_urgent_rows_slows_the_backlog_but_never_stops_it(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, endpoints: Endpoints, topics: str, database: str
) -> None:
    ordinary = f"{topics}ordinary"
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, [_message(ordinary, "o1"), _message(ordinary, "o2")])
        await enqueue(conn, [_message(ordinary, f"u{i}", urgent=True) for i in (1, 2, 3)])
    relay = OutboxRelay(pool, producer, database, batch_size=1)

    while await relay.relay_once():
        pass

    published = await read_all(endpoints.bootstrap_servers, ordinary, 5)
    # Urgent first, then the oldest row, in turns, while both kinds wait.
    assert [r.value.decode() for r in published] == ["u1", "o1", "u2", "o2", "u3"]

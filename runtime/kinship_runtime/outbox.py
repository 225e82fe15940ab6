"""The transactional outbox: events written in the same transaction as the state they describe.

Writers insert rows into ``outbox`` inside their transaction (the runtime's own migration
creates the table in each service's schema, with a trigger that NOTIFYs ``kinship_outbox``
with the schema name). One relay per service (leader chosen with a PostgreSQL advisory lock,
so replicas stand by) claims a batch of rows in order by deleting them, publishes them with an
idempotent producer, and commits the delete only after the broker's acks. A crash before the
acks rolls the delete back, leaving the rows to be published again; a crash after the acks
but before the commit can publish a row twice, with the same event id, which consumers
deduplicate.
"""

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel

from kinship_contracts.envelope import cloud_event_headers
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, sign_request
from kinship_runtime.database import Connection, json_text
from kinship_runtime.kafka import KeyHashPartitioner
from kinship_runtime.telemetry import EVENTS_PRODUCED, trace_headers
from kinship_runtime.workers import SupervisedLoop

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "kinship_outbox"


@dataclass(frozen=True)
class OutboxMessage:
    """A Kafka record waiting in the outbox."""

    event_id: str
    topic: str
    key: bytes | None
    value: bytes | None
    """None is a tombstone: it removes ``key`` from a compacted topic."""
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    urgent: bool = False
    """The urgent lane: published before the backlog, by whichever replica comes first. An
    urgent row may overtake older rows of any kind (of its topic too); its order against
    other rows is not kept."""


def header_rows(headers: Sequence[tuple[str, bytes]]) -> list[list[str]]:
    """Headers as JSON-friendly pairs (values are UTF-8 text in Kinship)."""
    return [[name, value.decode()] for name, value in headers]


def event_message(
    topic: str,
    key: str,
    event: BaseModel,
    *,
    event_id: str,
    event_type: str,
    source: str,
    time: datetime,
) -> OutboxMessage:
    """An event as an outbox message with its CloudEvents headers."""
    return OutboxMessage(
        event_id=event_id,
        topic=topic,
        key=key.encode(),
        value=event.model_dump_json(exclude_none=True).encode(),
        headers=[
            *cloud_event_headers(event_id, source, event_type, time.isoformat()),
            *trace_headers(),
        ],
    )


def signed_request(message: OutboxMessage, key: bytes) -> OutboxMessage:
    """A ``notifications.requests`` message with the signature that proves a Kinship service
    produced it (header ``kinship-request-signature`` over the value, with
    ``KINSHIP_REQUEST_SIGNING_KEY``: ``settings.request_signing_secret()``). The notifications
    service dead-letters requests without a valid one and sends nothing.

    Sign the final value: a value changed afterwards no longer matches its signature.
    """
    if message.value is None:
        raise ValueError("a notification request has a value; tombstones are not signed")
    signature = sign_request(key, message.value).encode()
    headers = [(name, value) for name, value in message.headers if name != REQUEST_SIGNATURE_HEADER]
    return replace(message, headers=[*headers, (REQUEST_SIGNATURE_HEADER, signature)])


async def enqueue(conn: Connection, messages: Sequence[OutboxMessage]) -> None:
    """Add messages to the outbox inside the caller's transaction."""
    if messages:
        await conn.executemany(
            "INSERT INTO outbox (event_id, topic, key, value, headers, urgent)"
            " VALUES ($1, $2, $3, $4, $5::text::jsonb, $6)",
            [
                (m.event_id, m.topic, m.key, m.value, json_text(header_rows(m.headers)), m.urgent)
                for m in messages
            ],
        )


_CLAIM = (
    "DELETE FROM outbox WHERE seq = ANY(ARRAY("
    " SELECT seq FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED))"
    " RETURNING seq, topic, key, value, headers"
)
_CLAIM_URGENT = (
    "DELETE FROM outbox WHERE seq = ANY(ARRAY("
    " SELECT seq FROM outbox WHERE urgent ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED))"
    " RETURNING seq, topic, key, value, headers"
)


class OutboxRelay:
    """Publishes outbox rows to Kafka in order; one active relay per schema.

    Urgent rows go first: each batch is claimed from the urgent lane when a row waits there,
    so an immediate-risk event waits for at most the batch in flight, not for the backlog.
    Replicas that do not lead publish urgent rows too, woken by their own commits: an urgent
    row never waits for a leader busy in another process. Urgent rows therefore keep their
    order within a publisher's batch only; across replicas, and against ordinary rows, any
    order is possible (each urgent row is an independent immediate-risk check-in or urgent
    request, which consumers take in any order, once). The leader never claims two urgent
    batches in a row while other rows wait. ``may_lead=False`` makes a replica a standby for
    good (the urgent lane's own deployment: bulk publishing stays out of it).

    Runs as a ``SupervisedLoop``: each round makes sure this replica leads (a session advisory
    lock on a connection it keeps, which also LISTENs for new rows), then publishes until the
    outbox is empty. Losing the database or the broker ends the round; the loop waits the
    outage out and leads again.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        *,
        may_lead: bool = True,
        standby_publish_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._partitioner = KeyHashPartitioner()
        self._schema = schema
        self._batch_size = batch_size
        self._may_lead = may_lead
        self._standby_publish_seconds = standby_publish_seconds
        self._after_urgent = False
        self._leader: PoolConnectionProxy | None = None
        self._loop = SupervisedLoop(
            f"outbox-relay:{schema}", self._round, poll_seconds=poll_interval, logger=log
        )
        self.name = self._loop.name
        self.published = 0
        # Fault injection for crash tests: exit the process at a named point, like SIGKILL.
        self._fault = os.environ.get("KINSHIP_FAULT_INJECTION", "")

    def start(self) -> None:
        """Start relaying in the background."""
        self._loop.start()

    async def stop(self) -> None:
        """Finish the batch in progress (up to 10 s), then stop and give up leadership.

        Rows still waiting stay in the outbox for the next leader (or the next start).
        """
        self._loop.wake()
        await self._loop.stop(grace_seconds=10)
        await self._resign()

    def wake(self) -> None:
        """Nudge the relay after this process wrote rows (saves a NOTIFY round trip)."""
        self._loop.wake()

    def healthy(self) -> bool:
        """Whether the relay loop runs and is not stuck."""
        return self._loop.healthy()

    async def _round(self) -> bool:
        if not self._may_lead or not await self._lead():
            # A standby publishes the urgent lane at once (this process's commits wake it), so
            # an alert never waits for a leader busy with bulk work in another process. The
            # leader claims urgent rows too: whoever comes first (SKIP LOCKED) publishes. A
            # standby whose broker does not answer gives its claim up after a few seconds,
            # so the rows go back to the leader instead of waiting out the producer's timeout.
            async with asyncio.timeout(self._standby_publish_seconds):
                return await self.relay_once(urgent_only=True) > 0
        published = 0
        try:
            while count := await self.relay_once():
                published += count
                if self._loop.stopping.is_set():
                    break
        except Exception:
            await self._resign()
            raise
        return published > 0

    async def _lead(self) -> bool:
        if self._leader is not None:
            try:
                if not self._leader.is_closed():
                    return True
            except asyncpg.InterfaceError:
                # The server dropped the connection (a PostgreSQL restart) and the pool took
                # it back: the proxy refuses every call from now on. Without this the relay
                # failed here on every round, silently, until the process restarted.
                pass
            await self._resign()
        conn = await self._pool.acquire()
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self._lock):
                await self._pool.release(conn)
                return False
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException:
            await self._pool.release(conn)
            raise
        self._leader = conn
        return True

    async def _resign(self) -> None:
        conn, self._leader = self._leader, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", self._lock)
        with contextlib.suppress(Exception):
            await self._pool.release(conn)

    async def _publish(self, rows: list[asyncpg.Record]) -> list[asyncio.Future[Any]]:
        # One record batch per partition (in outbox order) costs far less than a send()
        # per message; partitions are chosen exactly as a keyed send() would.
        partitioner = self._partitioner
        open_batches: dict[tuple[str, int], Any] = {}
        sends: list[asyncio.Future[Any]] = []
        partitions_of: dict[str, list[int]] = {}
        for row in rows:
            topic, key = row["topic"], row["key"]
            if topic not in partitions_of:
                partitions_of[topic] = sorted(await self._producer.partitions_for(topic))
            partitions = partitions_of[topic]
            partition = partitioner(key, partitions, partitions)
            headers = [(name, value.encode()) for name, value in row["headers"]]
            batch = open_batches.get((topic, partition))
            if (
                batch is None
                or batch.append(key=key, value=row["value"], timestamp=None, headers=headers)
                is None
            ):
                if batch is not None:
                    sends.append(await self._producer.send_batch(batch, topic, partition=partition))
                batch = self._producer.create_batch()
                open_batches[(topic, partition)] = batch
                if (
                    batch.append(key=key, value=row["value"], timestamp=None, headers=headers)
                    is None
                ):
                    raise ValueError(f"outbox row {row['seq']} is larger than a record batch")
        for (topic, partition), batch in open_batches.items():
            sends.append(await self._producer.send_batch(batch, topic, partition=partition))
        produced: dict[str, int] = {}
        for row in rows:
            produced[row["topic"]] = produced.get(row["topic"], 0) + 1
        for topic, count in produced.items():
            EVENTS_PRODUCED.add(count, {"topic": topic})
        return sends

    @property
    def _lock(self) -> str:
        return f"outbox-relay:{self._schema}"

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if payload == self._schema:
            self._loop.wake()

    async def relay_once(self, *, urgent_only: bool = False) -> int:
        """Publish one batch, urgent rows first (only those with ``urgent_only``); returns
        how many rows were published (0 when none wait).

        A failed publish (broker away) raises and rolls the claim back: the rows stay, in
        order, and the supervising loop retries with backoff.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            # "= ANY(ARRAY(...))" keeps the primary-key index in every plan: with "IN
            # (subquery)" a generic plan cached while the table was empty turned into a
            # nested-loop sequential scan that stalled the relay for a minute under load.
            # The urgent lane first (its partial index: an empty probe when none waits).
            # After an urgent batch the next one is claimed in plain order, so a flood of
            # urgent rows (immediate-risk check-ins on an open topic) slows the backlog to
            # every other batch but never stops it.
            rows = []
            if urgent_only or not self._after_urgent:
                rows = await conn.fetch(_CLAIM_URGENT, self._batch_size)
            self._after_urgent = bool(rows) and not urgent_only
            if not rows and not urgent_only:
                rows = await conn.fetch(_CLAIM, self._batch_size)
            if not rows:
                return 0
            rows.sort(key=lambda row: row["seq"])
            if self._fault == "exit_before_publish":
                os._exit(137)
            sends = await self._publish(rows)
            await asyncio.gather(*sends)
            if self._fault == "exit_after_publish":
                os._exit(137)
        self.published += len(rows)
        return len(rows)

"""TRANSITIONAL (replaced by kinship_runtime.composition).

What every service shares to run: its core resources and ``python -m kinship_<service>``."""

import argparse
import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_contracts.topics import TOPICS, TopicSpec
from kinship_runtime.auth import Authenticator
from kinship_runtime.database import apply_migrations, create_pool
from kinship_runtime.ingestion import DeadLetters, Seal
from kinship_runtime.kafka import ensure_topics, make_broker, make_producer
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.settings import KinshipSettings
from kinship_runtime.telemetry import configure_logging, configure_telemetry

log = logging.getLogger(__name__)

S = TypeVar("S", bound=KinshipSettings)


async def migrate(settings: KinshipSettings, migrations: Path) -> list[str]:
    """Apply the service's pending migrations to its schema."""
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            return await apply_migrations(conn, settings.owned_schema(), migrations)
    finally:
        await pool.close()


def run_service(
    prog: str,
    settings_type: type[S],
    create_app: Callable[[S], FastAPI],
    migrations: Path,
    argv: list[str] | None = None,
) -> int:
    """Serve the HTTP API and consumers (default), or apply migrations and exit."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    if args.command == "migrate":
        # Migrations need the database only: not the service's keys (a migration Job gets
        # the database secret and nothing else).
        common = KinshipSettings(service_name=settings_type.model_fields["service_name"].default)
        configure_logging(common.service_name, common.log_level)
        for name in asyncio.run(migrate(common, migrations)):
            print(f"applied {name}")
        return 0
    settings = settings_type()
    configure_logging(settings.service_name, settings.log_level)
    telemetry = configure_telemetry(settings.service_name)
    # uvicorn turns SIGTERM into a graceful shutdown: the lifespan stops consumers after
    # their in-flight batch is stored and committed.
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )
    telemetry.shutdown()  # export what is still buffered
    return 0


class ServiceCore:
    """What every service opens at start and closes at stop, in the right order.

    The database pool (migrations applied), the registry's topics (local stacks), an
    idempotent producer, the outbox relay and dead-letter publishing. Services add their own
    workers around it.
    """

    def __init__(
        self,
        settings: KinshipSettings,
        migrations: Path,
        *,
        dead_letter_seal: Seal | None = None,
        outbox_batch_size: int = 2000,
    ) -> None:
        self.settings = settings
        self.broker: KafkaBroker = make_broker(settings)
        self._migrations = migrations
        self._seal = dead_letter_seal
        self._outbox_batch_size = outbox_batch_size
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self._relay: OutboxRelay | None = None
        self._dead_letters: DeadLetters | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's database pool."""
        assert self._pool is not None, "the service is not started"
        return self._pool

    @property
    def relay(self) -> OutboxRelay:
        """The outbox relay."""
        assert self._relay is not None, "the service is not started"
        return self._relay

    @property
    def dead_letters(self) -> DeadLetters:
        """Dead-letter publishing."""
        assert self._dead_letters is not None, "the service is not started"
        return self._dead_letters

    async def open(self) -> None:
        """Open the pool (and migrate), create topics, start the producer and the relay."""
        settings = self.settings
        self._pool = await create_pool(settings)
        if settings.migrate_on_start:
            async with self._pool.acquire() as conn:
                applied = await apply_migrations(conn, settings.owned_schema(), self._migrations)
            if applied:
                log.info("applied migrations", extra={"count": len(applied)})
        if settings.create_topics:
            await ensure_topics(settings, TOPICS)
        self._producer = make_producer(settings)
        await self._producer.start()
        self._dead_letters = DeadLetters(
            self._producer, settings.consumer_group("events"), seal=self._seal
        )
        self._relay = OutboxRelay(
            self._pool,
            self._producer,
            settings.owned_schema(),
            batch_size=self._outbox_batch_size,
        )
        self._relay.start()

    async def close(self) -> None:
        """Flush the outbox briefly, stop the producer, close the pool."""
        if self._relay is not None:
            await self._relay.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()

    async def database_ready(self) -> bool:
        """PostgreSQL answers."""
        return bool(await self.pool.fetchval("SELECT 1") == 1)

    async def kafka_ready(self) -> bool:
        """The Kafka cluster answers."""
        return await self.broker.ping(timeout=2.0)


class KinshipService(Generic[S]):
    """Base of every service's wiring: settings, authentication, the core resources, and
    the order of start and stop. Services add their own parts in ``on_start``/``on_stop``.
    """

    produces: tuple[TopicSpec, ...] = ()
    """The events the service publishes (through its outbox): declared on the broker so its
    AsyncAPI document shows them beside its subscriptions."""

    def __init__(
        self,
        settings: S,
        migrations: Path,
        *,
        dead_letter_seal: Seal | None = None,
        outbox_batch_size: int = 2000,
    ) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        self.core = ServiceCore(
            settings,
            migrations,
            dead_letter_seal=dead_letter_seal,
            outbox_batch_size=outbox_batch_size,
        )
        self.broker: KafkaBroker = self.core.broker
        for spec in self.produces:
            # Documentation only: events leave through the outbox relay, not these publishers.
            self.broker.publisher(
                settings.topic(spec.name),
                title=f"{settings.service_name}:{spec.event_type}",
                description=spec.description,
                schema=spec.payload,
            )

    @property
    def relay(self) -> OutboxRelay:
        """The outbox relay (wake it after a commit that queued messages)."""
        return self.core.relay

    @property
    def dead_letters(self) -> DeadLetters:
        """Dead-letter publishing."""
        return self.core.dead_letters

    async def start(self) -> None:
        """Open the core, then the service's own parts, then start consuming."""
        await self.core.open()
        await self.on_start()
        await self.broker.start()

    async def stop(self) -> None:
        """Finish in-flight batches, stop the service's own parts, then close the core."""
        await self.broker.stop()
        await self.on_stop()
        await self.core.close()

    async def on_start(self) -> None:
        """Open the service's own parts; the core (pool, producer, relay) is open."""

    async def on_stop(self) -> None:
        """Stop the service's own parts; consumers have stopped, the core is still open."""

    async def database_ready(self) -> bool:
        """PostgreSQL answers."""
        return await self.core.database_ready()

    async def kafka_ready(self) -> bool:
        """The Kafka cluster answers."""
        return await self.core.kafka_ready()

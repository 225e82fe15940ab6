"""Wiring of the check-in service: one place that builds every dependency."""

import logging
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_checkin.adapters.postgres import PostgresCheckinStore
from kinship_checkin.domain.privacy import NoteCipher, Pseudonymiser
from kinship_checkin.domain.support import SupportResource, load_crisis_resources
from kinship_checkin.handlers import CheckinPrivacy
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT, TOPICS
from kinship_runtime.auth import Authenticator
from kinship_runtime.database import apply_migrations, create_pool
from kinship_runtime.http import create_service_app
from kinship_runtime.ingestion import DeadLetters
from kinship_runtime.kafka import ensure_topics, make_broker, make_producer
from kinship_runtime.outbox import OutboxRelay

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class CheckinService:
    """The running service's dependencies; I/O resources are opened by ``start``."""

    def __init__(self, settings: CheckinSettings) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        self.privacy = CheckinPrivacy(
            pseudonyms=Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
            notes=NoteCipher(settings.note_key_table(), settings.note_key_id),
        )
        self.crisis_resources: tuple[SupportResource, ...] = load_crisis_resources(
            settings.crisis_resources_file
        )
        self.recorded_topic = settings.topic(CHECKINS_RECORDED)
        self.urgent_topic = settings.topic(CHECKINS_URGENT)
        self.broker: KafkaBroker = make_broker(settings)
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self._relay: OutboxRelay | None = None
        self._store: PostgresCheckinStore | None = None
        self._dead_letters: DeadLetters | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the service is not started"
        return self._pool

    @property
    def store(self) -> PostgresCheckinStore:
        assert self._store is not None, "the service is not started"
        return self._store

    @property
    def relay(self) -> OutboxRelay:
        assert self._relay is not None, "the service is not started"
        return self._relay

    @property
    def dead_letters(self) -> DeadLetters:
        assert self._dead_letters is not None, "the service is not started"
        return self._dead_letters

    async def start(self) -> None:
        """Open the database and Kafka, apply migrations, start relaying and consuming."""
        settings = self.settings
        self._pool = await create_pool(settings)
        if settings.migrate_on_start:
            async with self._pool.acquire() as conn:
                applied = await apply_migrations(conn, settings.owned_schema(), MIGRATIONS)
            if applied:
                log.info("applied migrations", extra={"count": len(applied)})
        if settings.create_topics:
            await ensure_topics(settings, TOPICS)
        self._store = PostgresCheckinStore(self._pool)
        self._producer = make_producer(settings)
        await self._producer.start()
        # Submissions may carry notes: dead letters keep their bytes, encrypted with a note key.
        self._dead_letters = DeadLetters(
            self._producer, settings.consumer_group("ingest"), seal=self.privacy.notes.seal_bytes
        )
        self._relay = OutboxRelay(
            self._pool,
            self._producer,
            settings.owned_schema(),
            batch_size=settings.outbox_batch_size,
        )
        self._relay.start()
        await self.broker.start()

    async def stop(self) -> None:
        """Finish in-flight batches and commit, flush the outbox briefly, close connections."""
        await self.broker.stop()
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


def create_app(settings: CheckinSettings | None = None) -> FastAPI:
    """The check-in service as an ASGI app: HTTP API plus Kafka consumers in its lifespan."""
    from kinship_checkin.entrypoints.consumers import register_consumers
    from kinship_checkin.entrypoints.http import checkin_router

    service = CheckinService(settings or CheckinSettings())
    register_consumers(service.broker, service)

    return create_service_app(
        service,
        title="Kinship check-in service",
        description="Check-in ingestion, pseudonymisation, encrypted notes and team trends.",
        routers=[checkin_router(service)],
    )

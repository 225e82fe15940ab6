"""Wiring of the check-in service: one place that builds every dependency."""

import logging
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_checkin.adapters.postgres import PostgresCheckinStore
from kinship_checkin.domain.privacy import NoteCipher, Pseudonymiser
from kinship_checkin.domain.support import SupportResource, load_crisis_resources
from kinship_checkin.handlers import CheckinPrivacy
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT
from kinship_runtime.auth import Authenticator
from kinship_runtime.http import create_service_app
from kinship_runtime.ingestion import DeadLetters
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.service import ServiceCore

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
        # Submissions may carry notes: dead letters keep their bytes, encrypted with a note key.
        self.core = ServiceCore(
            settings,
            MIGRATIONS,
            dead_letter_seal=self.privacy.notes.seal_bytes,
            outbox_batch_size=settings.outbox_batch_size,
        )
        self.broker: KafkaBroker = self.core.broker
        self._store: PostgresCheckinStore | None = None

    @property
    def store(self) -> PostgresCheckinStore:
        assert self._store is not None, "the service is not started"
        return self._store

    @property
    def relay(self) -> OutboxRelay:
        return self.core.relay

    @property
    def dead_letters(self) -> DeadLetters:
        return self.core.dead_letters

    async def start(self) -> None:
        """Open the database and Kafka, apply migrations, start relaying and consuming."""
        await self.core.open()
        self._store = PostgresCheckinStore(self.core.pool)
        await self.broker.start()

    async def stop(self) -> None:
        """Finish in-flight batches and commit, flush the outbox briefly, close connections."""
        await self.broker.stop()
        await self.core.close()

    async def database_ready(self) -> bool:
        """PostgreSQL answers."""
        return await self.core.database_ready()

    async def kafka_ready(self) -> bool:
        """The Kafka cluster answers."""
        return await self.core.kafka_ready()


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

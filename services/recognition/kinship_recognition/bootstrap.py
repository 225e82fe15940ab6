"""Wiring of the recognition service: one place that builds every dependency."""

from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.adapters.postgres import PostgresRecognition
from kinship_recognition.handlers import RecognitionContext
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.auth import Authenticator
from kinship_runtime.http import create_service_app
from kinship_runtime.ingestion import DeadLetters
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.service import ServiceCore

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RecognitionService:
    """The running service's dependencies; I/O resources are opened by ``start``."""

    def __init__(self, settings: RecognitionSettings) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        self.pseudonyms = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())
        self.context = RecognitionContext(
            awards_topic=settings.topic(RECOGNITION_AWARDS),
            requests_topic=settings.topic(NOTIFICATION_REQUESTS),
            kudos_daily_limit=settings.kudos_daily_limit,
        )
        self.core = ServiceCore(settings, MIGRATIONS)
        self.broker: KafkaBroker = self.core.broker
        self._store: PostgresRecognition | None = None

    @property
    def store(self) -> PostgresRecognition:
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
        self._store = PostgresRecognition(self.core.pool)
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


def create_app(settings: RecognitionSettings | None = None) -> FastAPI:
    """The recognition service as an ASGI app: HTTP API plus Kafka consumers."""
    from kinship_recognition.entrypoints.consumers import register_consumers
    from kinship_recognition.entrypoints.http import recognition_router

    service = RecognitionService(settings or RecognitionSettings())
    register_consumers(service.broker, service)
    return create_service_app(
        service,
        title="Kinship recognition service",
        description="Kudos, check-in streaks and milestones, celebrated.",
        routers=[recognition_router(service)],
    )

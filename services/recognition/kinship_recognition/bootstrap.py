"""Wiring of the recognition service: one place that builds every dependency."""

from pathlib import Path

from fastapi import FastAPI

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.adapters.postgres import PostgresRecognition
from kinship_recognition.handlers import RecognitionContext
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.http import create_service_app
from kinship_runtime.service import KinshipService

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RecognitionService(KinshipService[RecognitionSettings]):
    """The running service's dependencies; I/O resources are opened by ``start``."""

    produces = (RECOGNITION_AWARDS, NOTIFICATION_REQUESTS)

    def __init__(self, settings: RecognitionSettings) -> None:
        super().__init__(settings, MIGRATIONS)
        self.pseudonyms = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())
        self.context = RecognitionContext(
            awards_topic=settings.topic(RECOGNITION_AWARDS),
            requests_topic=settings.topic(NOTIFICATION_REQUESTS),
            kudos_daily_limit=settings.kudos_daily_limit,
            pseudonyms=self.pseudonyms,
        )
        self._store: PostgresRecognition | None = None

    @property
    def store(self) -> PostgresRecognition:
        assert self._store is not None, "the service is not started"
        return self._store

    async def on_start(self) -> None:
        """The store, on the core's pool."""
        self._store = PostgresRecognition(self.core.pool)


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

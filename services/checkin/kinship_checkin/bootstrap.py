"""Wiring of the check-in service: one place that builds every dependency."""

import logging
from pathlib import Path

from fastapi import FastAPI

from kinship_checkin.adapters.postgres import PostgresCheckinStore
from kinship_checkin.domain.privacy import NoteCipher, Pseudonymiser
from kinship_checkin.domain.support import SupportResource, load_crisis_resources
from kinship_checkin.handlers import CheckinPrivacy
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT
from kinship_runtime.http import create_service_app
from kinship_runtime.service import KinshipService

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class CheckinService(KinshipService[CheckinSettings]):
    """The running service's dependencies; I/O resources are opened by ``start``."""

    produces = (CHECKINS_RECORDED, CHECKINS_URGENT)

    def __init__(self, settings: CheckinSettings) -> None:
        privacy = CheckinPrivacy(
            pseudonyms=Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
            notes=NoteCipher(settings.note_key_table(), settings.note_key_id),
        )
        # Submissions may carry notes: dead letters keep their bytes, encrypted with a note key.
        super().__init__(
            settings,
            MIGRATIONS,
            dead_letter_seal=privacy.notes.seal_bytes,
            outbox_batch_size=settings.outbox_batch_size,
        )
        self.privacy = privacy
        self.crisis_resources: tuple[SupportResource, ...] = load_crisis_resources(
            settings.crisis_resources_file
        )
        self.recorded_topic = settings.topic(CHECKINS_RECORDED)
        self.urgent_topic = settings.topic(CHECKINS_URGENT)
        self._store: PostgresCheckinStore | None = None

    @property
    def store(self) -> PostgresCheckinStore:
        assert self._store is not None, "the service is not started"
        return self._store

    async def on_start(self) -> None:
        """The store, on the core's pool."""
        self._store = PostgresCheckinStore(self.core.pool)


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

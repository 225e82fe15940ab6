"""Composition root of the check-in service: the one place that builds every dependency."""

from pathlib import Path

import asyncpg
from dishka import Provider, Scope, make_async_container, provide
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_checkin.adapters.postgres import PostgresCheckinUnitOfWork
from kinship_checkin.domain.privacy import CheckinPrivacy, NoteCipher, Pseudonymiser
from kinship_checkin.domain.support import CrisisResources, load_crisis_resources
from kinship_checkin.entrypoints.consumers import SUBSCRIPTIONS
from kinship_checkin.entrypoints.http import checkin_router
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import RecordingTopics
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT
from kinship_runtime.composition import RuntimeProvider, service_app
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.ingest import ingest
from kinship_runtime.kafka import make_broker
from kinship_runtime.settings import KinshipSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class CheckinProvider(Provider):
    """The check-in service's own dependencies."""

    scope = Scope.APP

    @provide
    def settings(self, settings: KinshipSettings) -> CheckinSettings:
        """The service's settings (the same object the runtime sees)."""
        assert isinstance(settings, CheckinSettings)
        return settings

    @provide
    def privacy(self, settings: CheckinSettings) -> CheckinPrivacy:
        """Pseudonyms and note encryption, from the service's keys."""
        return CheckinPrivacy(
            pseudonyms=Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
            notes=NoteCipher(settings.note_key_table(), settings.note_key_id),
        )

    @provide
    def topics(self, settings: CheckinSettings) -> RecordingTopics:
        """Where recorded check-ins go."""
        return RecordingTopics(settings.topic(CHECKINS_RECORDED), settings.topic(CHECKINS_URGENT))

    @provide
    def crisis_resources(self, settings: CheckinSettings) -> CrisisResources:
        """Crisis resources for the immediate answer."""
        return load_crisis_resources(settings.crisis_resources_file)

    @provide
    def directory(self) -> DirectoryProjection:
        """The directory projection (teams and time zones; no contact details yet)."""
        return DirectoryProjection()

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> CheckinUnitOfWork:
        """A unit of work per request or message."""
        return PostgresCheckinUnitOfWork(pool, directory)


def create_app(settings: CheckinSettings | None = None) -> FastAPI:
    """The check-in service as an ASGI app: HTTP API plus Kafka consumers in its lifespan."""
    settings = settings or CheckinSettings()
    broker = make_broker(settings)
    container = make_async_container(
        RuntimeProvider(MIGRATIONS),
        CheckinProvider(),
        context={KinshipSettings: settings, KafkaBroker: broker},
    )
    for subscription in SUBSCRIPTIONS:
        ingest(broker, settings, container, subscription)
    return service_app(
        container,
        broker,
        settings,
        title="Kinship check-in service",
        description="Check-in ingestion, pseudonymisation, encrypted notes and team trends.",
        routers=[checkin_router()],
        produces=(CHECKINS_RECORDED, CHECKINS_URGENT),
    )

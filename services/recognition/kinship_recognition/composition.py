"""Composition root of the recognition service: the one place that builds every dependency."""

from pathlib import Path

import asyncpg
from dishka import Provider, Scope, make_async_container, provide
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.adapters.chart import MatplotlibChart
from kinship_recognition.adapters.postgres import PostgresRecognitionUnitOfWork
from kinship_recognition.entrypoints.consumers import SUBSCRIPTIONS
from kinship_recognition.entrypoints.http import recognition_router
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.ports import ChartRenderer, RecognitionUnitOfWork
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.composition import RuntimeProvider, service_app
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.ingest import ingest
from kinship_runtime.kafka import make_broker
from kinship_runtime.settings import KinshipSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RecognitionProvider(Provider):
    """The recognition service's own dependencies."""

    scope = Scope.APP

    @provide
    def settings(self, settings: KinshipSettings) -> RecognitionSettings:
        """The service's settings (the same object the runtime sees)."""
        assert isinstance(settings, RecognitionSettings)
        return settings

    @provide
    def pseudonyms(self, settings: RecognitionSettings) -> Pseudonymiser:
        """The check-in service's pseudonyms: pulse respondents, and subjects' directory rows."""
        return Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())

    @provide
    def topics(self, settings: RecognitionSettings) -> AwardTopics:
        """Where awards and celebration requests go."""
        return AwardTopics(
            settings.topic(RECOGNITION_AWARDS), settings.topic(NOTIFICATION_REQUESTS)
        )

    @provide
    def directory(self, pseudonyms: Pseudonymiser) -> DirectoryProjection:
        """The directory projection, with each person's subject id: check-ins arrive by subject.

        TRANSITIONAL: until the subject ids leave this service (the trust issue).
        """
        return DirectoryProjection(subject_of=pseudonyms.subject_id)

    @provide
    def chart(self) -> ChartRenderer:
        """Programme report charts."""
        return MatplotlibChart()

    @provide(scope=Scope.REQUEST)
    def unit_of_work(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> RecognitionUnitOfWork:
        """A unit of work per request or message."""
        return PostgresRecognitionUnitOfWork(pool, directory)


def create_app(settings: RecognitionSettings | None = None) -> FastAPI:
    """The recognition service as an ASGI app: HTTP API plus Kafka consumers in its lifespan."""
    settings = settings or RecognitionSettings()
    broker = make_broker(settings)
    container = make_async_container(
        RuntimeProvider(MIGRATIONS),
        RecognitionProvider(),
        context={KinshipSettings: settings, KafkaBroker: broker},
    )
    for subscription in SUBSCRIPTIONS:
        ingest(broker, settings, container, subscription)
    return service_app(
        container,
        broker,
        settings,
        title="Kinship recognition service",
        description="Kudos, check-in streaks and milestones, celebrated.",
        routers=[recognition_router()],
        produces=(RECOGNITION_AWARDS, NOTIFICATION_REQUESTS),
    )

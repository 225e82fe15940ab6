"""Composition root of the recognition service: the one place that builds every dependency."""

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from dishka import Provider, Scope, from_context, provide
from fastapi import FastAPI

from kinship_contracts.topics import ERASURE_RECEIPTS, NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.adapters.chart import MatplotlibChart
from kinship_recognition.adapters.postgres import PostgresRecognitionUnitOfWork
from kinship_recognition.entrypoints.consumers import SUBSCRIPTIONS
from kinship_recognition.entrypoints.http import recognition_router
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.erasure import ErasedPeople, ErasureTopics
from kinship_recognition.handlers.ports import ChartRenderer, RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.composition import compose_service
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.erased_ids import ErasedIds, ErasedIdsExpiry, expire_in, running_expiry
from kinship_runtime.vault import VaultClient

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class RecognitionProvider(Provider):
    """The recognition service's own dependencies."""

    scope = Scope.APP

    settings = from_context(provides=RecognitionSettings, scope=Scope.APP)

    @provide
    def topics(self, settings: RecognitionSettings) -> AwardTopics:
        """Where awards and celebration requests go, and the key that signs the requests."""
        return AwardTopics(
            settings.topic(RECOGNITION_AWARDS),
            settings.topic(NOTIFICATION_REQUESTS),
            settings.request_signing_secret(),
        )

    @provide
    def erasure(self, settings: RecognitionSettings) -> ErasureTopics:
        """Where erasure receipts go."""
        return ErasureTopics(settings.topic(ERASURE_RECEIPTS))

    @provide
    def erased_ids(self, settings: RecognitionSettings) -> ErasedIds:
        """How erased subject ids are recognised (keyed hashes) and how long."""
        return settings.erased_ids()

    @provide
    def erased_people(self, settings: RecognitionSettings) -> ErasedPeople:
        """How erased person ids are recognised (keyed hashes, with the erasure's time)."""
        return settings.erased_people()

    @provide
    async def erased_ids_expiry(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> AsyncIterator[ErasedIdsExpiry]:
        """Deletes the digests of erased subject and person ids past their time, hourly."""
        expire = expire_in(lambda: PostgresRecognitionUnitOfWork(pool, directory))
        async with running_expiry(expire) as expiry:
            yield expiry

    @provide
    def subjects(self, vault: VaultClient) -> SubjectLookup:
        """The people celebrated and pulse respondents, by the subject ids the vault gives."""
        return vault

    @provide
    def directory(self) -> DirectoryProjection:
        """The directory projection: teams and roles, never a subject id."""
        return DirectoryProjection()

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


def create_app(settings: RecognitionSettings | None = None, *overrides: Provider) -> FastAPI:
    """The recognition service as an ASGI app: HTTP API plus Kafka consumers in its lifespan.

    ``overrides``: providers that replace what they provide (tests: the vault over an
    in-process check-in service).
    """
    return compose_service(
        settings or RecognitionSettings(),
        RecognitionProvider(),
        MIGRATIONS,
        SUBSCRIPTIONS,
        title="Kinship recognition service",
        description="Kudos, check-in streaks and milestones, celebrated.",
        routers=[recognition_router()],
        produces=(RECOGNITION_AWARDS, NOTIFICATION_REQUESTS, ERASURE_RECEIPTS),
        workers=(ErasedIdsExpiry,),
        overrides=overrides,
    )

"""Composition root of the check-in service: the one place that builds every dependency."""

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from dishka import Provider, Scope, from_context, provide
from fastapi import FastAPI

from kinship_checkin.adapters.postgres import PostgresCheckinUnitOfWork
from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.domain.support import CrisisResources, crisis_resources
from kinship_checkin.entrypoints.consumers import SUBSCRIPTIONS
from kinship_checkin.entrypoints.http import VaultLimits, checkin_router
from kinship_checkin.handlers.erasure import ErasureTopics, erasure_topics
from kinship_checkin.handlers.outreach import OutreachTopic
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import RecordingTopics
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.resources import load_catalogue
from kinship_contracts.topics import (
    CHECKINS_RECORDED,
    CHECKINS_URGENT,
    DIRECTORY_PEOPLE,
    ERASURE_RECEIPTS,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    OUTREACH_PREFERENCES,
)
from kinship_runtime.access import RateLimits
from kinship_runtime.composition import compose_service
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.erased_ids import ErasedIds, ErasedIdsExpiry, expire_in, running_expiry

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class CheckinProvider(Provider):
    """The check-in service's own dependencies."""

    scope = Scope.APP

    settings = from_context(provides=CheckinSettings, scope=Scope.APP)

    @provide
    def notes(self, settings: CheckinSettings) -> NoteCipher:
        """Note encryption under per-person keys, wrapped by the master note keys."""
        return NoteCipher(settings.note_key_table(), settings.note_key_id)

    @provide
    def topics(self, settings: CheckinSettings) -> RecordingTopics:
        """Where recorded check-ins go."""
        return RecordingTopics(settings.topic(CHECKINS_RECORDED), settings.topic(CHECKINS_URGENT))

    @provide
    def erasure(self, settings: CheckinSettings) -> ErasureTopics:
        """Where erasure events go."""
        return erasure_topics(settings.topic)

    @provide
    def outreach(self, settings: CheckinSettings) -> OutreachTopic:
        """Where outreach preferences go."""
        return OutreachTopic(settings.topic(OUTREACH_PREFERENCES))

    @provide
    def crisis_resources(self, settings: CheckinSettings) -> CrisisResources:
        """Crisis resources for the immediate answer."""
        return crisis_resources(load_catalogue(settings.crisis_resources_file))

    @provide
    def vault_limits(self, settings: CheckinSettings) -> VaultLimits:
        """How many person ids each Kinship service may ask the vault about, per window."""
        per_key = settings.vault_rate_limit_per_key
        return VaultLimits(RateLimits.of(settings.rate_limit_per_person, per_key))

    @provide
    def directory(self) -> DirectoryProjection:
        """The directory projection, with names and channels for reveals."""
        return DirectoryProjection(keep_contact=True)

    @provide
    def erased_ids(self, settings: CheckinSettings) -> ErasedIds:
        """How erased person ids are recognised (keyed hashes) and how long."""
        return settings.erased_ids()

    @provide
    async def erased_ids_expiry(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> AsyncIterator[ErasedIdsExpiry]:
        """Deletes the digests of erased person ids past their time, hourly."""
        expire = expire_in(lambda: PostgresCheckinUnitOfWork(pool, directory))
        async with running_expiry(expire) as expiry:
            yield expiry

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> CheckinUnitOfWork:
        """A unit of work per request or message."""
        return PostgresCheckinUnitOfWork(pool, directory)


def create_app(settings: CheckinSettings | None = None) -> FastAPI:
    """The check-in service as an ASGI app: HTTP API plus Kafka consumers in its lifespan."""
    return compose_service(
        settings or CheckinSettings(),
        CheckinProvider(),
        MIGRATIONS,
        SUBSCRIPTIONS,
        title="Kinship check-in service",
        description="Check-ins, the pseudonym vault, encrypted notes, reveals to the assigned "
        "responder, erasure, and team trends.",
        routers=[checkin_router()],
        produces=(
            CHECKINS_RECORDED,
            CHECKINS_URGENT,
            ERASURE_REQUESTED,
            ERASURE_SUBJECTS,
            ERASURE_RECEIPTS,
            DIRECTORY_PEOPLE,
            OUTREACH_PREFERENCES,
        ),
        workers=(ErasedIdsExpiry,),
    )

"""Composition root of the escalation service: the one place that builds every dependency."""

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
from dishka import Provider, Scope, make_async_container, provide
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import ESCALATION_CASES, GROUP_SESSIONS, NOTIFICATION_REQUESTS
from kinship_escalation.adapters.files import load_catalogue, read_zone_table
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import default_policy
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.entrypoints.consumers import SUBSCRIPTIONS
from kinship_escalation.entrypoints.http import escalation_router
from kinship_escalation.entrypoints.timers import TimerWorker
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.composition import RuntimeProvider, service_app
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.ingest import ingest
from kinship_runtime.kafka import make_broker
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.settings import KinshipSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _link_secret(settings: EscalationSettings) -> bytes:
    configured = settings.link_secret.get_secret_value()
    if configured:
        return configured.encode()
    key = settings.pseudonym_key.get_secret_value().encode()
    return hmac.new(key, b"kinship-ack-links", hashlib.sha256).digest()


class EscalationProvider(Provider):
    """The escalation service's own dependencies."""

    scope = Scope.APP

    @provide
    def settings(self, settings: KinshipSettings) -> EscalationSettings:
        """The service's settings (the same object the runtime sees)."""
        assert isinstance(settings, EscalationSettings)
        return settings

    @provide
    def context(self, settings: EscalationSettings) -> EscalationContext:
        """Rules, the default policy, links, pseudonyms, topics and resources of the use cases."""
        return EscalationContext(
            rules=DetectionRules.load(settings.rules_file),
            default_policy=default_policy(
                settings.ack_timeout_seconds, settings.contact_timeout_seconds
            ),
            links=AckLinks(_link_secret(settings), settings.public_url),
            pseudonyms=Pseudonymiser(settings.pseudonym_key.get_secret_value().encode()),
            cases_topic=settings.topic(ESCALATION_CASES),
            requests_topic=settings.topic(NOTIFICATION_REQUESTS),
            responder_rest=timedelta(hours=settings.responder_rest_hours),
            resources=load_catalogue(settings.resources_file),
            zone_table=read_zone_table(),
        )

    @provide
    def directory(self, context: EscalationContext) -> DirectoryProjection:
        """The directory projection: roles and time zones, people linked to their subject ids
        (to tell who a case is about)."""
        return DirectoryProjection(subject_of=context.pseudonyms.subject_id)

    @provide(scope=Scope.REQUEST)
    def unit_of_work(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> EscalationUnitOfWork:
        """A unit of work per request or message."""
        return PostgresEscalationUnitOfWork(pool, directory)

    @provide
    async def timers(
        self,
        pool: asyncpg.Pool,
        directory: DirectoryProjection,
        context: EscalationContext,
        settings: EscalationSettings,
        relay: OutboxRelay,
    ) -> AsyncIterator[TimerWorker]:
        """The durable-timer worker, running from first use until the container closes."""
        worker = TimerWorker(
            lambda: PostgresEscalationUnitOfWork(pool, directory),
            context,
            poll_seconds=settings.timer_poll_seconds,
            batch_size=settings.timer_batch_size,
            after_round=relay.wake,
        )
        worker.start()
        yield worker
        await worker.stop()


def create_app(settings: EscalationSettings | None = None) -> FastAPI:
    """The escalation service as an ASGI app: HTTP API, consumers and timers in its lifespan."""
    settings = settings or EscalationSettings()
    broker = make_broker(settings)
    container = make_async_container(
        RuntimeProvider(MIGRATIONS),
        EscalationProvider(),
        context={KinshipSettings: settings, KafkaBroker: broker},
    )
    for subscription in SUBSCRIPTIONS:
        ingest(broker, settings, container, subscription)
    return service_app(
        container,
        broker,
        settings,
        title="Kinship escalation service",
        description="Distress detection, crisis-support cases, on-call escalation and timers.",
        routers=[escalation_router()],
        produces=(ESCALATION_CASES, GROUP_SESSIONS, NOTIFICATION_REQUESTS),
        workers=(TimerWorker,),
        # The one-time signed acknowledgement links carry their own proof, no bearer token.
        public_paths=("/v1/alerts/",),
    )

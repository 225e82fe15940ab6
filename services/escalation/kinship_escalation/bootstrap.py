"""Wiring of the escalation service: one place that builds every dependency."""

import hashlib
import hmac
import logging
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import ESCALATION_CASES, NOTIFICATION_REQUESTS
from kinship_escalation.adapters.files import load_catalogue, read_zone_table
from kinship_escalation.adapters.postgres import PostgresEscalation
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import default_policy
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.entrypoints.timers import TimerWorker
from kinship_escalation.handlers import EscalationContext
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.auth import Authenticator
from kinship_runtime.http import create_service_app
from kinship_runtime.ingestion import DeadLetters
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.service import ServiceCore

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _link_secret(settings: EscalationSettings) -> bytes:
    configured = settings.link_secret.get_secret_value()
    if configured:
        return configured.encode()
    key = settings.pseudonym_key.get_secret_value().encode()
    return hmac.new(key, b"kinship-ack-links", hashlib.sha256).digest()


class EscalationService:
    """The running service's dependencies; I/O resources are opened by ``start``."""

    def __init__(self, settings: EscalationSettings) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        self.context = EscalationContext(
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
        self.core = ServiceCore(settings, MIGRATIONS)
        self.broker: KafkaBroker = self.core.broker
        self._store: PostgresEscalation | None = None
        self._timers: TimerWorker | None = None

    @property
    def store(self) -> PostgresEscalation:
        assert self._store is not None, "the service is not started"
        return self._store

    @property
    def relay(self) -> OutboxRelay:
        return self.core.relay

    @property
    def dead_letters(self) -> DeadLetters:
        return self.core.dead_letters

    @property
    def timers(self) -> TimerWorker:
        assert self._timers is not None, "the service is not started"
        return self._timers

    async def start(self) -> None:
        """Open the database and Kafka, apply migrations, start relay, timers and consumers."""
        await self.core.open()
        self._store = PostgresEscalation(self.core.pool)
        self._timers = TimerWorker(
            self._store,
            self.context,
            poll_seconds=self.settings.timer_poll_seconds,
            batch_size=self.settings.timer_batch_size,
            after_round=self.core.relay.wake,
        )
        self._timers.start()
        await self.broker.start()

    async def stop(self) -> None:
        """Finish in-flight batches and timers, flush the outbox briefly, close connections."""
        await self.broker.stop()
        if self._timers is not None:
            await self._timers.stop()
        await self.core.close()

    async def database_ready(self) -> bool:
        """PostgreSQL answers."""
        return await self.core.database_ready()

    async def kafka_ready(self) -> bool:
        """The Kafka cluster answers."""
        return await self.core.kafka_ready()


def create_app(settings: EscalationSettings | None = None) -> FastAPI:
    """The escalation service as an ASGI app: HTTP API plus consumers and timers."""
    from kinship_escalation.entrypoints.consumers import register_consumers
    from kinship_escalation.entrypoints.http import escalation_router

    service = EscalationService(settings or EscalationSettings())
    register_consumers(service.broker, service)

    return create_service_app(
        service,
        title="Kinship escalation service",
        description="Distress detection, crisis-support cases, on-call escalation and timers.",
        routers=[escalation_router(service)],
    )

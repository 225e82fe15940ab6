"""Wiring of the escalation service: one place that builds every dependency."""

import hashlib
import hmac
import logging
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import ESCALATION_CASES, GROUP_SESSIONS, NOTIFICATION_REQUESTS
from kinship_escalation.adapters.files import load_catalogue, read_zone_table
from kinship_escalation.adapters.postgres import PostgresEscalation
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import default_policy
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.entrypoints.timers import TimerWorker
from kinship_escalation.handlers import EscalationContext
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.http import create_service_app
from kinship_runtime.service import KinshipService

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _link_secret(settings: EscalationSettings) -> bytes:
    configured = settings.link_secret.get_secret_value()
    if configured:
        return configured.encode()
    key = settings.pseudonym_key.get_secret_value().encode()
    return hmac.new(key, b"kinship-ack-links", hashlib.sha256).digest()


class EscalationService(KinshipService[EscalationSettings]):
    """The running service's dependencies; I/O resources are opened by ``start``."""

    produces = (ESCALATION_CASES, GROUP_SESSIONS, NOTIFICATION_REQUESTS)

    def __init__(self, settings: EscalationSettings) -> None:
        super().__init__(settings, MIGRATIONS)
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
        self._store: PostgresEscalation | None = None
        self._timers: TimerWorker | None = None

    @property
    def store(self) -> PostgresEscalation:
        assert self._store is not None, "the service is not started"
        return self._store

    @property
    def timers(self) -> TimerWorker:
        assert self._timers is not None, "the service is not started"
        return self._timers

    async def on_start(self) -> None:
        """The store and the durable-timer worker."""
        self._store = PostgresEscalation(self.core.pool)
        self._timers = TimerWorker(
            self._store,
            self.context,
            poll_seconds=self.settings.timer_poll_seconds,
            batch_size=self.settings.timer_batch_size,
            after_round=self.core.relay.wake,
        )
        self._timers.start()

    async def on_stop(self) -> None:
        """Let the timer round in progress finish."""
        if self._timers is not None:
            await self._timers.stop()


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

"""Wiring of the notifications service: one place that builds every dependency."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from kinship_contracts.subjects import Pseudonymiser
from kinship_contracts.topics import NOTIFICATION_RECEIPTS
from kinship_notifications.adapters.postgres import NotificationStore
from kinship_notifications.adapters.senders import Senders, SmtpServer
from kinship_notifications.adapters.templates import Templates
from kinship_notifications.domain.policy import CircuitBreaker, RetryPolicy
from kinship_notifications.entrypoints.delivery import DeliveryConfig, DeliveryWorker
from kinship_notifications.settings import NotificationSettings
from kinship_runtime.http import create_service_app
from kinship_runtime.service import KinshipService

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class NotificationService(KinshipService[NotificationSettings]):
    """The running service's dependencies; I/O resources are opened by ``start``."""

    produces = (NOTIFICATION_RECEIPTS,)

    def __init__(
        self,
        settings: NotificationSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(settings, MIGRATIONS)
        self.clock = clock
        self.pseudonyms = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())
        self.templates = Templates()
        self._store: NotificationStore | None = None
        self._worker: DeliveryWorker | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def store(self) -> NotificationStore:
        assert self._store is not None, "the service is not started"
        return self._store

    @property
    def worker(self) -> DeliveryWorker:
        assert self._worker is not None, "the service is not started"
        return self._worker

    async def on_start(self) -> None:
        """The store, the senders and the delivery worker."""
        settings = self.settings
        self._store = NotificationStore(self.core.pool)
        self._http = httpx.AsyncClient(follow_redirects=False)
        # Webhook calls carry the trace (traceparent) and get client spans; their URLs are
        # not exported (telemetry.SafeSpanExporter keeps no url.* attribute).
        HTTPXClientInstrumentor.instrument_client(self._http)
        smtp = SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )
        senders = Senders(
            self._http,
            settings.webhook_secret.get_secret_value().encode(),
            smtp,
            settings.delivery_timeout_seconds,
        )
        self._worker = DeliveryWorker(
            self._store,
            senders,
            self.templates,
            CircuitBreaker(
                settings.breaker_threshold, timedelta(seconds=settings.breaker_cool_down_seconds)
            ),
            DeliveryConfig(
                receipts_topic=settings.topic(NOTIFICATION_RECEIPTS),
                concurrency=settings.delivery_concurrency,
                lease=timedelta(seconds=settings.delivery_lease_seconds),
                poll_seconds=settings.delivery_poll_seconds,
                retry=RetryPolicy(
                    max_attempts=settings.delivery_max_attempts,
                    base_seconds=settings.retry_base_seconds,
                    max_seconds=settings.retry_max_seconds,
                ),
            ),
            after_finish=self.core.relay.wake,
            clock=self.clock,
        )
        self._worker.start()

    async def on_stop(self) -> None:
        """Let in-flight deliveries finish briefly (their leases cover the rest)."""
        if self._worker is not None:
            await self._worker.stop(self.settings.delivery_timeout_seconds)
        if self._http is not None:
            await self._http.aclose()


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    """The notifications service as an ASGI app: HTTP API plus consumers and deliveries."""
    from kinship_notifications.entrypoints.consumers import register_consumers
    from kinship_notifications.entrypoints.http import notifications_router

    service = NotificationService(settings or NotificationSettings())
    register_consumers(service.broker, service)
    return create_service_app(
        service,
        title="Kinship notifications service",
        description="Signed webhooks, Slack and email; exactly once as the recipient sees it.",
        routers=[notifications_router(service)],
    )

"""Composition root of the notifications service: the one place that builds every dependency."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from dishka import Provider, Scope, from_context, provide
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from kinship_contracts.topics import ERASURE_RECEIPTS, NOTIFICATION_RECEIPTS
from kinship_notifications.adapters.network import GuardedNetworkBackend, guarded_client
from kinship_notifications.adapters.postgres import PostgresNotificationsUnitOfWork
from kinship_notifications.adapters.senders import Senders, SmtpServer
from kinship_notifications.adapters.templates import Templates
from kinship_notifications.domain.links import MessageLinks
from kinship_notifications.domain.policy import CircuitBreaker, RetryPolicy
from kinship_notifications.domain.replies import AlertReplies
from kinship_notifications.entrypoints.consumers import RequestSignatures, subscriptions
from kinship_notifications.entrypoints.delivery import DeliveryConfig, DeliveryWorker
from kinship_notifications.entrypoints.http import notifications_router
from kinship_notifications.handlers.deliver import DeliveryTools
from kinship_notifications.handlers.erasure import ErasureConfig
from kinship_notifications.handlers.ports import (
    DeliveryTargets,
    NotificationsUnitOfWork,
    Sender,
    SubjectLookup,
    TemplateRenderer,
)
from kinship_notifications.settings import NotificationSettings
from kinship_runtime.composition import compose_service
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.erased_ids import ErasedIdsExpiry, expire_in, running_expiry
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.vault import VaultClient

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class NotificationsProvider(Provider):
    """The notifications service's own dependencies."""

    scope = Scope.APP

    settings = from_context(provides=NotificationSettings, scope=Scope.APP)

    @provide
    def directory(self) -> DirectoryProjection:
        """The directory projection with contact details (display name, channels); never a
        subject id: the person behind one is asked of the vault at delivery time."""
        return DirectoryProjection(keep_contact=True)

    @provide
    def delivery_targets(self, vault: VaultClient) -> DeliveryTargets:
        """The check-in service's vault (scopes ``subjects:deliver``;
        ``subjects:lookup`` for a person's own data; ``subjects:erasure``)."""
        return vault

    @provide
    def subject_lookup(self, vault: VaultClient) -> SubjectLookup:
        """The check-in service's vault (scope ``subjects:lookup``): a person's own subject
        id, when they download their data."""
        return vault

    @provide
    def links(self, settings: NotificationSettings) -> MessageLinks:
        """Link tokens (acknowledgement, consent), minted as messages are sent, and the
        console's pages for links a request does not carry."""
        return MessageLinks(settings.ack_link_secret(), settings.console_url)

    @provide
    def erasure(self, settings: NotificationSettings) -> ErasureConfig:
        """Where erasure receipts go; how erased subject ids are recognised."""
        return ErasureConfig(
            settings.topic(ERASURE_RECEIPTS), settings.erased_ids(), settings.erased_people()
        )

    @provide(scope=Scope.REQUEST)
    def unit_of_work(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> NotificationsUnitOfWork:
        """A unit of work per request or message."""
        return PostgresNotificationsUnitOfWork(pool, directory)

    @provide
    def network(self, settings: NotificationSettings) -> GuardedNetworkBackend:
        """Connections of webhook and Slack calls: public addresses (or allowlisted ones)
        only, checked at connect time."""
        return GuardedNetworkBackend(settings.webhook_allowlist())

    @provide
    async def http_client(self, network: GuardedNetworkBackend) -> AsyncIterator[httpx.AsyncClient]:
        """The client of webhook and Slack calls (guarded, no redirects, no environment
        proxies), closed after the worker stopped."""
        client = guarded_client(network)
        # Webhook calls carry the trace (traceparent) and get client spans; their URLs are
        # not exported (telemetry.SafeSpanExporter keeps no url.* attribute).
        HTTPXClientInstrumentor.instrument_client(client)
        yield client
        await client.aclose()

    @provide
    def smtp(self, settings: NotificationSettings) -> SmtpServer:
        """Where email goes out."""
        password = settings.smtp_password
        return SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls,
        )

    @provide
    def sender(
        self, http: httpx.AsyncClient, smtp: SmtpServer, settings: NotificationSettings
    ) -> Sender:
        """Signed webhooks, Slack incoming webhooks (alerts with their buttons) and SMTP
        (alerts with their reply address), each call with the timeout."""
        return Senders(
            http,
            settings.webhook_secret.get_secret_value().encode(),
            smtp,
            settings.delivery_timeout_seconds,
            https_only=settings.https_only,
            shared_signing=settings.webhook_signing == "shared",
            replies=AlertReplies(
                settings.ack_link_secret(),
                settings.email_reply_domain,
                slack_buttons=settings.slack_buttons,
                cases_url=f"{settings.console_url.rstrip('/')}/cases",
            ),
        )

    @provide
    def templates(self) -> TemplateRenderer:
        """The Jinja2 templates beside the package."""
        return Templates()

    @provide
    def breaker(self, settings: NotificationSettings) -> CircuitBreaker:
        """One circuit per endpoint, shared by every delivery of this process."""
        return CircuitBreaker(
            settings.breaker_threshold, timedelta(seconds=settings.breaker_cool_down_seconds)
        )

    @provide
    def delivery_config(self, settings: NotificationSettings) -> DeliveryConfig:
        """How the delivery worker runs."""
        return DeliveryConfig(
            receipts_topic=settings.topic(NOTIFICATION_RECEIPTS),
            concurrency=settings.delivery_concurrency,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            poll_seconds=settings.delivery_poll_seconds,
            retry=RetryPolicy(
                max_attempts=settings.delivery_max_attempts,
                base_seconds=settings.retry_base_seconds,
                max_seconds=settings.retry_max_seconds,
            ),
            grace_seconds=settings.delivery_timeout_seconds,
        )

    @provide
    async def erased_ids_expiry(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> AsyncIterator[ErasedIdsExpiry]:
        """Deletes the digests of erased subject ids past their time, hourly."""
        expire = expire_in(lambda: PostgresNotificationsUnitOfWork(pool, directory))
        async with running_expiry(expire) as expiry:
            yield expiry

    @provide
    async def worker(
        self,
        pool: asyncpg.Pool,
        directory: DirectoryProjection,
        sender: Sender,
        templates: TemplateRenderer,
        breaker: CircuitBreaker,
        targets: DeliveryTargets,
        links: MessageLinks,
        config: DeliveryConfig,
        relay: OutboxRelay,
    ) -> AsyncIterator[DeliveryWorker]:
        """The delivery worker, running from first use until the container closes."""
        worker = DeliveryWorker(
            lambda: PostgresNotificationsUnitOfWork(pool, directory),
            DeliveryTools(sender, templates, breaker, targets, links),
            config,
            after_finish=relay.wake,
        )
        worker.start()
        yield worker
        await worker.stop()


def create_app(settings: NotificationSettings | None = None, *overrides: Provider) -> FastAPI:
    """The notifications service as an ASGI app: HTTP API, consumers and the delivery worker.

    ``overrides`` replace what they provide (tests: the vault over an in-process check-in
    service).
    """
    settings = settings or NotificationSettings()
    signatures = RequestSignatures(
        settings.request_signing_secret(), settings.accept_unsigned_requests
    )
    return compose_service(
        settings,
        NotificationsProvider(),
        MIGRATIONS,
        subscriptions(signatures),
        title="Kinship notifications service",
        description="Signed webhooks, Slack and email; exactly once as the recipient sees it.",
        routers=[notifications_router()],
        produces=(NOTIFICATION_RECEIPTS, ERASURE_RECEIPTS),
        workers=(DeliveryWorker, ErasedIdsExpiry),
        overrides=overrides,
    )

"""Composition root of the escalation service: the one place that builds every dependency."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
from dishka import Provider, Scope, from_context, provide
from fastapi import FastAPI

from kinship_contracts.resources import load_catalogue
from kinship_contracts.topics import (
    ERASURE_RECEIPTS,
    ESCALATION_CASES,
    GROUP_SESSIONS,
    NOTIFICATION_REQUESTS,
    SIGNALS_SUBMITTED,
)
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.adapters.slack_responses import SlackResponder, response_client
from kinship_escalation.adapters.subject_records import PostgresSubjectRecords
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import default_policy
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.domain.sealing import CaseNoteCipher
from kinship_escalation.entrypoints.consumers import SUBSCRIPTIONS
from kinship_escalation.entrypoints.http import escalation_router
from kinship_escalation.entrypoints.signals_http import SignalLimits
from kinship_escalation.entrypoints.slack_http import ReplayGuard, ResponsePoster
from kinship_escalation.entrypoints.timers import TimerWorker
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.subject_records import SubjectRecords
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.access import RateLimits
from kinship_runtime.composition import compose_service
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.erased_ids import ErasedIdsExpiry, running_expiry
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.vault import VaultClient

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class EscalationProvider(Provider):
    """The escalation service's own dependencies."""

    scope = Scope.APP

    settings = from_context(provides=EscalationSettings, scope=Scope.APP)

    @provide
    def signal_limits(self, settings: EscalationSettings) -> SignalLimits:
        """How many signals each calling key may submit over HTTP, per window."""
        per_key = settings.signals_rate_limit_per_key
        return SignalLimits(RateLimits.of(settings.rate_limit_per_person, per_key))

    @provide
    def context(self, settings: EscalationSettings, vault: VaultClient) -> EscalationContext:
        """Rules, the default policy, links, the vault, topics, keys and resources."""
        return EscalationContext(
            rules=DetectionRules.load(settings.rules_file),
            default_policy=default_policy(
                settings.ack_timeout_seconds, settings.contact_timeout_seconds
            ),
            links=AckLinks(
                settings.ack_link_secret(),
                settings.public_url,
                timedelta(hours=settings.ack_link_hours),
            ),
            vault=vault,
            cases_topic=settings.topic(ESCALATION_CASES),
            requests_topic=settings.topic(NOTIFICATION_REQUESTS),
            receipts_topic=settings.topic(ERASURE_RECEIPTS),
            request_key=settings.request_signature_key(),
            grant_key=settings.grant_signing_key(),
            responder_rest=timedelta(hours=settings.responder_rest_hours),
            resources=load_catalogue(settings.resources_file),
            case_notes=CaseNoteCipher(*settings.case_note_key_table()),
            consent_lifetime=timedelta(hours=settings.consent_hours),
            reopen_within=timedelta(days=settings.reopen_days),
            console_url=settings.console_url,
            checkin_reminders=settings.checkin_reminders(),
            erased_ids=settings.erased_ids(),
            erased_people=settings.erased_people(),
        )

    @provide
    def replays(self) -> ReplayGuard:
        """The Slack presses seen in the last five minutes (one memory per process)."""
        return ReplayGuard()

    @provide
    async def slack_responder(self, settings: EscalationSettings) -> AsyncIterator[SlackResponder]:
        """Posts press answers to their response_url after the press is answered; stopped
        (in-flight posts finished or cancelled) when the container closes."""
        responder = SlackResponder(settings.slack_response_urls(), response_client())
        responder.start()
        yield responder
        await responder.stop()

    @provide
    def response_poster(self, responder: SlackResponder) -> ResponsePoster:
        """The Slack route's view of the responder."""
        return responder

    @provide
    def directory(self) -> DirectoryProjection:
        """The directory projection: staff facts by person id (roles, team, time zone), never
        a subject id (only the check-in service's vault links people to subjects)."""
        return DirectoryProjection()

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

    @provide
    async def erased_ids_expiry(
        self, pool: asyncpg.Pool, directory: DirectoryProjection
    ) -> AsyncIterator[ErasedIdsExpiry]:
        """Deletes the digests of erased subject and person ids past their time, hourly."""

        async def expire(now: datetime, limit: int) -> int:
            uow = PostgresEscalationUnitOfWork(pool, directory)
            async with uow:
                return await uow.erasure.forget_erased(now, limit)

        async with running_expiry(expire) as expiry:
            yield expiry

    @provide
    def subject_records(self, pool: asyncpg.Pool) -> SubjectRecords:
        """Read-only copies of what is kept about a subject (a person's own data)."""
        return PostgresSubjectRecords(pool)


def create_app(
    settings: EscalationSettings | None = None, *, providers: Sequence[Provider] = ()
) -> FastAPI:
    """The escalation service as an ASGI app: HTTP API, consumers and timers in its lifespan.

    ``providers`` replace dependencies (tests: the vault as an in-process check-in service).
    """
    settings = settings or EscalationSettings()
    # Missing secrets fail the start, not the first alert.
    settings.ack_link_secret()
    settings.grant_signing_key()
    settings.request_signature_key()
    settings.vault_key()
    settings.case_note_key_table()
    return compose_service(
        settings,
        EscalationProvider(),
        MIGRATIONS,
        SUBSCRIPTIONS,
        title="Kinship escalation service",
        description="Distress detection, crisis-support cases, on-call escalation and timers.",
        routers=[escalation_router()],
        produces=(
            ESCALATION_CASES,
            GROUP_SESSIONS,
            NOTIFICATION_REQUESTS,
            ERASURE_RECEIPTS,
            SIGNALS_SUBMITTED,  # POST /v1/signals queues signals for its own consumer
        ),
        workers=(TimerWorker, SlackResponder, ErasedIdsExpiry),
        # The one-time acknowledgement and consent links carry their own proof, no bearer token.
        # Slack's interactivity requests carry Slack's signature instead.
        public_paths=("/v1/alerts/", "/v1/consent/", "/v1/slack/"),
        overrides=providers,
    )

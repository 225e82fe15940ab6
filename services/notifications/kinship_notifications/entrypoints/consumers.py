"""Kafka subscriptions of the notifications service: queue requests, follow the directory,
carry out erasures.

Queuing is a fast insert keyed by the request id (a redelivered request is ignored);
sending happens in the delivery worker, so the partition never waits for an endpoint. Only
Kinship services may make Kinship send messages: a request must carry the
``kinship-request-signature`` header (``kinship_contracts.links.sign_request`` over its value,
with ``KINSHIP_REQUEST_SIGNING_KEY``); one without a valid signature is dead-lettered with
code ``unsigned_request`` and nothing is sent. Each ``store`` function receives a batch of
events; its other parameters are injected from a fresh request scope
(``kinship_runtime.ingest``).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dishka import FromDishka

from kinship_contracts.directory import DirectoryChange
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, request_signed
from kinship_contracts.notifications import NotificationRequest
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_contracts.topics import (
    DIRECTORY_PEOPLE,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    NOTIFICATION_REQUESTS,
)
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.entrypoints.delivery import DeliveryWorker
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.directory import apply_directory
from kinship_notifications.handlers.erasure import (
    ErasureConfig,
    erase_people,
    erase_subjects,
    screen_erased,
)
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.erasure import parse_erasure_requests, subjects_from_vault
from kinship_runtime.ingest import Subscription
from kinship_runtime.records import (
    Accepted,
    Parse,
    Record,
    Rejected,
    header,
    parse_directory,
    parse_records,
    produced_at,
)
from kinship_runtime.telemetry import traceparent_of
from kinship_runtime.vault import VaultClient

log = logging.getLogger(__name__)

_parse_requests = parse_records(NotificationRequest)

UNSIGNED = {"code": "unsigned_request", "errors": []}


@dataclass(frozen=True)
class RequestSignatures:
    """How requests prove they come from a Kinship service.

    ``accept_unsigned`` (``KINSHIP_ACCEPT_UNSIGNED_REQUESTS``) is for the transition only:
    requests WITHOUT a signature are then accepted; a wrong signature never is.
    """

    key: bytes
    accept_unsigned: bool = False

    def trusted(self, record: Record) -> bool:
        """Whether a request record may be acted on."""
        signature = header(record, REQUEST_SIGNATURE_HEADER)
        if signature is None:
            return self.accept_unsigned
        return record.value is not None and request_signed(self.key, record.value, signature)


def request_parser(signatures: RequestSignatures) -> Parse[QueuedRequest]:
    """Signed requests with the trace each came in on (so that its delivery joins that trace);
    unsigned or wrongly signed ones and invalid ones are rejections."""

    def parse(
        records: Sequence[Record],
    ) -> tuple[list[Accepted[QueuedRequest]], list[Rejected]]:
        trusted: list[Record] = []
        refused: list[Rejected] = []
        for record in records:
            if signatures.trusted(record):
                trusted.append(record)
            else:
                refused.append(Rejected(record, UNSIGNED))
        if refused:
            log.warning(
                "refused notification requests without a valid signature",
                extra={"count": len(refused)},
            )
        accepted, rejected = _parse_requests(trusted)
        queued = [
            Accepted(
                item.record,
                QueuedRequest(
                    item.event, traceparent_of(item.record.headers), produced_at(item.record)
                ),
            )
            for item in accepted
        ]
        return queued, [*refused, *rejected]

    return parse


async def store_requests(
    requests: Sequence[QueuedRequest],
    uow: FromDishka[NotificationsUnitOfWork],
    worker: FromDishka[DeliveryWorker],
    config: FromDishka[ErasureConfig],
) -> None:
    """Queue a batch of requests once each, except those addressed to a subject id erased
    meanwhile (and without the person, those addressed to a person erased after they were
    produced), then wake the delivery worker."""
    now = datetime.now(UTC)
    async with uow:
        kept = await screen_erased(requests, uow, config, now)
        if kept:
            await accept_requests(kept, uow, now)
    worker.wake()


async def store_directory(
    changes: Sequence[DirectoryChange], uow: FromDishka[NotificationsUnitOfWork]
) -> None:
    """Apply a batch of directory changes."""
    async with uow:
        await apply_directory(changes, uow)


async def store_erasures(
    requests: Sequence[ErasureRequested],
    uow: FromDishka[NotificationsUnitOfWork],
    config: FromDishka[ErasureConfig],
) -> None:
    """Forget what is kept by the person ids of a batch of erasure requests."""
    async with uow:
        await erase_people(requests, uow, config, datetime.now(UTC))


async def store_erased_subjects(
    events: Sequence[SubjectsErased],
    uow: FromDishka[NotificationsUnitOfWork],
    config: FromDishka[ErasureConfig],
    vault: FromDishka[VaultClient],
) -> None:
    """Forget what is kept by the subject ids the check-in service names for the erasure
    (asked of it: never on Kafka)."""
    opened = await subjects_from_vault(events, vault)
    async with uow:
        await erase_subjects(opened, uow, config, datetime.now(UTC))


def subscriptions(signatures: RequestSignatures) -> tuple[Subscription[Any], ...]:
    """The service's subscriptions (requests are checked with ``signatures``)."""
    return (
        Subscription(
            NOTIFICATION_REQUESTS,
            "requests",
            parse=request_parser(signatures),
            store=store_requests,
            description="Messages to deliver, signed by a Kinship service; queued, then sent "
            "by the delivery worker. Unsigned requests are dead-lettered (unsigned_request); "
            "requests addressed to an erased subject id are skipped, and those produced before "
            "their person's erasure are queued without the person (they fail at once).",
        ),
        Subscription(
            DIRECTORY_PEOPLE,
            "directory",
            parse=parse_directory,
            store=store_directory,
            description="The directory: channels and time zones of recipients.",
        ),
        Subscription(
            ERASURE_REQUESTED,
            "erasure",
            parse=parse_erasure_requests,
            store=store_erasures,
            description="Erasure requests: forget the person's directory entry, preferences, "
            "deliveries to them and their dead letters.",
        ),
        Subscription(
            ERASURE_SUBJECTS,
            "erasure-subjects",
            parse=parse_records(SubjectsErased),
            store=store_erased_subjects,
            description="The erased person's subject ids (from the check-in service): forget "
            "deliveries to them and their dead letters; then the receipt.",
        ),
    )

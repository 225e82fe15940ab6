"""Kafka subscriptions of the notifications service: queue requests, follow the directory.

Queuing is a fast insert keyed by the request id (a redelivered request is ignored);
sending happens in the delivery worker, so the partition never waits for an endpoint. Each
``store`` function receives a batch of events; its other parameters are injected from a
fresh request scope (``kinship_runtime.ingest``).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dishka import FromDishka

from kinship_contracts.directory import DirectoryChange
from kinship_contracts.notifications import NotificationRequest
from kinship_contracts.topics import DIRECTORY_PEOPLE, NOTIFICATION_REQUESTS
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.entrypoints.delivery import DeliveryWorker
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.directory import apply_directory
from kinship_notifications.handlers.ports import NotificationsUnitOfWork
from kinship_runtime.ingest import Subscription
from kinship_runtime.records import Accepted, Record, Rejected, parse_directory, parse_records
from kinship_runtime.telemetry import traceparent_of

_parse_requests = parse_records(NotificationRequest)


def parse_queued(records: Sequence[Record]) -> tuple[list[Accepted[QueuedRequest]], list[Rejected]]:
    """Requests with the trace each came in on, so that its delivery joins that trace."""
    accepted, rejected = _parse_requests(records)
    queued = [
        Accepted(item.record, QueuedRequest(item.event, traceparent_of(item.record.headers)))
        for item in accepted
    ]
    return queued, rejected


async def store_requests(
    requests: Sequence[QueuedRequest],
    uow: FromDishka[NotificationsUnitOfWork],
    worker: FromDishka[DeliveryWorker],
) -> None:
    """Queue a batch of requests once each, then wake the delivery worker."""
    async with uow:
        await accept_requests(requests, uow, datetime.now(UTC))
    worker.wake()


async def store_directory(
    changes: Sequence[DirectoryChange], uow: FromDishka[NotificationsUnitOfWork]
) -> None:
    """Apply a batch of directory changes."""
    async with uow:
        await apply_directory(changes, uow)


SUBSCRIPTIONS: tuple[Subscription[Any], ...] = (
    Subscription(
        NOTIFICATION_REQUESTS,
        "requests",
        parse=parse_queued,
        store=store_requests,
        description="Messages to deliver; queued, then sent by the delivery worker.",
    ),
    Subscription(
        DIRECTORY_PEOPLE,
        "directory",
        parse=parse_directory,
        store=store_directory,
        description="The directory: channels and time zones of recipients.",
        # The check-in service dead-letters invalid directory records (one owner per topic).
        owns_dead_letters=False,
    ),
)

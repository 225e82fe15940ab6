"""Kafka consumers of the notifications service: queue requests, follow the directory.

Queuing is a fast insert keyed by the request id (a redelivered request is ignored);
sending happens in the delivery worker, so the partition never waits for an endpoint.
"""

from collections.abc import Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from kinship_contracts.notifications import NotificationRequest
from kinship_contracts.topics import DIRECTORY_PEOPLE, NOTIFICATION_REQUESTS
from kinship_notifications.bootstrap import NotificationService
from kinship_runtime.ingestion import (
    Accepted,
    DirectoryChange,
    Record,
    consume_directory,
    keep_raw_records,
    parse_records,
    records_of,
    store_or_dead_letter,
)
from kinship_runtime.telemetry import traceparent_of


def _record_of(item: Accepted[Any] | DirectoryChange) -> Record:
    return item.record


def register_consumers(broker: KafkaBroker, service: NotificationService) -> None:
    """Declare the service's subscribers on its broker."""
    settings = service.settings

    @broker.subscriber(
        settings.topic(NOTIFICATION_REQUESTS),
        group_id=settings.consumer_group("requests"),
        title="notifications.requests",
        description="Messages to deliver; queued, then sent by the delivery worker.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=10,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_requests(message: KafkaMessage) -> None:
        accepted, rejected = parse_records(records_of(message), NotificationRequest)

        async def store(items: Sequence[Accepted[NotificationRequest]]) -> None:
            await service.store.accept(
                [item.event for item in items],
                service.clock(),
                [traceparent_of(item.record.headers) for item in items],
            )

        rejected += await store_or_dead_letter(accepted, store, _record_of, "requests")
        if accepted:
            service.worker.wake()
        await service.dead_letters.send(rejected)

    @broker.subscriber(
        settings.topic(DIRECTORY_PEOPLE),
        group_id=settings.consumer_group("directory"),
        title="notifications.directory",
        description="The directory: channels and time zones of recipients.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_directory(message: KafkaMessage) -> None:
        await consume_directory(
            message,
            lambda changes: service.store.apply_directory(changes, service.pseudonyms),
            service.dead_letters,
        )

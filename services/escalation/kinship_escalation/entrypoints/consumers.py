"""Kafka consumers of the escalation service: thin functions over the handlers.

Each batch is handled in one transaction and its offsets committed after it
(``NACK_ON_ERROR``): at-least-once delivery, one effect per event id.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.notifications import NotificationReceipt
from kinship_contracts.signals import SignalSubmitted
from kinship_contracts.topics import (
    CHECKINS_RECORDED,
    CHECKINS_URGENT,
    DIRECTORY_PEOPLE,
    NOTIFICATION_RECEIPTS,
    SIGNALS_SUBMITTED,
)
from kinship_escalation import handlers
from kinship_escalation.adapters.postgres import EscalationUnit
from kinship_escalation.bootstrap import EscalationService
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

M = TypeVar("M", bound=BaseModel)


def _record_of(item: Accepted[Any] | DirectoryChange) -> Record:
    return item.record


def register_consumers(broker: KafkaBroker, service: EscalationService) -> None:
    """Declare the service's subscribers on its broker."""
    settings = service.settings

    async def consume(
        message: KafkaMessage,
        model: type[M],
        handle: Callable[[EscalationUnit, list[M]], Awaitable[object]],
        consumer: str | None,
        id_of: Callable[[M], str] = lambda event: str(getattr(event, "id")),  # noqa: B009
    ) -> None:
        accepted, rejected = parse_records(records_of(message), model)

        async def store(items: Sequence[Accepted[M]]) -> None:
            async with service.store.unit() as unit:
                events = [item.event for item in items]
                if consumer is not None:
                    first = await unit.first_time(consumer, [id_of(e) for e in events])
                    events = [e for e in events if id_of(e) in first]
                if events:
                    await handle(unit, events)
            service.relay.wake()

        rejected += await store_or_dead_letter(accepted, store, _record_of, consumer or "events")
        await service.dead_letters.send(rejected)

    ctx = service.context

    @broker.subscriber(
        settings.topic(CHECKINS_RECORDED),
        group_id=settings.consumer_group("checkins"),
        title="escalation.checkins",
        description="Recorded check-ins: detection and cases.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_checkins(message: KafkaMessage) -> None:
        # Observations are keyed by the check-in id: their insert is the idempotency check.
        await consume(
            message,
            CheckinRecorded,
            lambda unit, events: handlers.handle_checkins(unit, ctx, events),
            None,
        )

    @broker.subscriber(
        settings.topic(CHECKINS_URGENT),
        group_id=settings.consumer_group("urgent"),
        title="escalation.urgent",
        description="Immediate-risk check-ins on their own lane: no backlog delays them.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_urgent_checkins(message: KafkaMessage) -> None:
        # The same event arrives again on the recorded topic: the observation id dedupes it.
        await consume(
            message,
            CheckinRecorded,
            lambda unit, events: handlers.handle_checkins(unit, ctx, events),
            None,
        )

    @broker.subscriber(
        settings.topic(SIGNALS_SUBMITTED),
        group_id=settings.consumer_group("signals"),
        title="escalation.signals",
        description="Signals: critical-incident exposure.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_signals(message: KafkaMessage) -> None:
        await consume(
            message,
            SignalSubmitted,
            lambda unit, events: handlers.handle_signals(unit, ctx, events),
            "signals",
        )

    @broker.subscriber(
        settings.topic(NOTIFICATION_RECEIPTS),
        group_id=settings.consumer_group("receipts"),
        title="escalation.receipts",
        description="Delivery receipts: failed alerts escalate.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_receipts(message: KafkaMessage) -> None:
        await consume(
            message,
            NotificationReceipt,
            lambda unit, events: handlers.handle_receipts(unit, ctx, events),
            "receipts",
        )

    @broker.subscriber(
        settings.topic(DIRECTORY_PEOPLE),
        group_id=settings.consumer_group("directory"),
        title="escalation.directory",
        description="The directory: teams and programme roles.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_directory(message: KafkaMessage) -> None:
        async def apply(changes: list[tuple[str, DirectoryPerson | None]]) -> None:
            async with service.store.unit() as unit:
                await handlers.handle_directory(unit, ctx, changes)

        await consume_directory(message, apply, service.dead_letters)

"""Kafka consumers of the recognition service: thin functions over the handlers."""

from collections.abc import Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from kinship_contracts.cases import CaseEvent
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.topics import (
    CHECKINS_RECORDED,
    DIRECTORY_PEOPLE,
    ESCALATION_CASES,
    GROUP_SESSIONS,
    KUDOS_SUBMITTED,
    PULSE_SUBMITTED,
)
from kinship_recognition import handlers
from kinship_recognition.bootstrap import RecognitionService
from kinship_runtime.ingestion import (
    Accepted,
    Record,
    Rejected,
    consume_directory,
    keep_raw_records,
    parse_records,
    records_of,
    store_or_dead_letter,
)


def _record_of(item: Accepted[Any]) -> Record:
    return item.record


def register_consumers(broker: KafkaBroker, service: RecognitionService) -> None:
    """Declare the service's subscribers on its broker."""
    settings = service.settings
    ctx = service.context

    @broker.subscriber(
        settings.topic(KUDOS_SUBMITTED),
        group_id=settings.consumer_group("kudos"),
        title="recognition.kudos",
        description="Kudos from other systems; refused ones go to the .dlq with the reason.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_kudos(message: KafkaMessage) -> None:
        accepted, rejected = parse_records(records_of(message), KudosSubmitted)
        refused: list[Rejected] = []

        async def store(items: Sequence[Accepted[KudosSubmitted]]) -> None:
            refused.clear()
            async with service.store.unit() as unit:
                for item in items:
                    outcome = await handlers.give_kudos(unit, ctx, item.event)
                    if outcome.refusal is not None:
                        reason: dict[str, Any] = {"code": outcome.refusal.value, "errors": []}
                        refused.append(Rejected(item.record, reason))

        rejected += await store_or_dead_letter(accepted, store, _record_of, "kudos")
        service.relay.wake()
        await service.dead_letters.send([*rejected, *refused])

    @broker.subscriber(
        settings.topic(CHECKINS_RECORDED),
        group_id=settings.consumer_group("checkins"),
        title="recognition.checkins",
        description="Recorded check-ins: only that one happened, for weekly streaks.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_checkins(message: KafkaMessage) -> None:
        accepted, rejected = parse_records(records_of(message), CheckinRecorded)

        async def store(items: Sequence[Accepted[CheckinRecorded]]) -> None:
            async with service.store.unit() as unit:
                await handlers.record_checkins(unit, ctx, [item.event for item in items])

        rejected += await store_or_dead_letter(accepted, store, _record_of, "checkins")
        service.relay.wake()
        await service.dead_letters.send(rejected)

    @broker.subscriber(
        settings.topic(ESCALATION_CASES),
        group_id=settings.consumer_group("cases"),
        title="recognition.cases",
        description="Case transitions: resolutions and thanks appreciate responders.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_cases(message: KafkaMessage) -> None:
        # Group-session proposals share the topic: only case transitions are read here.
        records = [
            record
            for record in records_of(message)
            if dict(record.headers or ()).get("ce_type") != GROUP_SESSIONS.event_type.encode()
        ]
        accepted, rejected = parse_records(records, CaseEvent)

        async def store(items: Sequence[Accepted[CaseEvent]]) -> None:
            async with service.store.unit() as unit:
                await handlers.record_case_events(unit, ctx, [item.event for item in items])

        rejected += await store_or_dead_letter(accepted, store, _record_of, "cases")
        service.relay.wake()
        await service.dead_letters.send(rejected)

    @broker.subscriber(
        settings.topic(PULSE_SUBMITTED),
        group_id=settings.consumer_group("pulse"),
        title="recognition.pulse",
        description="Pulse-survey answers from survey tools, for programme reports.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_pulse(message: KafkaMessage) -> None:
        accepted, rejected = parse_records(records_of(message), PulseSubmitted)

        async def store(items: Sequence[Accepted[PulseSubmitted]]) -> None:
            async with service.store.unit() as unit:
                await handlers.record_pulse(unit, ctx, [item.event for item in items])

        rejected += await store_or_dead_letter(accepted, store, _record_of, "pulse")
        await service.dead_letters.send(rejected)

    @broker.subscriber(
        settings.topic(DIRECTORY_PEOPLE),
        group_id=settings.consumer_group("directory"),
        title="recognition.directory",
        description="The directory: time zones for weekly streaks.",
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
    )
    async def on_directory(message: KafkaMessage) -> None:
        async def apply(changes: list[tuple[str, DirectoryPerson | None]]) -> None:
            async with service.store.unit() as unit:
                await unit.apply_directory(changes, service.pseudonyms)

        await consume_directory(message, apply, service.dead_letters)

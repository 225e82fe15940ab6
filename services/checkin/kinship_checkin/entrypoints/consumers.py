"""Kafka consumers of the check-in service: thin functions over the handlers.

Offsets are committed only after a whole batch is stored (``NACK_ON_ERROR``): at-least-once
delivery, made exactly-once in effect by the event-id primary key.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import ValidationError

from kinship_checkin.bootstrap import CheckinService
from kinship_checkin.handlers import apply_directory_records, record_checkins
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.topics import CHECKINS_SUBMITTED, DIRECTORY_PEOPLE
from kinship_runtime.ingestion import (
    Accepted,
    Record,
    Rejected,
    parse_records,
    store_or_dead_letter,
    validation_reason,
)

log = logging.getLogger(__name__)


async def keep_raw_records(message: StreamMessage[Any]) -> Any:
    """Decoder that leaves bytes alone: validation (and dead-lettering) is ours to do."""
    return None


def records_of(message: StreamMessage[Any]) -> list[Record]:
    """The Kafka records of a (batch) message."""
    raw = message.raw_message
    return list(raw) if isinstance(raw, tuple) else [raw]


@dataclass(frozen=True)
class DirectoryChange:
    """A directory record: a person's new state, or None for a removal."""

    record: Record
    person_id: str
    person: DirectoryPerson | None


def _record_of(item: Accepted[Any] | DirectoryChange) -> Record:
    return item.record


def register_consumers(broker: KafkaBroker, service: CheckinService) -> None:
    """Declare the service's subscribers on its broker."""
    settings = service.settings

    @broker.subscriber(
        settings.topic(CHECKINS_SUBMITTED),
        group_id=settings.consumer_group("submissions"),
        batch=True,
        max_records=settings.ingest_max_records,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
        title="checkin.submissions",
        description="Check-ins from other systems; invalid ones go to the .dlq topic.",
    )
    async def on_checkins_submitted(message: KafkaMessage) -> None:
        accepted, rejected = parse_records(records_of(message), CheckinSubmitted)

        async def store(items: Sequence[Accepted[CheckinSubmitted]]) -> None:
            await record_checkins(
                [item.event for item in items],
                service.store,
                service.privacy,
                service.recorded_topic,
            )

        rejected += await store_or_dead_letter(accepted, store, _record_of, "check-in")
        if accepted:
            service.relay.wake()
        await service.dead_letters.send(rejected)

    @broker.subscriber(
        settings.topic(DIRECTORY_PEOPLE),
        group_id=settings.consumer_group("directory"),
        batch=True,
        max_records=1000,
        batch_timeout_ms=50,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=keep_raw_records,
        title="checkin.directory",
        description="The organisation directory: person to team and time zone.",
    )
    async def on_directory(message: KafkaMessage) -> None:
        changes: list[DirectoryChange] = []
        rejected: list[Rejected] = []
        for record in records_of(message):
            if record.key is None:
                rejected.append(Rejected(record, {"code": "missing_key", "errors": []}))
                continue
            person_id = record.key.decode(errors="replace")
            if record.value is None:
                changes.append(DirectoryChange(record, person_id, None))
                continue
            try:
                person = DirectoryPerson.model_validate_json(record.value)
            except ValidationError as error:
                rejected.append(Rejected(record, validation_reason(error)))
                continue
            if person.person_id != person_id:
                reason = {
                    "code": "key_mismatch",
                    "errors": [{"loc": ["person_id"], "msg": "record key differs from person_id"}],
                }
                rejected.append(Rejected(record, reason))
                continue
            changes.append(DirectoryChange(record, person_id, person))

        async def store(items: Sequence[DirectoryChange]) -> None:
            await apply_directory_records(
                [(item.person_id, item.person) for item in items], service.store
            )

        rejected += await store_or_dead_letter(changes, store, _record_of, "directory")
        await service.dead_letters.send(rejected)

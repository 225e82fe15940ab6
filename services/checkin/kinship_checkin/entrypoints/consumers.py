"""Kafka consumers of the check-in service: thin functions over the handlers.

Offsets are committed only after a whole batch is stored (``NACK_ON_ERROR``): at-least-once
delivery, made exactly-once in effect by the event-id primary key.
"""

import logging
from collections.abc import Sequence
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from kinship_checkin.bootstrap import CheckinService
from kinship_checkin.handlers import apply_directory_records, record_checkins
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.topics import CHECKINS_SUBMITTED, DIRECTORY_PEOPLE
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

log = logging.getLogger(__name__)


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
                urgent_topic=service.urgent_topic,
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
        await consume_directory(
            message,
            lambda changes: apply_directory_records(changes, service.store),
            service.dead_letters,
        )

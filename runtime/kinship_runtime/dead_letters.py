"""Dead letters: records that cannot be used go to ``<topic>.dlq``, with a reason.

The dead letter keeps the original key, bytes and headers, plus ``kinship-dlq-*`` headers that
say why; consumption then continues. Reasons never contain the offending values. Where a
payload may hold personal data, the service passes a ``seal``: the original bytes are then
stored encrypted (header ``kinship-dlq-sealed`` names the key), so they can be recovered
exactly but not read on Kafka.
"""

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from kinship_runtime.records import Record, Rejected
from kinship_runtime.resilience import retry_transient

log = logging.getLogger(__name__)

Seal = Callable[[bytes, str], tuple[str, bytes]]
"""Encrypts a payload with associated data; returns (key id, ciphertext)."""


def dead_letter_aad(record: Record) -> str:
    """Associated data binding a sealed dead letter to its original position."""
    return f"{record.topic}:{record.partition}:{record.offset}"


class DeadLetters:
    """Publishes rejected records to their topic's dead-letter topic."""

    def __init__(
        self, producer: AIOKafkaProducer, consumer_name: str, seal: Seal | None = None
    ) -> None:
        self._producer = producer
        self._consumer_name = consumer_name
        self._seal = seal

    async def send(self, rejected: Sequence[Rejected]) -> None:
        """Dead-letter every rejection and wait until the broker has them all.

        A broker outage is waited out: the batch (and its offsets) is held until the dead
        letters are safe, so nothing is lost.
        """
        if rejected:
            await retry_transient(lambda: self._send(rejected), "dead-letter publishing", log)

    async def _send(self, rejected: Sequence[Rejected]) -> None:
        failed_at = datetime.now(UTC).isoformat()
        sends = []
        for item in rejected:
            record = item.record
            headers = [
                *(record.headers or ()),
                ("kinship-dlq-reason", json.dumps(item.reason).encode()),
                ("kinship-dlq-code", str(item.reason["code"]).encode()),
                ("kinship-dlq-topic", record.topic.encode()),
                ("kinship-dlq-partition", str(record.partition).encode()),
                ("kinship-dlq-offset", str(record.offset).encode()),
                ("kinship-dlq-consumer", self._consumer_name.encode()),
                ("kinship-dlq-failed-at", failed_at.encode()),
            ]
            value = record.value
            if value is not None and self._seal is not None:
                key_id, value = self._seal(value, dead_letter_aad(record))
                headers.append(("kinship-dlq-sealed", key_id.encode()))
            sends.append(
                await self._producer.send(
                    f"{record.topic}.dlq", value=value, key=record.key, headers=headers
                )
            )
        await asyncio.gather(*sends)
        for item in rejected:
            log.warning(
                "dead-lettered a record",
                extra={
                    "topic": item.record.topic,
                    "partition": item.record.partition,
                    "offset": item.record.offset,
                    "reason_code": item.reason["code"],
                },
            )

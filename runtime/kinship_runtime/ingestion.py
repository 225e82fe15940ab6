"""Ingestion from other systems: validate raw Kafka records, dead-letter the invalid ones.

A record that fails validation goes to ``<topic>.dlq`` with its original key, bytes and
headers, plus ``kinship-dlq-*`` headers that say why; consumption then continues. Reasons
never contain the offending values: a rejected note must not leak into the dead-letter
headers, logs or traces.
"""

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


class Record(Protocol):
    """The parts of a consumed Kafka record that ingestion reads (aiokafka's ConsumerRecord)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True)
class Accepted(Generic[ModelT]):
    """A record that passed validation."""

    record: Record
    event: ModelT


@dataclass(frozen=True)
class Rejected:
    """A record that failed validation, with a machine-readable reason."""

    record: Record
    reason: dict[str, Any]


def validation_reason(error: ValidationError) -> dict[str, Any]:
    """A reason listing each failing field, without the submitted values."""
    return {
        "code": "validation_failed",
        "errors": [
            {"loc": list(detail["loc"]), "msg": detail["msg"], "type": detail["type"]}
            for detail in error.errors(
                include_url=False, include_input=False, include_context=False
            )
        ],
    }


def _headers(record: Record) -> dict[str, bytes]:
    return {name: value for name, value in (record.headers or ())}


def parse_records(
    records: Sequence[Record], model: type[ModelT], id_field: str = "id"
) -> tuple[list[Accepted[ModelT]], list[Rejected]]:
    """Split records into valid events and rejections.

    A ``ce_id`` header, when present, must equal the payload's id: the id is the
    idempotency key, and two different keys for one event would defeat it.
    """
    accepted: list[Accepted[ModelT]] = []
    rejected: list[Rejected] = []
    for record in records:
        if record.value is None:
            rejected.append(Rejected(record, {"code": "empty_value", "errors": []}))
            continue
        try:
            event = model.model_validate_json(record.value)
        except ValidationError as error:
            rejected.append(Rejected(record, validation_reason(error)))
            continue
        ce_id = _headers(record).get("ce_id")
        if ce_id is not None and ce_id.decode(errors="replace") != getattr(event, id_field):
            reason = {
                "code": "id_mismatch",
                "errors": [{"loc": [id_field], "msg": "ce_id header differs from payload id"}],
            }
            rejected.append(Rejected(record, reason))
            continue
        accepted.append(Accepted(record, event))
    return accepted, rejected


class DeadLetters:
    """Publishes rejected records to their topic's dead-letter topic."""

    def __init__(self, producer: AIOKafkaProducer, consumer_name: str) -> None:
        self._producer = producer
        self._consumer_name = consumer_name

    async def send(self, rejected: Sequence[Rejected]) -> None:
        """Dead-letter every rejection and wait until the broker has them all."""
        if not rejected:
            return
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
            sends.append(
                await self._producer.send(
                    f"{record.topic}.dlq", value=record.value, key=record.key, headers=headers
                )
            )
            log.warning(
                "dead-lettered a record",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason_code": item.reason["code"],
                },
            )
        await asyncio.gather(*sends)

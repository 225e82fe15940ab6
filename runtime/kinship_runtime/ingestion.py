"""TRANSITIONAL (replaced by kinship_runtime.ingest and .records).

Ingestion from other systems: validate raw Kafka records, dead-letter the invalid ones.

A record that fails validation goes to ``<topic>.dlq`` with its original key, bytes and
headers, plus ``kinship-dlq-*`` headers that say why; consumption then continues. Reasons
never contain the offending values: a rejected note must not leak into the dead-letter
headers, logs or traces. Where the payload may hold free text (check-in notes), the service
passes a ``seal`` function: the original bytes are then stored encrypted (header
``kinship-dlq-sealed`` names the key), so they can be recovered exactly but not read on Kafka.
"""

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from kinship_contracts.directory import DirectoryPerson

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


async def keep_raw_records(message: StreamMessage[Any]) -> Any:
    """FastStream decoder that leaves bytes alone: validation and dead letters are ours."""
    return None


def records_of(message: StreamMessage[Any]) -> list[Record]:
    """The Kafka records of a (batch) message."""
    raw = message.raw_message
    return list(raw) if isinstance(raw, tuple) else [raw]


@dataclass(frozen=True)
class DirectoryChange:
    """A ``directory.people`` record: a person's new state, or None for a removal."""

    record: Record
    person_id: str
    person: DirectoryPerson | None


def parse_directory(records: Sequence[Record]) -> tuple[list[DirectoryChange], list[Rejected]]:
    """Directory changes (keyed by person_id; a null value removes) and rejections."""
    changes: list[DirectoryChange] = []
    rejected: list[Rejected] = []
    for record in records:
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
    return changes, rejected


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
            value = record.value
            if value is not None and self._seal is not None:
                key_id, value = self._seal(value, dead_letter_aad(record))
                headers.append(("kinship-dlq-sealed", key_id.encode()))
            sends.append(
                await self._producer.send(
                    f"{record.topic}.dlq", value=value, key=record.key, headers=headers
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


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)
"""Errors that mean "the database is away", not "this record is wrong"."""


async def until_stored(operation: Callable[[], Awaitable[object]], what: str) -> None:
    """Retry an operation through database outages, with capped exponential backoff.

    Holding the batch (and so the partition) is right here: nothing can be stored until the
    database is back, and the offsets stay uncommitted meanwhile.
    """
    delay = 0.2
    while True:
        try:
            await operation()
            return
        except TRANSIENT_ERRORS as error:
            log.warning("%s waits for the database: %s", what, type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


ItemT = TypeVar("ItemT")


async def store_or_dead_letter(
    items: Sequence[ItemT],
    store: Callable[[Sequence[ItemT]], Awaitable[object]],
    record_of: Callable[[ItemT], Record],
    what: str,
) -> list[Rejected]:
    """Store a batch; if it fails for a reason other than an outage, retry record by record.

    The records that still fail are returned as rejections for the dead-letter topic, so one
    poisonous record never stops a partition.
    """
    if not items:
        return []
    try:
        await until_stored(functools.partial(store, items), what)
        return []
    except (asyncpg.PostgresError, ValueError):
        log.exception("%s batch failed; retrying record by record", what)
    rejected = []
    for item in items:
        try:
            await until_stored(functools.partial(store, [item]), what)
        except (asyncpg.PostgresError, ValueError) as error:
            reason = {"code": "processing_failed", "errors": [{"msg": type(error).__name__}]}
            rejected.append(Rejected(record_of(item), reason))
    return rejected


async def consume_directory(
    message: StreamMessage[Any],
    apply: Callable[[list[tuple[str, DirectoryPerson | None]]], Awaitable[object]],
    dead_letters: DeadLetters,
) -> None:
    """The body of every service's ``directory.people`` subscriber.

    Parses the batch (a null value removes a person), applies it (isolating a record the
    database refuses), and dead-letters what could not be used.
    """
    changes, rejected = parse_directory(records_of(message))

    async def store(items: Sequence[DirectoryChange]) -> None:
        await apply([(item.person_id, item.person) for item in items])

    rejected += await store_or_dead_letter(changes, store, _change_record, "directory")
    await dead_letters.send(rejected)


def _change_record(change: DirectoryChange) -> Record:
    return change.record

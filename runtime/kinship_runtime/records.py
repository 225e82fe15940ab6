"""Consumed Kafka records: reading them tolerantly and validating them into events.

FastStream decodes every header value as UTF-8 before a subscriber runs and drops the whole
batch when one value is not; ``tolerant_parser`` decodes with replacement instead, so a
record with a bad header reaches validation (and the dead-letter topic) like any other bad
record, and its neighbours are kept. Subscribers read the original ``aiokafka`` records, with
their original bytes, through ``records_of``.
"""

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from kinship_contracts.directory import (
    DirectoryChange,
    DirectoryRecordError,
    parse_directory_record,
)
from kinship_contracts.errors import safe_field_errors

T = TypeVar("T")
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
class Accepted(Generic[T]):
    """A record that passed validation, with the event it carries."""

    record: Record
    event: T


@dataclass(frozen=True)
class Rejected:
    """A record that cannot be used, with a machine-readable reason that quotes nothing."""

    record: Record
    reason: dict[str, Any]


Parse = Callable[[Sequence[Record]], tuple[list[Accepted[T]], list[Rejected]]]
"""Splits a batch of records into accepted events and rejections."""


def header(record: Record, name: str) -> str | None:
    """A header's value as text (undecodable bytes replaced), or None when absent."""
    value = header_bytes(record, name)
    return None if value is None else value.decode(errors="replace")


def header_bytes(record: Record, name: str) -> bytes | None:
    """A header's first non-null value as it came, or None when absent."""
    for key, value in record.headers or ():
        if key == name and value is not None:
            return value
    return None


def same_text(value: bytes, text: str) -> bool:
    """Whether ``value`` decoded as ``header`` decodes it (undecodable bytes replaced) is
    ``text``: compared as bytes first, decoded only when they differ."""
    try:
        if value == text.encode():
            return True
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 bytes can equal it
        pass
    return value.decode(errors="replace") == text


def parse_records(model: type[ModelT], id_field: str = "id") -> Parse[ModelT]:
    """A parser of records carrying ``model`` JSON payloads.

    A ``ce_id`` header, when present, must equal the payload's id: the id is the idempotency
    key, and two different keys for one event would defeat it. (It is compared as bytes
    first and decoded only when they differ: the same answer as decoding it, for less.)
    """
    validate = model.model_validate_json

    def parse(records: Sequence[Record]) -> tuple[list[Accepted[ModelT]], list[Rejected]]:
        accepted: list[Accepted[ModelT]] = []
        rejected: list[Rejected] = []
        for record in records:
            value = record.value
            if value is None:
                rejected.append(Rejected(record, {"code": "empty_value", "errors": []}))
                continue
            try:
                event = validate(value)
            except ValidationError as error:
                reason = {"code": "validation_failed", "errors": safe_field_errors(error, model)}
                rejected.append(Rejected(record, reason))
                continue
            ce_id = header_bytes(record, "ce_id")
            if ce_id is not None and not same_text(ce_id, getattr(event, id_field)):
                reason = {
                    "code": "id_mismatch",
                    "errors": [{"loc": [id_field], "msg": "ce_id header differs from payload id"}],
                }
                rejected.append(Rejected(record, reason))
                continue
            accepted.append(Accepted(record, event))
        return accepted, rejected

    return parse


def parse_directory(
    records: Sequence[Record],
) -> tuple[list[Accepted[DirectoryChange]], list[Rejected]]:
    """Directory changes (keyed by person_id; a null value removes) and rejections."""
    accepted: list[Accepted[DirectoryChange]] = []
    rejected: list[Rejected] = []
    for record in records:
        try:
            accepted.append(Accepted(record, parse_directory_record(record.key, record.value)))
        except DirectoryRecordError as error:
            rejected.append(Rejected(record, error.reason))
    return accepted, rejected


async def keep_raw_records(message: StreamMessage[Any]) -> Any:
    """FastStream decoder that leaves bytes alone: validation and dead letters are ours."""
    return None


def records_of(message: StreamMessage[Any]) -> list[Record]:
    """The original Kafka records of a (batch) message."""
    raw = message.raw_message
    return list(raw) if isinstance(raw, tuple | list) else [raw]


def _decodable(record: Any) -> Any:
    headers = tuple(record.headers or ())
    if all(_is_utf8(value) for _, value in headers):
        return record
    safe = tuple(
        (name, value if _is_utf8(value) else value.decode(errors="replace").encode())
        for name, value in headers
    )
    return dataclasses.replace(record, headers=safe)


def _is_utf8(value: bytes | None) -> bool:
    if value is None:
        return True
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


async def tolerant_parser(
    message: Any, original: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream parser that survives header values that are not UTF-8.

    FastStream's own parser decodes the (replaced) copy of a batch's first record only; the
    message keeps the original records, bytes and headers untouched, for validation and
    dead-lettering.
    """
    if isinstance(message, tuple) and message:
        # FastStream decodes every record's headers into dicts (``batch_headers``) that
        # nothing here reads: subscribers, tracing and dead letters read the original records.
        # It is given the first record only (its message id and headers come from that one),
        # which saves a decode and a UTF-8 check per header per record.
        parsed = await original((_decodable(message[0]),))
    else:
        parsed = await original(_decodable(message))
    parsed.raw_message = message
    return parsed


def produced_at(record: Record) -> datetime | None:
    """When a consumed record was produced: its Kafka timestamp (aiokafka's
    ``ConsumerRecord.timestamp``, milliseconds since the epoch: the producer's create time,
    kept by a replay or a consumer-group reset, or the broker's append time, per the topic's
    ``message.timestamp.type``); None when it has none (-1 in old message formats)."""
    millis = getattr(record, "timestamp", None)
    if not isinstance(millis, int) or isinstance(millis, bool) or millis < 0:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)

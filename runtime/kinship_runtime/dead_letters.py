"""Dead letters: records that cannot be used go to ``<topic>.dlq``, sealed, with a reason.

A dead letter keeps the original headers and, sealed, the original bytes, plus
``kinship-dlq-*`` headers that say why; consumption then continues. Reasons never contain
the offending values.

Every dead letter is sealed (AES-256-GCM) with a key of its own (``DeadLetterKeys``). The key
is stored in the service's schema, wrapped with ``KINSHIP_DEAD_LETTER_KEY``, next to the
people the record names (any ``*person_id`` or ``subject_id`` field, and the record key of a
person-keyed topic). Erasing a person deletes those keys: every copy of their dead letters —
on Kafka, in a backup of the topic — becomes unreadable. Keys also expire with the topic's
retention. The dead letter's own Kafka key is the key id, never a person's id. An operator
can still recover a dead letter exactly (``DeadLetterKeys.open``) while its key lives.
"""

import asyncio
import base64
import json
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kinship_contracts.topics import DEAD_LETTER_RETENTION_MS
from kinship_runtime.database import Connection
from kinship_runtime.records import Record, Rejected
from kinship_runtime.resilience import retry_transient
from kinship_runtime.workers import LoopWorker, SupervisedLoop

log = logging.getLogger(__name__)

NONCE_BYTES = 12
_PERSON_FIELDS = ("person_id", "from_person_id", "to_person_id", "subject_id")


def dead_letter_aad(record: Record) -> str:
    """Associated data binding a sealed dead letter to its original position."""
    return f"{record.topic}:{record.partition}:{record.offset}"


def people_in(record: Record) -> set[str]:
    """The people a record names: its person or subject fields, and a person-id key.

    Best effort over bytes that failed validation: whatever can be read is used. Text
    PostgreSQL cannot store (a NUL, an unpaired surrogate) names nobody (no person id can
    hold it) and is left out: it used to fail the whole batch's dead-lettering.
    """
    refs: set[str] = set()
    try:
        payload: Any = json.loads(record.value) if record.value else None
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict):
        for field in _PERSON_FIELDS:
            value = payload.get(field)
            if isinstance(value, str) and value:
                refs.add(value[:200])
    if record.key:
        refs.add(record.key.decode(errors="replace")[:200])
    return {ref for ref in refs if _storable(ref)}


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


CLEAR_HEADERS = frozenset(
    {
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_specversion",
        "ce_time",
        "content-type",
        "traceparent",
        "tracestate",
    }
)
"""Headers a dead letter keeps in clear; any other header of the original is sealed too."""


@dataclass(frozen=True)
class Sealed:
    """A dead letter's sealed parts: key id, value and the headers not kept in clear."""

    key_id: str
    value: bytes | None
    headers: bytes | None


class Sealer(Protocol):
    """Seals dead letters (``DeadLetterKeys``; a fake in unit tests)."""

    async def seal(self, records: Sequence[Record]) -> list["Sealed"]:
        """Each record's sealed parts."""
        ...


EXPIRY_BATCH = 1000
"""Expired dead-letter keys deleted per statement (a round repeats while it fills one)."""
_EXPIRE = (
    "DELETE FROM dead_letter_keys WHERE key_id = ANY(ARRAY("
    " SELECT key_id FROM dead_letter_keys WHERE expires_at < $1 LIMIT $2))"
)
EXPIRY_POLL_SECONDS = 3600.0


class DeadLetterKeys:
    """Per-dead-letter keys in ``dead_letter_keys``, wrapped with the service's key."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        wrapping_key: bytes,
        retention: timedelta = timedelta(milliseconds=DEAD_LETTER_RETENTION_MS),
    ) -> None:
        if len(wrapping_key) < 32:
            raise ValueError("the dead-letter wrapping key needs 32 bytes")
        self._pool = pool
        self._wrap = AESGCM(wrapping_key[:32])
        self._retention = retention

    async def seal(self, records: Sequence[Record]) -> list[Sealed]:
        """Each record's sealed parts; the keys are stored before anything is sent."""
        now = datetime.now(UTC)
        sealed: list[Sealed] = []
        keys: list[tuple[str, bytes]] = []
        people: list[tuple[str, str]] = []
        for record in records:
            key_id, key = f"dlk-{secrets.token_hex(16)}", AESGCM.generate_key(256)
            keys.append((key_id, self._wrapped(key_id, key)))
            people += [(key_id, ref) for ref in sorted(people_in(record))]
            aad = dead_letter_aad(record)
            other = [
                [name, base64.b64encode(value or b"").decode()]
                for name, value in record.headers or ()
                if name not in CLEAR_HEADERS
            ]
            sealed.append(
                Sealed(
                    key_id,
                    _encrypt(key, record.value, aad) if record.value is not None else None,
                    _encrypt(key, json.dumps(other).encode(), f"{aad}:headers") if other else None,
                )
            )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO dead_letter_keys (key_id, wrapped_key, expires_at)"
                " VALUES ($1, $2, $3)",
                [(key_id, wrapped, now + self._retention) for key_id, wrapped in keys],
            )
            if people:
                await conn.executemany(
                    "INSERT INTO dead_letter_key_people (key_id, person_ref) VALUES ($1, $2)",
                    people,
                )
            await conn.execute(_EXPIRE, now, EXPIRY_BATCH)
        return sealed

    async def expire(self, now: datetime | None = None) -> int:
        """Delete up to ``EXPIRY_BATCH`` keys past their retention (their people links go
        with them); how many went. Run periodically by ``DeadLetterKeyExpiry``, so keys do
        not outlive the retention when no new dead letter is sealed."""
        status = await self._pool.execute(_EXPIRE, now or datetime.now(UTC), EXPIRY_BATCH)
        return int(status.split()[-1])

    async def open(self, key_id: str, blob: bytes, aad: str) -> bytes | None:
        """The original bytes of a sealed dead letter, or None once its key is gone."""
        wrapped = await self._pool.fetchval(
            "SELECT wrapped_key FROM dead_letter_keys WHERE key_id = $1", key_id
        )
        if wrapped is None:
            return None
        key = self._wrap.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode())
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())

    async def open_headers(self, key_id: str, blob: bytes, aad: str) -> list[tuple[str, bytes]]:
        """The original headers a dead letter sealed (``kinship-dlq-sealed-headers``)."""
        opened = await self.open(key_id, blob, f"{aad}:headers")
        if opened is None:
            return []
        return [(name, base64.b64decode(value)) for name, value in json.loads(opened)]

    def _wrapped(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrap.encrypt(nonce, key, key_id.encode())


def _encrypt(key: bytes, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


async def shred_dead_letters(conn: Connection, person_refs: Sequence[str]) -> int:
    """Delete the keys of every dead letter naming any of ``person_refs`` (erasure)."""
    if not person_refs:
        return 0
    deleted = await conn.fetch(
        "DELETE FROM dead_letter_keys WHERE key_id IN ("
        " SELECT key_id FROM dead_letter_key_people WHERE person_ref = ANY($1::text[]))"
        " RETURNING key_id",
        list(person_refs),
    )
    return len(deleted)


class DeadLetters:
    """Publishes rejected records, sealed, to their topic's dead-letter topic."""

    def __init__(self, producer: AIOKafkaProducer, consumer_name: str, keys: Sealer) -> None:
        self._producer = producer
        self._consumer_name = consumer_name
        self._keys = keys

    async def send(self, rejected: Sequence[Rejected]) -> None:
        """Dead-letter every rejection and wait until the broker has them all.

        An outage (database or broker) is waited out: the batch (and its offsets) is held
        until the dead letters are safe, so nothing is lost.
        """
        if rejected:
            await retry_transient(lambda: self._send(rejected), "dead-letter publishing", log)

    async def _send(self, rejected: Sequence[Rejected]) -> None:
        failed_at = datetime.now(UTC).isoformat()
        sealed = await self._keys.seal([item.record for item in rejected])
        sends = []
        for item, parts in zip(rejected, sealed, strict=True):
            record = item.record
            headers = [
                *((name, value) for name, value in record.headers or () if name in CLEAR_HEADERS),
                ("kinship-dlq-reason", json.dumps(item.reason).encode()),
                ("kinship-dlq-code", str(item.reason["code"]).encode()),
                ("kinship-dlq-topic", record.topic.encode()),
                ("kinship-dlq-partition", str(record.partition).encode()),
                ("kinship-dlq-offset", str(record.offset).encode()),
                ("kinship-dlq-consumer", self._consumer_name.encode()),
                ("kinship-dlq-failed-at", failed_at.encode()),
                ("kinship-dlq-sealed", parts.key_id.encode()),
            ]
            if parts.headers is not None:
                headers.append(("kinship-dlq-sealed-headers", parts.headers))
            sends.append(
                await self._producer.send(
                    f"{record.topic}.dlq",
                    value=parts.value,
                    key=parts.key_id.encode(),
                    headers=headers,
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


class DeadLetterKeyExpiry(LoopWorker):
    """Deletes dead-letter keys past their retention every ``poll_seconds`` (a
    ``SupervisedLoop``): a dead letter then no longer opens, and the key's links to people
    go too, whether or not new dead letters arrive."""

    def __init__(self, keys: DeadLetterKeys, poll_seconds: float = EXPIRY_POLL_SECONDS) -> None:
        self._keys = keys
        self._loop = SupervisedLoop("dead-letter-expiry", self._round, poll_seconds=poll_seconds)
        self.name = self._loop.name
        self.expired = 0

    async def _round(self) -> bool:
        deleted = await self._keys.expire()
        self.expired += deleted
        return deleted >= EXPIRY_BATCH  # a full batch: more may be waiting

"""Erased subject ids, recognised without being kept: keyed hashes.

After an erasure, an event about the person can still arrive: a backlog consumed after an
outage, or a replay of a topic keyed by subject id (``wellbeing.checkins.recorded``,
``escalation.cases``: kept 30 days). Stored, it would bring the person's old subject id (and
case ids) back. So a service that stores by subject id keeps a record of erased subject ids
for as long as those topics keep records, and skips the events it names. To keep the
erasure's promise that nothing says which subject ids it concerned, the record holds
HMAC-SHA256 digests under a key the database does not hold, never the ids.

Each service keeps its own record (an ``erased_ids`` table of its schema) and its own key,
derived from its dead-letter key with a label naming the service; ``ErasedIdsExpiry``
deletes digests past their time.

The check-in service keeps erased *person* ids the same way (``ErasedIds(kind="person")``),
in a table with one more column, ``erased_at``: a person may check in again after their
erasure, so only events produced at or before it are skipped (``erased_since``).
"""

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import TracebackType
from typing import Any, Protocol, TypeVar

from kinship_contracts.topics import (
    CHECKINS_RECORDED,
    CHECKINS_SUBMITTED,
    DAY_MS,
    ESCALATION_CASES,
    KUDOS_SUBMITTED,
    PULSE_SUBMITTED,
    SIGNALS_SUBMITTED,
)
from kinship_runtime.database import Connection, PoolTransaction
from kinship_runtime.workers import LoopWorker, SupervisedLoop

T = TypeVar("T")

SEGMENT_DAYS = 8
"""How long a record can outlive its topic's retention: Kafka deletes a log segment only when
its newest record is older than ``retention.ms``, and rolls a segment at the latest after
``log.roll.ms`` (7 days by default), so a record stays readable up to retention + 7 days; one
more day for the broker's deletion check (review 7)."""

KEEP_DAYS = (
    max(CHECKINS_RECORDED.retention_ms, ESCALATION_CASES.retention_ms) // DAY_MS + SEGMENT_DAYS
)
"""How long erased subject ids are recognised by default: as long as the topics that bring
events by subject id can still serve a record (30 days' retention + ``SEGMENT_DAYS``)."""

PERSON_KEEP_DAYS = (
    max(
        topic.retention_ms
        for topic in (CHECKINS_SUBMITTED, SIGNALS_SUBMITTED, PULSE_SUBMITTED, KUDOS_SUBMITTED)
    )
    // DAY_MS
    + SEGMENT_DAYS
)
"""How long erased person ids are recognised by default: as long as the ingestion topics that
bring events by person id can still serve a record (7 days' retention + ``SEGMENT_DAYS``)."""


def derive_key(secret: bytes, label: str) -> bytes:
    """The digests' key: HMAC-SHA256 of ``label`` (naming the service and this use) under
    ``secret``, so the same secret never keys two uses directly."""
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ErasedIds:
    """How a service recognises erased subject ids (or, ``kind="person"``, person ids):
    ``key`` makes the digests, and each is kept for ``keep_for`` from the erasure."""

    key: bytes = field(repr=False)
    keep_for: timedelta
    kind: str = "subject"
    """What the ids are; prefixes what is hashed, so one id of two kinds has two digests."""

    def digest(self, subject_id: str) -> bytes:
        """The keyed hash kept for (and looked up by) an id."""
        return _digest(self.key, self.kind, subject_id)

    def digests(self, subject_ids: Iterable[str]) -> list[bytes]:
        """The distinct digests of ``subject_ids``, in a stable order."""
        return sorted({self.digest(subject_id) for subject_id in set(subject_ids)})

    def keep(
        self, items: Sequence[T], subject_of: Callable[[T], str], erased: set[bytes]
    ) -> list[T]:
        """The items whose subject's digest is not in ``erased``, in their order."""
        return [item for item in items if self.digest(subject_of(item)) not in erased]


@lru_cache(maxsize=16_384)
def _digest(key: bytes, kind: str, id_: str) -> bytes:
    """HMAC-SHA256 of ``<kind>:<id>`` under ``key`` (one-shot ``hmac.digest``), remembered for
    the ids seen lately: every consumed batch looks up each of its subjects, and people
    check in again and again (about 4 MB for 16,384 UUID-sized ids: review 7 measured 14.6 MB
    for 65,536; digests of ids the process holds anyway)."""
    return hmac.digest(key, f"{kind}:{id_}".encode(), "sha256")


# An erasure and a batch about the same subject must not interleave: a batch that checked
# the record before the erasure's digests were in, and stored after its rows were anonymised,
# would bring the subject back (review 6). The erasure takes this lock exclusively before it
# writes the digests (and before it reads what to anonymise); a batch takes it shared before
# it checks, so batches never wait for each other, only for an erasure in progress. One
# lock per schema (services sharing a database do not wait for each other's erasures).
_LOCK = (
    "SELECT pg_advisory_xact_lock{shared}(hashtext('kinship.erased-ids'),"
    " hashtext(current_schema()))"
)


async def remember_erased(
    conn: Connection,
    digests: Sequence[bytes],
    until: datetime,
    erased_at: datetime | None = None,
) -> None:
    """Keep the digests of erased ids until ``until`` (the later time wins), after every batch
    that checked the record before them has committed. Call it in the erasure's transaction
    before anything else the erasure reads or writes. ``erased_at`` (the erasure's time; the
    later wins) only where the table has that column (the person ids').

    The time kept is the erasure's once it holds the lock: the later of ``erased_at`` (the
    service's clock when it began; a test's clock may be ahead) and the service's clock
    after the lock was granted; ``until`` moves by as much. A record produced while the
    erasure waited for batches in progress is then at or before its time, and skipped when
    consumed after it (review 7, L3). It is still the service's clock compared with the
    broker's record timestamps: skew between them moves the boundary by as much.
    """
    await conn.execute(_LOCK.format(shared=""))
    if erased_at is not None:
        held = max(erased_at, datetime.now(UTC))
        until, erased_at = until + (held - erased_at), held
    if erased_at is None:
        await conn.execute(
            "INSERT INTO erased_ids (digest, expires_at)"
            " SELECT d, $2 FROM unnest($1::bytea[]) AS d"
            " ON CONFLICT (digest) DO UPDATE"
            " SET expires_at = greatest(erased_ids.expires_at, excluded.expires_at)",
            list(digests),
            until,
        )
        return
    await conn.execute(
        "INSERT INTO erased_ids (digest, erased_at, expires_at)"
        " SELECT d, $3, $2 FROM unnest($1::bytea[]) AS d"
        " ON CONFLICT (digest) DO UPDATE"
        " SET expires_at = greatest(erased_ids.expires_at, excluded.expires_at),"
        " erased_at = greatest(erased_ids.erased_at, excluded.erased_at)",
        list(digests),
        until,
        erased_at,
    )


async def erased_among(conn: Connection, digests: Sequence[bytes], now: datetime) -> set[bytes]:
    """Those of ``digests`` kept as erased and not expired at ``now``; waits for an erasure in
    progress. Call it in the batch's transaction before the batch reads or stores anything."""
    if not digests:
        return set()
    await conn.execute(_LOCK.format(shared="_shared"))
    rows = await conn.fetch(
        "SELECT digest FROM erased_ids WHERE digest = ANY($1::bytea[]) AND expires_at > $2",
        list(digests),
        now,
    )
    return {bytes(row["digest"]) for row in rows}


async def erased_since(
    conn: Connection, digests: Sequence[bytes], now: datetime
) -> dict[bytes, datetime]:
    """Those of ``digests`` kept as erased and not expired at ``now``, with when each was
    (last) erased; like ``erased_among`` (same lock), for a table with ``erased_at``."""
    if not digests:
        return {}
    await conn.execute(_LOCK.format(shared="_shared"))
    rows = await conn.fetch(
        "SELECT digest, erased_at FROM erased_ids"
        " WHERE digest = ANY($1::bytea[]) AND expires_at > $2 AND erased_at IS NOT NULL",
        list(digests),
        now,
    )
    return {bytes(row["digest"]): row["erased_at"] for row in rows}


async def forget_erased(conn: Connection, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` digests expired at ``now``; how many."""
    status = await conn.execute(
        "DELETE FROM erased_ids WHERE digest = ANY(ARRAY("
        " SELECT digest FROM erased_ids WHERE expires_at <= $1 LIMIT $2))",
        now,
        limit,
    )
    return int(status.rsplit(" ", 1)[-1])


EXPIRY_BATCH = 1000
"""Digests deleted per transaction (a round repeats at once while it fills one)."""
EXPIRY_POLL_SECONDS = 3600.0

Expire = Callable[[datetime, int], Awaitable[int]]
"""Deletes up to ``limit`` digests expired at ``now`` in a transaction of its own; how many."""


class ErasedIdsExpiry(LoopWorker):
    """Deletes the digests of erased subject ids past their time every ``poll_seconds`` (a
    ``SupervisedLoop``), whether or not erasures keep coming."""

    def __init__(self, expire: Expire, poll_seconds: float = EXPIRY_POLL_SECONDS) -> None:
        self._expire = expire
        self._loop = SupervisedLoop("erased-ids-expiry", self.expire, poll_seconds=poll_seconds)
        self.name = self._loop.name
        self.expired = 0

    async def expire(self) -> bool:
        """One round: delete up to ``EXPIRY_BATCH`` expired digests; True when it filled the
        batch (more may be waiting)."""
        deleted = await self._expire(datetime.now(UTC), EXPIRY_BATCH)
        self.expired += deleted
        return deleted >= EXPIRY_BATCH


class ErasedIdsTransaction(PoolTransaction):
    """A unit of work over a schema with an ``erased_ids`` table: its record of erased ids
    (the functions above, in the transaction in progress). The services' PostgreSQL units of
    work extend it."""

    async def remember_erased(
        self, digests: Sequence[bytes], until: datetime, *, erased_at: datetime | None = None
    ) -> None:
        """Keep the digests of erased ids until ``until`` (the later time wins); of erased
        person ids, with the erasure's time ``erased_at`` (``remember_erased``)."""
        await remember_erased(self.conn, digests, until, erased_at=erased_at)

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        """Those of ``digests`` kept as erased and not expired at ``now``."""
        return await erased_among(self.conn, digests, now)

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` (person ids) erased and not expired at ``now``, with when."""
        return await erased_since(self.conn, digests, now)

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``; how many."""
        return await forget_erased(self.conn, now, limit)


class ForgetsErased(Protocol):
    """A unit of work that can delete expired digests (``ErasedIdsTransaction``)."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any: ...

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``; how many."""
        ...


def expire_in(new_unit_of_work: Callable[[], ForgetsErased]) -> Expire:
    """An ``Expire`` that deletes expired digests in a unit of work of its own."""

    async def expire(now: datetime, limit: int) -> int:
        uow = new_unit_of_work()
        async with uow:
            return await uow.forget_erased(now, limit)

    return expire


@asynccontextmanager
async def running_expiry(expire: Expire) -> AsyncIterator[ErasedIdsExpiry]:
    """An ``ErasedIdsExpiry`` started for the block and stopped after it (a composition
    root's provider yields it)."""
    expiry = ErasedIdsExpiry(expire)
    expiry.start()
    try:
        yield expiry
    finally:
        await expiry.stop()

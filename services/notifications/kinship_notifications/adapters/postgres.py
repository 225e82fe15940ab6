"""PostgreSQL unit of work of the notifications service: deliveries, preferences, the
directory projection and the outbox."""

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from kinship_contracts.directory import Channels, DirectoryChange
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_notifications.domain.deliveries import (
    Delivery,
    DeliveryState,
    QueuedRequest,
    Reachable,
)
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.database import PoolTransaction
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.outbox import OutboxMessage, enqueue

_ACCEPT = """
INSERT INTO deliveries (id, kind, critical, request, next_attempt_at, traceparent)
SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[]::jsonb[],
    $5::timestamptz[], $6::text[])
ON CONFLICT (id) DO NOTHING RETURNING id
"""

# "= ANY(ARRAY(...))" with SKIP LOCKED: concurrent workers claim disjoint deliveries.
_CLAIM = """
UPDATE deliveries SET lease_until = $3 WHERE id = ANY(ARRAY(
    SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
    AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY critical DESC, next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING id, request, attempts, critical, next_attempt_at, traceparent
"""

_REACHABLE = "SELECT person_id, timezone, channels, active FROM directory_people"
_BY_PERSON = _REACHABLE + " WHERE person_id = $1"
_BY_SUBJECT = _REACHABLE + " WHERE subject_id = $1"

_SAVE_PREFERENCES = """
INSERT INTO preferences (person_id, locale, quiet_start, quiet_end, recognition_opt_out,
    max_per_day) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (person_id) DO UPDATE SET locale = $2, quiet_start = $3, quiet_end = $4,
    recognition_opt_out = $5, max_per_day = $6, updated_at = now()
"""

_FINISH = """
UPDATE deliveries SET status = $2, attempts = $3, person_id = $4, channel = $5,
    last_error = $6, finished_at = $7, lease_until = NULL
WHERE id = $1 AND status = 'pending' RETURNING id
"""


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str | bytes) else value


class PostgresNotificationsUnitOfWork(PoolTransaction):
    """One transaction of the notifications service (implements
    ``handlers.ports.NotificationsUnitOfWork``)."""

    def __init__(self, pool: asyncpg.Pool, directory: DirectoryProjection) -> None:
        super().__init__(pool)
        self._directory = directory

    async def accept(self, requests: Sequence[QueuedRequest], now: datetime) -> int:
        """Queue requests; a request id seen before is ignored. Returns the new ones."""
        rows = await self.conn.fetch(
            _ACCEPT,
            [q.request.id for q in requests],
            [q.request.kind.value for q in requests],
            [q.request.critical for q in requests],
            [q.request.model_dump_json() for q in requests],
            [now for _ in requests],
            [q.traceparent for q in requests],
        )
        return len(rows)

    async def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        """Due deliveries, leased to this worker (critical first); others skip them."""
        rows = await self.conn.fetch(_CLAIM, now, limit, lease_until)
        rows = sorted(rows, key=lambda row: (not row["critical"], row["next_attempt_at"]))
        return [
            Delivery(
                row["id"],
                NotificationRequest.model_validate(_json(row["request"])),
                row["attempts"],
                row["traceparent"],
            )
            for row in rows
        ]

    async def reachable(self, recipient: Recipient) -> Reachable | None:
        """The directory entry for a person id or a subject id."""
        if recipient.person_id is not None:
            row = await self.conn.fetchrow(_BY_PERSON, recipient.person_id)
        else:
            row = await self.conn.fetchrow(_BY_SUBJECT, recipient.subject_id)
        if row is None:
            return None
        return Reachable(
            person_id=row["person_id"],
            timezone=row["timezone"],
            channels=Channels.model_validate(_json(row["channels"]) or {}),
            active=row["active"],
        )

    async def preferences(self, person_id: str) -> Preferences:
        """A person's preferences, or the defaults."""
        row = await self.conn.fetchrow("SELECT * FROM preferences WHERE person_id = $1", person_id)
        if row is None:
            return Preferences()
        return Preferences(
            locale=row["locale"],
            quiet_start=row["quiet_start"],
            quiet_end=row["quiet_end"],
            recognition_opt_out=row["recognition_opt_out"],
            max_per_day=row["max_per_day"],
        )

    async def save_preferences(self, person_id: str, preferences: Preferences) -> None:
        """Create or replace a person's preferences."""
        await self.conn.execute(
            _SAVE_PREFERENCES,
            person_id,
            preferences.locale,
            preferences.quiet_start,
            preferences.quiet_end,
            preferences.recognition_opt_out,
            preferences.max_per_day,
        )

    async def sent_since(self, person_id: str, since: datetime) -> int:
        """Non-critical messages delivered to a person since ``since``."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE person_id = $1 AND status = 'delivered'"
            " AND NOT critical AND finished_at >= $2",
            person_id,
            since,
        )
        return int(value)

    async def finish(
        self,
        delivery_id: str,
        status: str,
        *,
        attempts: int,
        person_id: str | None,
        channel: str | None,
        error: str | None,
        receipt: OutboxMessage,
        now: datetime,
    ) -> bool:
        """Record the outcome and queue its receipt, once; False if already finished."""
        done = await self.conn.fetchval(
            _FINISH, delivery_id, status, attempts, person_id, channel, error, now
        )
        if done is None:
            return False
        await enqueue(self.conn, [receipt])
        return True

    async def retry_at(
        self, delivery_id: str, attempts: int, when: datetime, error: str | None
    ) -> None:
        """Try again at ``when`` (a deferral keeps the attempt count)."""
        await self.conn.execute(
            "UPDATE deliveries SET attempts = $2, next_attempt_at = $3, last_error = $4,"
            " lease_until = NULL WHERE id = $1 AND status = 'pending'",
            delivery_id,
            attempts,
            when,
            error,
        )

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes to the service's projection (with contact details)."""
        await self._directory.apply(self.conn, changes)

    async def delivery_state(self, delivery_id: str) -> DeliveryState | None:
        """Where a delivery stands: no content, no address."""
        row = await self.conn.fetchrow(
            "SELECT id, kind, critical, status, attempts, channel, last_error, created_at,"
            " finished_at FROM deliveries WHERE id = $1",
            delivery_id,
        )
        return DeliveryState(**dict(row)) if row else None

"""PostgreSQL persistence of the notifications service."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from kinship_contracts.directory import Channels, DirectoryPerson
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_contracts.subjects import Pseudonymiser
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.outbox import OutboxMessage, enqueue


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: the request and how many attempts were made before."""

    id: str
    request: NotificationRequest
    attempts: int
    traceparent: str | None = None


@dataclass(frozen=True)
class Reachable:
    """A directory person as the notifications service knows them."""

    person_id: str
    timezone: str
    channels: Channels
    active: bool


class NotificationStore:
    """Deliveries, recipients and preferences."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def accept(
        self,
        requests: Sequence[NotificationRequest],
        now: datetime,
        traceparents: Sequence[str | None] | None = None,
    ) -> int:
        """Queue requests for delivery; a request id seen before is ignored. Returns new ones.

        ``traceparents`` (one per request) keep each request's trace for its delivery.
        """
        rows = await self.pool.fetch(
            "INSERT INTO deliveries (id, kind, critical, request, next_attempt_at, traceparent)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[]::jsonb[],"
            " $5::timestamptz[], $6::text[]) ON CONFLICT (id) DO NOTHING RETURNING id",
            [r.id for r in requests],
            [r.kind.value for r in requests],
            [r.critical for r in requests],
            [r.model_dump_json() for r in requests],
            [now for _ in requests],
            list(traceparents) if traceparents is not None else [None for _ in requests],
        )
        return len(rows)

    async def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        """Due deliveries, leased to this worker (critical first); others skip them."""
        if limit <= 0:
            return []
        rows = await self.pool.fetch(
            "UPDATE deliveries SET lease_until = $3 WHERE id = ANY(ARRAY("
            " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1"
            " AND (lease_until IS NULL OR lease_until <= $1)"
            " ORDER BY critical DESC, next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
            " RETURNING id, request, attempts, critical, next_attempt_at, traceparent",
            now,
            limit,
            lease_until,
        )
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
            row = await self.pool.fetchrow(
                "SELECT * FROM recipients WHERE person_id = $1", recipient.person_id
            )
        else:
            row = await self.pool.fetchrow(
                "SELECT * FROM recipients WHERE subject_id = $1", recipient.subject_id
            )
        if row is None:
            return None
        return Reachable(
            person_id=row["person_id"],
            timezone=row["timezone"],
            channels=Channels.model_validate(_json(row["channels"])),
            active=row["active"],
        )

    async def preferences(self, person_id: str) -> Preferences:
        """A person's preferences, or the defaults."""
        row = await self.pool.fetchrow("SELECT * FROM preferences WHERE person_id = $1", person_id)
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
        await self.pool.execute(
            "INSERT INTO preferences (person_id, locale, quiet_start, quiet_end,"
            " recognition_opt_out, max_per_day) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (person_id) DO UPDATE SET locale = $2, quiet_start = $3,"
            " quiet_end = $4, recognition_opt_out = $5, max_per_day = $6, updated_at = now()",
            person_id,
            preferences.locale,
            preferences.quiet_start,
            preferences.quiet_end,
            preferences.recognition_opt_out,
            preferences.max_per_day,
        )

    async def sent_since(self, person_id: str, since: datetime) -> int:
        """Non-critical messages delivered to a person since ``since``."""
        value = await self.pool.fetchval(
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
        async with self.pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval(
                "UPDATE deliveries SET status = $2, attempts = $3, person_id = $4, channel = $5,"
                " last_error = $6, finished_at = $7, lease_until = NULL"
                " WHERE id = $1 AND status = 'pending' RETURNING id",
                delivery_id,
                status,
                attempts,
                person_id,
                channel,
                error,
                now,
            )
            if done is None:
                return False
            await enqueue(conn, [receipt])
            return True

    async def retry_at(
        self, delivery_id: str, attempts: int, when: datetime, error: str | None
    ) -> None:
        """Try again at ``when`` (a deferral keeps the attempt count)."""
        await self.pool.execute(
            "UPDATE deliveries SET attempts = $2, next_attempt_at = $3, last_error = $4,"
            " lease_until = NULL WHERE id = $1 AND status = 'pending'",
            delivery_id,
            attempts,
            when,
            error,
        )

    async def apply_directory(
        self, changes: Sequence[tuple[str, DirectoryPerson | None]], pseudonyms: Pseudonymiser
    ) -> None:
        """Apply directory changes (None removes the person)."""
        async with self.pool.acquire() as conn, conn.transaction():
            for person_id, person in changes:
                if person is None:
                    await conn.execute("DELETE FROM recipients WHERE person_id = $1", person_id)
                    continue
                await conn.execute(
                    "INSERT INTO recipients (person_id, subject_id, timezone, channels, active)"
                    " VALUES ($1, $2, $3, $4::text::jsonb, $5) ON CONFLICT (person_id) DO UPDATE"
                    " SET subject_id = $2, timezone = $3, channels = $4::text::jsonb, active = $5",
                    person_id,
                    pseudonyms.subject_id(person_id),
                    person.timezone,
                    person.channels.model_dump_json(),
                    person.active,
                )

    async def delivery_status(self, delivery_id: str) -> dict[str, object] | None:
        """Where a delivery stands (for operators): no content, no address."""
        row = await self.pool.fetchrow(
            "SELECT id, kind, critical, status, attempts, channel, last_error, created_at,"
            " finished_at FROM deliveries WHERE id = $1",
            delivery_id,
        )
        return dict(row) if row else None


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str | bytes) else value

"""PostgreSQL unit of work of the notifications service: deliveries, preferences, the
directory projection, erasure and the outbox."""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import asyncpg

from kinship_contracts.directory import Channels, DirectoryChange
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_contracts.privacy import ErasureStage
from kinship_notifications.domain.channels import ChannelKind, ContactMethod
from kinship_notifications.domain.deliveries import (
    Delivery,
    DeliveryState,
    QueuedRequest,
    Reachable,
)
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.dead_letters import shred_dead_letters
from kinship_runtime.directory import DirectoryProjection
from kinship_runtime.erased_ids import ErasedIdsTransaction
from kinship_runtime.erasure import note_done
from kinship_runtime.idempotency import first_time
from kinship_runtime.outbox import OutboxMessage, enqueue

# A delivery keeps its recipient as addressed (a person id or a subject id), never both.
# ``limited``: whether the daily limit holds it back and counts it (not a care message).
_ACCEPT = """
INSERT INTO deliveries (id, kind, critical, request, next_attempt_at, traceparent, person_id,
    subject_id, limited)
SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[]::jsonb[],
    $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::boolean[])
ON CONFLICT (id) DO NOTHING RETURNING id
"""

# "= ANY(ARRAY(...))" with SKIP LOCKED: concurrent workers claim disjoint deliveries.
_CLAIM = """
UPDATE deliveries SET lease_until = $3 WHERE id = ANY(ARRAY(
    SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
    AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY critical DESC, next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
RETURNING id, request, attempts, critical, next_attempt_at, traceparent, waits, method,
    round_started_at
"""

_REACHABLE = (
    "SELECT person_id, timezone, channels, active FROM directory_people WHERE person_id = $1"
)

_SAVE_PREFERENCES = """
INSERT INTO preferences (person_id, locale, quiet_start, quiet_end, recognition_opt_out,
    max_per_day, contact_methods, reminders_opt_out)
    VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8)
ON CONFLICT (person_id) DO UPDATE SET locale = $2, quiet_start = $3, quiet_end = $4,
    recognition_opt_out = $5, max_per_day = $6, contact_methods = $7::text::jsonb,
    reminders_opt_out = $8, updated_at = now()
"""

# A request from before links were minted at send time may carry a token in its link: it
# is needed until the alert is sent, and dropped from the stored request when it finishes.
_FINISH = """
UPDATE deliveries SET status = $2, attempts = $3, channel = $4, last_error = $5,
    finished_at = $6, lease_until = NULL,
    request = CASE WHEN request->'alert'->>'ack_url' ~ '[?&]token='
        THEN jsonb_set(request, '{alert,ack_url}', to_jsonb(regexp_replace(regexp_replace(
            request->'alert'->>'ack_url', '([?&])token=[^&#]*&?', '\\1'), '[?&]$', '')))
        ELSE request END
WHERE id = $1 AND status = 'pending' RETURNING id
"""

_SENT_SINCE = """
SELECT count(*) FROM deliveries WHERE {column} = $1 AND status = 'delivered' AND limited
    AND finished_at >= $2
"""

# The recipient columns are filled from the request at accept time (and by migration 0004
# for older rows), so they find every delivery to a person or a subject.
_ERASE_PERSON_DELIVERIES = "DELETE FROM deliveries WHERE person_id = $1 RETURNING id"
_ERASE_SUBJECT_DELIVERIES = "DELETE FROM deliveries WHERE subject_id = ANY($1::text[]) RETURNING id"


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str | bytes) else value


class PostgresNotificationsUnitOfWork(ErasedIdsTransaction):
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
            [q.request.recipient.person_id for q in requests],
            [q.request.recipient.subject_id for q in requests],
            [q.request.limited for q in requests],
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
                row["waits"],
                row["method"],
                row["round_started_at"],
            )
            for row in rows
        ]

    async def reachable(self, person_id: str) -> Reachable | None:
        """A person's directory entry."""
        row = await self.conn.fetchrow(_REACHABLE, person_id)
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
            reminders_opt_out=row["reminders_opt_out"],
            max_per_day=row["max_per_day"],
            contact_methods=_methods(row["contact_methods"]),
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
            json.dumps(
                [
                    {"channel": m.channel.value, "delay_seconds": m.delay.total_seconds()}
                    for m in preferences.contact_methods
                ]
            ),
            preferences.reminders_opt_out,
        )

    async def sent_since(self, recipient: Recipient, since: datetime) -> int:
        """Limited messages (celebrations, plain reminders) delivered to this person id or
        subject id since ``since``."""
        if recipient.person_id is not None:
            sql, address = _SENT_SINCE.format(column="person_id"), recipient.person_id
        elif recipient.subject_id is not None:
            sql, address = _SENT_SINCE.format(column="subject_id"), recipient.subject_id
        else:
            return 0
        return int(await self.conn.fetchval(sql, address, since))

    async def finish(
        self,
        delivery_id: str,
        status: str,
        *,
        attempts: int,
        channel: str | None,
        error: str | None,
        receipt: OutboxMessage,
        now: datetime,
    ) -> bool:
        """Record the outcome and queue its receipt, once; False if already finished."""
        done = await self.conn.fetchval(_FINISH, delivery_id, status, attempts, channel, error, now)
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

    async def fall_through(
        self,
        delivery_id: str,
        attempts: int,
        method: int,
        when: datetime,
        round_started_at: datetime,
        error: str | None,
    ) -> None:
        """Try contact method ``method`` at ``when`` (its round began at
        ``round_started_at``)."""
        await self.conn.execute(
            "UPDATE deliveries SET attempts = $2, method = $3, next_attempt_at = $4,"
            " round_started_at = $5, last_error = $6, lease_until = NULL"
            " WHERE id = $1 AND status = 'pending'",
            delivery_id,
            attempts,
            method,
            when,
            round_started_at,
            error,
        )

    async def postpone(self, delivery_id: str, when: datetime, reason: str) -> None:
        """Try again at ``when``, counting a wait (not an attempt)."""
        await self.conn.execute(
            "UPDATE deliveries SET waits = waits + 1, next_attempt_at = $2, last_error = $3,"
            " lease_until = NULL WHERE id = $1 AND status = 'pending'",
            delivery_id,
            when,
            reason,
        )

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes to the service's projection (with contact details)."""
        await self._directory.apply(self.conn, changes)

    async def deliveries_to(self, person_id: str, subject_id: str | None) -> list[DeliveryState]:
        """Deliveries addressed to the person's id or subject id, oldest first."""
        rows = await self.conn.fetch(
            "SELECT id, kind, critical, status, attempts, channel, last_error, created_at,"
            " finished_at FROM deliveries WHERE person_id = $1 OR subject_id = $2"
            " ORDER BY created_at, id",
            person_id,
            subject_id,
        )
        return [DeliveryState(**dict(row)) for row in rows]

    async def delivery_state(self, delivery_id: str) -> DeliveryState | None:
        """Where a delivery stands: no content, no address."""
        row = await self.conn.fetchrow(
            "SELECT id, kind, critical, status, attempts, channel, last_error, created_at,"
            " finished_at FROM deliveries WHERE id = $1",
            delivery_id,
        )
        return DeliveryState(**dict(row)) if row else None

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; the ids never seen before."""
        return await first_time(self.conn, consumer, event_ids)

    async def erase_person(self, person_id: str) -> dict[str, int]:
        """Remove what is kept by a person's id; counts by kind."""
        conn = self.conn
        deliveries = [row["id"] for row in await conn.fetch(_ERASE_PERSON_DELIVERIES, person_id)]
        return {
            "directory_people": await DirectoryProjection.forget(conn, person_id),
            "preferences": _count(
                await conn.execute("DELETE FROM preferences WHERE person_id = $1", person_id)
            ),
            "deliveries": len(deliveries),
            "unsent_receipts": await self._drop_receipts(deliveries),
            "dead_letter_keys": await shred_dead_letters(conn, [person_id]),
        }

    async def erase_subjects(self, subject_ids: Sequence[str]) -> dict[str, int]:
        """Remove deliveries to these subject ids and shred their dead letters' keys."""
        if not subject_ids:
            return {}
        conn = self.conn
        rows = await conn.fetch(_ERASE_SUBJECT_DELIVERIES, list(subject_ids))
        deliveries = [row["id"] for row in rows]
        return {
            "subject_deliveries": len(deliveries),
            "subject_unsent_receipts": await self._drop_receipts(deliveries),
            "subject_dead_letter_keys": await shred_dead_letters(conn, list(subject_ids)),
        }

    async def _drop_receipts(self, delivery_ids: Sequence[str]) -> int:
        """Receipts of erased deliveries still waiting in the outbox (keyed by the delivery
        id, which may name the person)."""
        if not delivery_ids:
            return 0
        return _count(
            await self.conn.execute(
                "DELETE FROM outbox WHERE key = ANY($1::bytea[])",
                [delivery_id.encode() for delivery_id in delivery_ids],
            )
        )

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: Mapping[str, int],
        *,
        receipts_topic: str,
        now: datetime,
    ) -> bool:
        """Note one half of an erasure; queue the receipt once both are done."""
        receipt = await note_done(
            self.conn,
            erasure_id,
            stage,
            removed,
            service="notifications",
            receipts_topic=receipts_topic,
            now=now,
        )
        if receipt is None:
            return False
        await enqueue(self.conn, [receipt])
        return True


def _methods(value: object) -> tuple[ContactMethod, ...]:
    """Stored contact methods (a JSON list) as the domain's."""
    items = _json(value) or []
    assert isinstance(items, list)
    return tuple(
        ContactMethod(ChannelKind(item["channel"]), timedelta(seconds=item["delay_seconds"]))
        for item in items
    )


def _count(status: str) -> int:
    """The row count of a command status such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])

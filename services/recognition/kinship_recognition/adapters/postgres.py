"""PostgreSQL persistence of the recognition service: one unit of work per transaction."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime

import asyncpg

from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.subjects import Pseudonymiser
from kinship_runtime.database import Connection
from kinship_runtime.outbox import OutboxMessage, enqueue


class RecognitionUnit:
    """The operations of one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def sent_since(self, person_id: str, since: datetime) -> int:
        """Kudos a person sent since ``since``."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM kudos WHERE from_person_id = $1 AND received_at >= $2",
            person_id,
            since,
        )
        return int(value)

    async def add_kudos(self, kudos: KudosSubmitted, message: str, now: datetime) -> bool:
        """Store kudos once; False when the id was seen before."""
        value = await self.conn.fetchval(
            "INSERT INTO kudos (id, from_person_id, to_person_id, message, occurred_at,"
            " received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
            " RETURNING id",
            kudos.id,
            kudos.from_person_id,
            kudos.to_person_id,
            message,
            kudos.occurred_at,
            now,
        )
        return value is not None

    async def is_known(self, kudos_id: str) -> bool:
        """Whether these kudos were stored before."""
        return await self.conn.fetchval("SELECT 1 FROM kudos WHERE id = $1", kudos_id) is not None

    async def received(self, person_id: str) -> int:
        """Kudos a person has received."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM kudos WHERE to_person_id = $1", person_id
        )
        return int(value)

    async def timezone_of_subject(self, subject_id: str) -> str | None:
        """A subject's time zone, from the directory."""
        value = await self.conn.fetchval(
            "SELECT timezone FROM people WHERE subject_id = $1", subject_id
        )
        return str(value) if value is not None else None

    async def add_week(self, subject_id: str, week: date) -> bool:
        """Record a week with a check-in; False when already recorded."""
        value = await self.conn.fetchval(
            "INSERT INTO checkin_weeks (subject_id, week_start) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING week_start",
            subject_id,
            week,
        )
        return value is not None

    async def weeks(self, subject_id: str) -> list[date]:
        """The weeks a subject checked in."""
        rows = await self.conn.fetch(
            "SELECT week_start FROM checkin_weeks WHERE subject_id = $1", subject_id
        )
        return [row["week_start"] for row in rows]

    async def add_award(
        self,
        award_id: str,
        kind: str,
        person_id: str | None,
        subject_id: str | None,
        count: int | None,
    ) -> bool:
        """Record an award once; False when it was given before."""
        value = await self.conn.fetchval(
            "INSERT INTO awards (id, kind, person_id, subject_id, count)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id",
            award_id,
            kind,
            person_id,
            subject_id,
            count,
        )
        return value is not None

    async def add_supported_case(
        self, case_id: str, responder_id: str, resolved_at: datetime
    ) -> bool:
        """Count a resolved case for its responder once; False when counted before."""
        value = await self.conn.fetchval(
            "INSERT INTO supported_cases (case_id, responder_id, resolved_at)"
            " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING case_id",
            case_id,
            responder_id,
            resolved_at,
        )
        return value is not None

    async def supported_by(self, responder_id: str) -> int:
        """Cases a responder has supported."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM supported_cases WHERE responder_id = $1", responder_id
        )
        return int(value)

    async def responder_of(self, case_id: str) -> str | None:
        """Who resolved a case."""
        value = await self.conn.fetchval(
            "SELECT responder_id FROM supported_cases WHERE case_id = $1", case_id
        )
        return str(value) if value is not None else None

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in this transaction's outbox."""
        await enqueue(self.conn, messages)

    async def apply_directory(
        self, changes: Sequence[tuple[str, DirectoryPerson | None]], pseudonyms: Pseudonymiser
    ) -> None:
        """Apply directory changes (None removes the person)."""
        for person_id, person in changes:
            if person is None:
                await self.conn.execute("DELETE FROM people WHERE person_id = $1", person_id)
                continue
            await self.conn.execute(
                "INSERT INTO people (person_id, subject_id, timezone, team_id, active)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id) DO UPDATE SET"
                " subject_id = $2, timezone = $3, team_id = $4, active = $5",
                person_id,
                pseudonyms.subject_id(person_id),
                person.timezone,
                person.team_id,
                person.active,
            )


class PostgresRecognition:
    """Opens units of work on the service's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[RecognitionUnit]:
        """A transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield RecognitionUnit(conn)

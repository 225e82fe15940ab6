"""The escalation adapter's timer statements against a real PostgreSQL: claiming due timers
across two units of work, a savepoint undoing one timer's work, re-arming a failed timer."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.composition import MIGRATIONS
from kinship_escalation.domain.timers import Timer, TimerKind
from kinship_runtime.database import migrate_schema
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


@pytest.fixture
async def pool(endpoints: Endpoints, database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh escalation schema."""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await migrate_schema(conn, database, MIGRATIONS)
    finally:
        await conn.close()
    connections = await asyncpg.create_pool(
        endpoints.database_url, min_size=2, max_size=2, server_settings={"search_path": database}
    )
    yield connections
    await connections.close()


def reminder(timer_id: str, due: datetime) -> Timer:
    return Timer(timer_id, TimerKind.EXPOSURE_FOLLOW_UP, due, subject_id="s-1")


async def test_due_timers_are_claimed_once_oldest_first_and_a_failed_one_is_armed_again(
    pool: asyncpg.Pool,
) -> None:
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    async with uow:
        for hours in (1, 3, 2):
            await uow.timers.schedule(reminder(f"t{hours}", NOW - timedelta(hours=hours)))
        await uow.timers.schedule(reminder("later", NOW + timedelta(hours=1)))
        await uow.timers.schedule(reminder("t1", NOW + timedelta(days=9)))  # kept as it was
        await uow.conn.execute(
            "INSERT INTO timers (id, kind, due_at) VALUES ('odd', 'from_the_future', $1)", NOW
        )

    other = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    async with uow:
        claimed = await uow.timers.claim_due(NOW, 10)
        async with other:  # another replica, at the same time: nothing left for it
            assert await other.timers.claim_due(NOW, 10) == []
        assert [t.id for t in claimed] == ["t3", "t2", "t1"]  # the unknown kind is skipped
        assert claimed[0].subject_id == "s-1" and claimed[0].kind is TimerKind.EXPOSURE_FOLLOW_UP
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                await uow.support.mark_distress("team-z", "s-z", NOW)
                raise RuntimeError("the timer's handler failed")
        await uow.timers.retry_at("t3", NOW + timedelta(seconds=30))

    async with uow:
        assert await uow.support.team_distress("team-z", NOW - timedelta(days=1)) == []
        assert await uow.timers.claim_due(NOW, 10) == []
        again = await uow.timers.claim_due(NOW + timedelta(seconds=30), 10)
        assert [t.id for t in again] == ["t3"]
        fired = await uow.conn.fetch("SELECT id FROM timers WHERE fired_at IS NULL ORDER BY id")
        assert [row["id"] for row in fired] == ["later"]

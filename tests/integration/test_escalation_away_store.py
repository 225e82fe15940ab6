"""A responder's "away until" (issue 13) in the escalation adapter over a real PostgreSQL:
set through the handler, read back, replaced, ended, listed in the loads (a coordinator
too) so that escalation skips them, and erased with the person (a ``pg_dump`` of the schema
no longer names them)."""

from datetime import timedelta

import asyncpg
import pytest

from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.handlers import away
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints
from tests.escalation_support import mentions, pg_dump
from tests.unit.escalation.conftest import NOW, STAFF, person

pytestmark = pytest.mark.integration


async def test_away_is_stored_read_ended_loaded_and_erased(
    escalation_pool: asyncpg.Pool, endpoints: Endpoints, database: str
) -> None:
    uow = PostgresEscalationUnitOfWork(escalation_pool, DirectoryProjection())
    until = NOW + timedelta(days=2)
    async with uow:
        await uow.directory.apply([*STAFF, person("resp-away", "team-t", "peer_responder")])
        assert await away.away_until("resp-away", uow, NOW) is None
        await away.set_away("resp-away", NOW + timedelta(days=1), uow, NOW)
        await away.set_away("resp-away", until, uow, NOW)  # replaces
        await away.set_away("coord-1", until, uow, NOW)
    async with uow:
        assert await away.away_until("resp-away", uow, NOW) == until
        assert await away.away_until("resp-away", uow, until) is None  # ended by itself
        loads = await uow.workload.loads(NOW)
        assert loads["resp-away"].away_until == until
        assert loads["resp-away"].unavailable_until == until
        # A coordinator away is listed (schedules skip them); not away, they are not.
        assert loads["coord-1"].away_until == until
        assert "coord-1" not in await uow.workload.loads(until)
        await away.end_away("coord-1", uow, NOW)
        assert await away.away_until("coord-1", uow, NOW) is None
        actions = await uow.conn.fetch(
            "SELECT action, actor FROM case_audit WHERE action LIKE 'away%' ORDER BY seq"
        )
        assert [tuple(row) for row in actions] == [
            ("away_set", "person:resp-away"),
            ("away_set", "person:resp-away"),
            ("away_set", "person:coord-1"),
            ("away_ended", "person:coord-1"),
        ]
    async with uow:
        counts = await uow.erasure.forget_person("resp-away")
    assert counts["away"] == 1
    async with uow:
        assert await uow.workload.away_until("resp-away") is None
    assert not mentions(await pg_dump(endpoints, database), "resp-away")

"""Upgrading an escalation database made before the runtime owned the directory projection:
the amended first migration is accepted and the staff are kept, by person id only (their
subject ids go); the audit trail gains its case and subject columns (real PostgreSQL)."""

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.composition import MIGRATIONS
from kinship_escalation.domain.policies import StaffMember
from kinship_runtime.database import apply_migrations, migrate_schema, superseded_checksums
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration

OWN = sorted(path.name for path in MIGRATIONS.glob("*.sql"))
"""The service's own migrations, in the order they apply."""
LATER = OWN[1:]
"""Those after 0001 (which an existing database has applied)."""


@pytest.fixture
async def conn(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(endpoints.database_url)
    yield connection
    await connection.close()


async def tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    return {row["tablename"] for row in rows}


async def test_an_existing_database_keeps_its_staff_in_the_runtimes_directory_projection(
    conn: asyncpg.Connection, endpoints: Endpoints, database: str, tmp_path: Path
) -> None:
    # The schema as the service left it before: 0001 applied (its text then had the outbox;
    # its checksum is the superseded one) and the staff in the service's own `directory`.
    shutil.copy(MIGRATIONS / "0001_escalation.sql", tmp_path)
    await apply_migrations(conn, database, tmp_path)
    ((name, old_checksum),) = superseded_checksums(MIGRATIONS)
    assert name == "0001_escalation.sql"
    await conn.execute(
        f'UPDATE "{database}".schema_migrations SET checksum = $1 WHERE version = 1', old_checksum
    )
    await conn.executemany(
        f'INSERT INTO "{database}".directory (person_id, subject_id, team_id, timezone,'
        " responder, coordinator, active) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            ("resp-a", "s-resp-a", "team-r", "Europe/London", True, False, True),
            ("both", "s-both", "team-b", "UTC", True, True, True),
            ("coord-1", "s-coord-1", "team-c", "America/New_York", False, True, True),
            ("worker-1", "s-worker-1", "team-x", "Europe/London", False, False, True),
            ("gone", "s-gone", "team-r", "UTC", True, False, False),
        ],
    )
    await conn.execute(
        f'INSERT INTO "{database}".cases (id, subject_id, status, severity, rules,'
        " observation_ids, step, attempt, opened_at, sequence, policy) VALUES ('k-1',"
        " 's-worker-1', 'opened', 'high', '{self_referral}', '{c-1}', 0, 0, now(), 1, '{}')"
    )
    await conn.execute(
        f'INSERT INTO "{database}".case_audit (case_id, action, actor) VALUES'
        " ('k-1', 'opened', 'detection'), ('k-1', 'read', 'coord-1')"
    )

    applied = await migrate_schema(conn, database, MIGRATIONS)

    assert applied[-len(LATER) :] == LATER
    assert "0001_escalation.sql" not in applied
    assert all(name.startswith("runtime/") for name in applied[: -len(LATER)])
    current = await conn.fetchval(
        f'SELECT checksum FROM "{database}".schema_migrations WHERE version = 1'
    )
    assert current != old_checksum
    assert "directory" not in await tables(conn, database)
    rows = await conn.fetch(
        f'SELECT person_id, subject_id, team_id, timezone, roles, active FROM "{database}"'
        ".directory_people ORDER BY person_id"
    )
    assert [tuple(row.values()) for row in rows] == [
        ("both", None, "team-b", "UTC", ["peer_responder", "coordinator"], True),
        ("coord-1", None, "team-c", "America/New_York", ["coordinator"], True),
        ("gone", None, "team-r", "UTC", ["peer_responder"], False),
        ("resp-a", None, "team-r", "Europe/London", ["peer_responder"], True),
        ("worker-1", None, "team-x", "Europe/London", [], True),
    ]
    audit = await conn.fetch(
        f'SELECT case_id, case_ids, subject_ids, actor FROM "{database}".case_audit ORDER BY seq'
    )
    assert [tuple(row.values()) for row in audit] == [
        ("k-1", ["k-1"], ["s-worker-1"], "detection"),
        ("k-1", ["k-1"], ["s-worker-1"], "coord-1"),
    ]

    pool = await asyncpg.create_pool(
        endpoints.database_url, min_size=1, max_size=1, server_settings={"search_path": database}
    )
    try:
        async with PostgresEscalationUnitOfWork(pool, DirectoryProjection()) as uow:
            staff = await uow.directory.staff()
            loads = await uow.workload.loads(datetime.now(UTC))
    finally:
        await pool.close()
    assert staff == [
        StaffMember("both", "team-b", True, True),
        StaffMember("coord-1", "team-c", False, True),
        StaffMember("resp-a", "team-r", True, False),
    ]
    assert sorted(loads) == ["both", "resp-a"]


async def test_a_new_database_has_only_the_runtimes_directory(
    conn: asyncpg.Connection, database: str
) -> None:
    applied = await migrate_schema(conn, database, MIGRATIONS)
    assert applied[-len(OWN) :] == OWN
    made = await tables(conn, database)
    assert {"directory_people", "outbox", "processed_events", "cases", "timers"} <= made
    assert "directory" not in made
    assert await migrate_schema(conn, database, MIGRATIONS) == []

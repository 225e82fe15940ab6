"""The migrations runner against a real PostgreSQL: order, idempotence, amended files."""

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from kinship_runtime.database import (
    RUNTIME_MIGRATIONS,
    MigrationError,
    load_migrations,
    migrate_schema,
)
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(endpoints.database_url)
    yield connection
    await connection.close()


def write(directory: Path, name: str, sql: str) -> str:
    (directory / name).write_text(sql)
    return hashlib.sha256(sql.encode()).hexdigest()


async def tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    return {row["tablename"] for row in rows}


async def test_the_runtime_tables_come_first_and_a_second_run_applies_nothing(
    conn: asyncpg.Connection, database: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id text PRIMARY KEY);")
    applied = await migrate_schema(conn, database, tmp_path)
    runtime = [f"runtime/{m.name}" for m in load_migrations(RUNTIME_MIGRATIONS)]
    assert runtime[:3] == [
        "runtime/0001_outbox.sql",
        "runtime/0002_processed_events.sql",
        "runtime/0003_directory.sql",
    ]
    assert applied == [*runtime, "0001_things.sql"]
    assert {"outbox", "processed_events", "directory_people", "things"} <= await tables(
        conn, database
    )
    assert await migrate_schema(conn, database, tmp_path) == []


async def test_a_schema_made_before_the_runtime_owned_the_outbox_converges(
    conn: asyncpg.Connection, database: str, tmp_path: Path
) -> None:
    # A 0.1 service migration: its own outbox and a narrower directory table.
    old_sql = (
        "CREATE TABLE outbox (seq bigserial PRIMARY KEY, event_id text NOT NULL, topic text"
        " NOT NULL, key bytea, value bytea NOT NULL, headers jsonb NOT NULL DEFAULT '[]',"
        " created_at timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE directory_people (person_id text PRIMARY KEY, team_id text NOT NULL,"
        " timezone text NOT NULL, roles text[] NOT NULL DEFAULT '{}', active boolean NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now());"
    )
    await conn.execute(f'CREATE SCHEMA "{database}"')
    await conn.execute(f'SET search_path TO "{database}"')
    await conn.execute(old_sql)
    await conn.execute("INSERT INTO outbox (event_id, topic, value) VALUES ('e', 't', 'v')")
    await conn.execute("RESET search_path")
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id text PRIMARY KEY);")
    await migrate_schema(conn, database, tmp_path)
    columns = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = 'directory_people'",
        database,
    )
    assert {"display_name", "channels", "subject_id"} <= {row["column_name"] for row in columns}
    assert await conn.fetchval(f'SELECT count(*) FROM "{database}".outbox') == 1


async def test_an_applied_migration_that_changed_is_refused(
    conn: asyncpg.Connection, database: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id text PRIMARY KEY);")
    await migrate_schema(conn, database, tmp_path)
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id text PRIMARY KEY, n int);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate_schema(conn, database, tmp_path)


async def test_an_amended_migration_listed_as_superseded_is_accepted_and_recorded(
    conn: asyncpg.Connection, database: str, tmp_path: Path
) -> None:
    old = write(tmp_path, "0001_things.sql", "CREATE TABLE things (id text PRIMARY KEY);")
    await migrate_schema(conn, database, tmp_path)
    new = write(tmp_path, "0001_things.sql", "CREATE TABLE IF NOT EXISTS things (id text);")
    (tmp_path / "superseded.txt").write_text(f"# amended\n0001_things.sql {old}\n")
    assert await migrate_schema(conn, database, tmp_path) == []
    stored = await conn.fetchval(
        f'SELECT checksum FROM "{database}".schema_migrations WHERE version = 1'
    )
    assert stored == new

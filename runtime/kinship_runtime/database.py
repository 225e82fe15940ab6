"""PostgreSQL: connection pools and the ordered-SQL migrations runner.

Each service's schema gets the runtime's own migrations first (the outbox, processed events
and the directory projection, recorded in ``runtime_migrations``), then the service's (in
``schema_migrations``). A migration file may be amended only by listing the checksum it had
in a ``superseded.txt`` beside it (``<file name> <sha256>`` per line): databases that applied
the old text accept the new one, like Flyway's *repair*.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from kinship_runtime.settings import KinshipSettings

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration file is malformed, or was changed after it was applied."""


@dataclass(frozen=True)
class Migration:
    """One ordered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file, to detect edits after it was applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


RUNTIME_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""The runtime's own migrations, applied to every service's schema before the service's."""


def load_migrations(directory: Path) -> list[Migration]:
    """The migrations in ``directory``: files named ``NNNN_description.sql``, in order."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: name migrations NNNN_description.sql")
        migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return migrations


Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one borrowed from a pool."""


def superseded_checksums(directory: Path) -> set[tuple[str, str]]:
    """(file name, checksum) pairs of amended migrations' earlier texts."""
    listing = directory / "superseded.txt"
    if not listing.exists():
        return set()
    pairs = set()
    for line in listing.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, checksum = line.split()
            pairs.add((name, checksum))
    return pairs


async def apply_migrations(
    conn: Connection, schema: str, directory: Path, *, table: str = "schema_migrations"
) -> list[str]:
    """Apply pending migrations to ``schema``, all in one transaction; returns their names.

    A transaction-level advisory lock serialises replicas that start at the same time.
    """
    applied_now = []
    accepted = superseded_checksums(directory)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".{table} ('
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        # The schema name comes from configuration, never from user input (the service's name,
        # or KINSHIP_DATABASE_SCHEMA, which the settings check is a lower-case identifier);
        # the table name is one of two constants.
        rows = await conn.fetch(
            f'SELECT version, name, checksum FROM "{schema}".{table}'  # noqa: S608
        )
        done = {row["version"]: row for row in rows}
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        for migration in load_migrations(directory):
            previous = done.get(migration.version)
            if previous is not None:
                if previous["checksum"] == migration.checksum:
                    continue
                if (migration.name, previous["checksum"]) not in accepted:
                    raise MigrationError(
                        f"{migration.name} changed after it was applied to schema {schema}; "
                        "add a new migration instead of editing an applied one"
                    )
                await conn.execute(
                    f"UPDATE {table} SET checksum = $2 WHERE version = $1",  # noqa: S608
                    migration.version,
                    migration.checksum,
                )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {table} (version, name, checksum) VALUES ($1, $2, $3)",  # noqa: S608
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.name)
    return applied_now


async def migrate_schema(conn: Connection, schema: str, service_migrations: Path) -> list[str]:
    """The runtime's migrations, then the service's, applied to ``schema``."""
    applied = await apply_migrations(conn, schema, RUNTIME_MIGRATIONS, table="runtime_migrations")
    return [
        *(f"runtime/{name}" for name in applied),
        *await apply_migrations(conn, schema, service_migrations),
    ]


async def create_pool(settings: KinshipSettings) -> asyncpg.Pool:
    """A pool whose connections use the service's own schema."""
    pool = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        server_settings={
            "search_path": f'"{settings.owned_schema()}"',
            "application_name": settings.service_name,
        },
        init=_register_codecs,
    )
    assert pool is not None
    return pool


def json_text(value: Any) -> str:
    """JSON text of a value, with orjson (several times faster than the standard library on
    the hot paths: outbox headers, jsonb columns); keys that are not strings are written as
    strings, as ``json.dumps`` does."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def _register_codecs(conn: Connection) -> None:
    # json/jsonb as Python values instead of text.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json_text, decoder=orjson.loads, schema="pg_catalog"
        )


class PoolTransaction:
    """A transaction borrowed from a pool, entered with ``async with``: the base of every
    service's PostgreSQL unit of work.

    Entering borrows a connection and begins a transaction; a clean exit commits, an
    exception rolls back, and the connection goes back to the pool. The object can be
    entered again afterwards (a new transaction each time), never twice at once.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy | None = None
        self._transaction: Transaction | None = None

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already in use")
        conn = await self._pool.acquire()
        try:
            transaction = conn.transaction()
            await transaction.start()
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn, self._transaction = conn, transaction
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, transaction = self._conn, self._transaction
        self._conn = self._transaction = None
        if conn is None or transaction is None:
            return
        try:
            if exc is None:
                await transaction.commit()
            else:
                await transaction.rollback()
        finally:
            await self._pool.release(conn)

    @property
    def conn(self) -> Connection:
        """The connection of the transaction in progress."""
        if self._conn is None:
            raise RuntimeError("enter the unit of work ('async with uow:') before using it")
        return self._conn

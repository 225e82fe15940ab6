"""PostgreSQL: connection pools and the ordered-SQL migrations runner."""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from asyncpg.pool import PoolConnectionProxy

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


async def apply_migrations(conn: Connection, schema: str, directory: Path) -> list[str]:
    """Apply pending migrations to ``schema``, each in its own transaction; returns their names.

    A transaction-level advisory lock serialises replicas that start at the same time.
    """
    applied_now = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        # The schema name is validated by the settings (lower-case identifier), never user input.
        rows = await conn.fetch(
            f'SELECT version, name, checksum FROM "{schema}".schema_migrations'  # noqa: S608
        )
        done = {row["version"]: row for row in rows}
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        for migration in load_migrations(directory):
            previous = done.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} changed after it was applied to schema {schema}; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.name)
    return applied_now


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


async def _register_codecs(conn: Connection) -> None:
    # json/jsonb as Python values instead of text.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

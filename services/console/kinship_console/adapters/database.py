"""The console's PostgreSQL schema: a pool on it, and its ordered SQL migrations.

The runner follows the services' convention (``NNNN_description.sql`` files, a
``schema_migrations`` table with checksums, an advisory lock for replicas starting together)
without importing their runtime: the console depends on the other services through their
HTTP APIs only.
"""

import hashlib
import re
from pathlib import Path

import asyncpg

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration file is misnamed, or was edited after it was applied."""


async def create_pool(url: str, schema: str, min_size: int, max_size: int) -> asyncpg.Pool:
    """A pool whose connections work in ``schema``."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f'"{schema}"', "application_name": "console"},
    )
    assert pool is not None
    return pool


async def apply_migrations(conn: asyncpg.Connection, schema: str, directory: Path) -> list[str]:
    """Apply the pending migrations to ``schema`` in one transaction; returns their names."""
    files = sorted(directory.glob("*.sql"))  # noqa: ASYNC240 - a few small files, at start
    for path in files:
        if not _NAME.match(path.name):
            raise MigrationError(f"{path.name}: name migrations NNNN_description.sql")
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        # The schema name is validated by the settings (a lower-case identifier).
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(
            f'SELECT version, checksum FROM "{schema}".schema_migrations'  # noqa: S608
        )
        done = {row["version"]: row["checksum"] for row in rows}
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        for path in files:
            version = int(path.name[:4])
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise MigrationError(
                        f"{path.name} changed after it was applied to schema {schema}; "
                        "add a new migration instead"
                    )
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version,
                path.name,
                checksum,
            )
            applied.append(path.name)
    return applied

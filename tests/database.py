"""Test helpers that read a service's schema with a plain asyncpg connection."""

import asyncio
from typing import Any

import asyncpg


async def rows(database_url: str, schema: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run ``sql`` in ``schema``."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def wait_for_count(
    database_url: str, schema: str, sql: str, count: int, timeout: float = 20.0
) -> int:
    """Poll a ``SELECT count(*)`` until it reaches ``count`` (or the timeout); returns it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found = 0
    while loop.time() < deadline:
        found = int((await rows(database_url, schema, sql))[0][0])
        if found >= count:
            return found
        await asyncio.sleep(0.1)
    return found

"""Test helpers: read a service's schema with a plain asyncpg connection; services in-process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from kinship_runtime.database import create_pool
from kinship_runtime.settings import KinshipSettings
from tests.conftest import Endpoints


async def rows(database_url: str, schema: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run ``sql`` in ``schema``."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'SET search_path TO "{schema}"')
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def clean_up(endpoints: Endpoints, schema: str, prefix: str) -> None:
    """Drop the schemas named ``<schema>_*`` and delete the topics starting with ``prefix``
    (what a test platform of several services made)."""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        for row in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 || '\\_%'", schema
        ):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    try:
        mine = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


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


S = TypeVar("S", bound=KinshipSettings)


@dataclass
class InProcessService(Generic[S]):
    """A service app run in-process for a test: its HTTP client, settings and endpoints."""

    client: httpx.AsyncClient
    settings: S
    endpoints: Endpoints

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await rows(self.endpoints.database_url, self.settings.owned_schema(), sql, *args)

    async def wait_for(self, sql: str, count: int, timeout: float = 20.0) -> int:
        return await wait_for_count(
            self.endpoints.database_url, self.settings.owned_schema(), sql, count, timeout
        )


async def open_dead_letters(
    database_url: str, settings: KinshipSettings, dead: list[Any]
) -> list[bytes | None]:
    """The original bytes of sealed dead letters, opened with the service's keys (None for a
    dead letter whose key is gone, e.g. erased)."""
    from kinship_runtime.dead_letters import DeadLetterKeys

    pool = await asyncpg.create_pool(
        database_url, server_settings={"search_path": settings.owned_schema()}
    )
    assert pool is not None
    try:
        keys = DeadLetterKeys(pool, settings.dead_letter_wrapping_key())
        opened: list[bytes | None] = []
        for record in dead:
            headers = dict(record.headers)
            position = (
                f"{headers['kinship-dlq-topic'].decode()}:"
                f"{headers['kinship-dlq-partition'].decode()}:"
                f"{headers['kinship-dlq-offset'].decode()}"
            )
            opened.append(
                None
                if record.value is None
                else await keys.open(headers["kinship-dlq-sealed"].decode(), record.value, position)
            )
        return opened
    finally:
        await pool.close()


@asynccontextmanager
async def schema_pool(endpoints: Endpoints, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A service's pool (its codecs, ``schema`` on the search path), closed afterwards."""
    settings = KinshipSettings(
        database_url=SecretStr(endpoints.database_url), database_schema=schema, env="dev"
    )
    pool = await create_pool(settings)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def erased_ids_pool(
    endpoints: Endpoints, schema: str, *, erased_at: bool
) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a new ``schema`` holding only a service's ``erased_ids`` table
    (``kinship_runtime.erased_ids``): with ``erased_at``, the person ids' kind (the erasure's
    time kept beside each digest), without it the subject ids' kind."""
    column = " erased_at timestamptz," if erased_at else ""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(
            f'CREATE TABLE "{schema}".erased_ids (digest bytea PRIMARY KEY,{column}'
            " expires_at timestamptz NOT NULL)"
        )
    finally:
        await conn.close()
    async with schema_pool(endpoints, schema) as pool:
        yield pool

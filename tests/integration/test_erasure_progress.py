"""A service's erasure progress against PostgreSQL: both halves, in either order, one receipt."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from kinship_contracts.privacy import ErasureStage
from kinship_runtime.database import _register_codecs, migrate_schema
from kinship_runtime.erasure import note_done
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


@pytest.fixture
async def conn(
    endpoints: Endpoints, database: str, tmp_path: Path
) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(endpoints.database_url)
    await migrate_schema(connection, database, tmp_path)
    await connection.execute(f'SET search_path TO "{database}"')
    yield connection
    await connection.close()


async def done(
    conn: asyncpg.Connection, erasure: str, stage: ErasureStage, **removed: int
) -> object:
    return await note_done(
        conn, erasure, stage, removed, service="recognition", receipts_topic="receipts", now=NOW
    )


@pytest.mark.parametrize(
    "order",
    [(ErasureStage.PERSON, ErasureStage.SUBJECTS), (ErasureStage.SUBJECTS, ErasureStage.PERSON)],
)
async def test_the_receipt_goes_out_once_both_halves_are_done_in_either_order(
    conn: asyncpg.Connection, order: tuple[ErasureStage, ErasureStage]
) -> None:
    first, second = order
    assert await done(conn, "er-1", first, kudos=2) is None
    assert await done(conn, "er-1", first, kudos=2) is None  # a replayed half changes nothing
    receipt = await done(conn, "er-1", second, streaks=1)
    assert receipt is not None
    body = json.loads(receipt.value or b"")  # type: ignore[attr-defined]
    assert (body["id"], body["service"]) == ("er-1:recognition", "recognition")
    assert body["removed"] == {"kudos": 2, "streaks": 1}
    assert await done(conn, "er-1", second) is None  # never a second receipt
    assert await done(conn, "er-1", first) is None


async def test_it_works_on_a_service_pools_connection_with_its_json_codec(
    conn: asyncpg.Connection,
) -> None:
    await _register_codecs(conn)  # what every service's pool does to its connections
    assert await done(conn, "er-2", ErasureStage.PERSON, kudos=2) is None
    receipt = await done(conn, "er-2", ErasureStage.SUBJECTS, streaks=1)
    assert receipt is not None
    body = json.loads(receipt.value or b"")  # type: ignore[attr-defined]
    assert body["removed"] == {"kudos": 2, "streaks": 1}

"""The erasure's time kept with an erased person id is the time the erasure holds its lock
(review 7, L3), on real PostgreSQL: an erasure that waits for a batch in progress keeps the
time it got the lock, not the time it began, so a record produced while it waited is at or
before the erasure's time (skipped when consumed after it)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_runtime.erased_ids import erased_since, remember_erased
from tests.conftest import Endpoints
from tests.database import erased_ids_pool

pytestmark = pytest.mark.integration

PERSON = b"p" * 32
KEEP = timedelta(days=15)


@pytest.fixture
async def pool(endpoints: Endpoints, database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema with an ``erased_ids`` table of person ids' kind."""
    async with erased_ids_pool(endpoints, database, erased_at=True) as pool:
        yield pool


async def test_an_erasure_that_waited_for_a_batch_keeps_the_time_it_got_the_lock(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as erasure, pool.acquire() as batch:
        checking = batch.transaction()
        await checking.start()
        assert await erased_since(batch, [PERSON], datetime.now(UTC)) == {}  # in progress
        began = datetime.now(UTC)  # the service's clock when the erasure begins
        async with erasure.transaction():
            remember = asyncio.create_task(
                remember_erased(erasure, [PERSON], began + KEEP, erased_at=began)
            )
            await asyncio.sleep(0.5)
            assert not remember.done()  # waits for the batch
            produced = datetime.now(UTC)  # a record produced while the erasure waits
            await checking.commit()
            await remember
        (row,) = await erasure.fetch("SELECT erased_at, expires_at FROM erased_ids")
    assert row["erased_at"] >= produced > began  # the record counts as before the erasure
    assert row["expires_at"] - row["erased_at"] == KEEP  # kept as long, from then


async def test_an_erasure_that_did_not_wait_keeps_its_time_within_the_lock_call(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as erasure, erasure.transaction():
        began = datetime.now(UTC)
        await remember_erased(erasure, [PERSON], began + KEEP, erased_at=began)
        after = datetime.now(UTC)
        (row,) = await erasure.fetch("SELECT erased_at, expires_at FROM erased_ids")
    assert began <= row["erased_at"] <= after
    assert row["expires_at"] - row["erased_at"] == KEEP


async def test_a_given_time_ahead_of_the_clock_is_kept_as_given(pool: asyncpg.Pool) -> None:
    ahead = datetime.now(UTC) + timedelta(hours=1)  # e.g. a test's clock
    async with pool.acquire() as erasure, erasure.transaction():
        await remember_erased(erasure, [PERSON], ahead + KEEP, erased_at=ahead)
        assert await erased_since(erasure, [PERSON], ahead) == {PERSON: ahead}

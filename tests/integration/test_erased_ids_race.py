"""An erasure and a batch about the same subject never interleave (real PostgreSQL): a
batch that checked the record of erased ids before the erasure wrote it commits before the
erasure reads what to anonymise, and a batch that checks during an erasure waits for it."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_runtime.erased_ids import erased_among, remember_erased
from tests.conftest import Endpoints
from tests.database import erased_ids_pool

pytestmark = pytest.mark.integration

DIGEST = b"d" * 32
NOW = datetime.now(UTC)


@pytest.fixture
async def pool(endpoints: Endpoints, database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's schema with a service's ``erased_ids`` table."""
    async with erased_ids_pool(endpoints, database, erased_at=False) as pool:
        yield pool


async def test_a_batch_checking_during_an_erasure_waits_and_then_sees_it(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as erasure, pool.acquire() as batch:
        erasing = erasure.transaction()
        await erasing.start()
        await remember_erased(erasure, [DIGEST], NOW + timedelta(days=30))
        async with batch.transaction():
            check = asyncio.create_task(erased_among(batch, [DIGEST], NOW))
            await asyncio.sleep(0.5)
            assert not check.done()  # waits for the erasure in progress
            await erasing.commit()
            assert await check == {DIGEST}  # and then skips the erased subject


async def test_an_erasure_waits_for_a_batch_that_checked_before_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as erasure, pool.acquire() as batch:
        checking = batch.transaction()
        await checking.start()
        assert await erased_among(batch, [DIGEST], NOW) == set()  # not erased yet
        async with erasure.transaction():
            remember = asyncio.create_task(
                remember_erased(erasure, [DIGEST], NOW + timedelta(days=30))
            )
            await asyncio.sleep(0.5)
            # The erasure waits until the batch has stored what it checked, so it then
            # anonymises that too.
            assert not remember.done()
            await checking.commit()
            await remember


async def test_batches_do_not_wait_for_each_other(pool: asyncpg.Pool) -> None:
    async with (
        pool.acquire() as first,
        pool.acquire() as second,
        first.transaction(),
        second.transaction(),
    ):
        assert await erased_among(first, [DIGEST], NOW) == set()
        checked = await asyncio.wait_for(erased_among(second, [DIGEST], NOW), timeout=2)
        assert checked == set()

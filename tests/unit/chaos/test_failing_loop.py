"""A loop whose every round fails for longer than its stall limit is unhealthy, whether the
failure looks transient or not (the outbox relay failed every round with a transient-looking
InterfaceError after a PostgreSQL restart, and /readyz stayed green)."""

import asyncio

import asyncpg
import pytest

from kinship_runtime.resilience import Backoff
from kinship_runtime.workers import SupervisedLoop

FAST = Backoff(first=0.001, cap=0.002)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.InterfaceError(
            "cannot call Connection.is_closed(): connection has been released back to the pool"
        ),
        RuntimeError("a bug in every round"),
    ],
)
async def test_a_loop_failing_every_round_turns_unhealthy_after_its_stall_limit(
    error: Exception,
) -> None:
    async def round_() -> bool:
        raise error

    loop = SupervisedLoop("test", round_, poll_seconds=0.001, stall_seconds=0.3, backoff=FAST)
    loop.start()
    await asyncio.sleep(0.1)
    assert loop.healthy(), "a short outage is waited out"
    await asyncio.sleep(0.4)
    assert not loop.healthy(), "a failure that never ends fails /readyz"
    await loop.stop()


async def test_one_good_round_makes_it_healthy_again() -> None:
    failing = True

    async def round_() -> bool:
        if failing:
            raise ConnectionRefusedError()
        return False

    loop = SupervisedLoop("test", round_, poll_seconds=0.001, stall_seconds=0.2, backoff=FAST)
    loop.start()
    await asyncio.sleep(0.3)
    assert not loop.healthy()
    failing = False
    await asyncio.sleep(0.05)
    assert loop.healthy()
    await loop.stop()

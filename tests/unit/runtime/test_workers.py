"""Background loops survive every failure and say when they are unhealthy (kinship_runtime.workers)."""

import asyncio
import logging

import asyncpg
import pytest

from kinship_runtime.resilience import Backoff
from kinship_runtime.workers import SupervisedLoop

FAST = Backoff(first=0.001, cap=0.002)


async def eventually(condition: object, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


async def test_a_loop_survives_a_database_restart_and_a_bug_and_keeps_working() -> None:
    done: list[int] = []
    errors = iter(
        [
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
            RuntimeError("a bug in one round"),
            OSError("connection reset"),
        ]
    )

    async def round_() -> bool:
        error = next(errors, None)
        if error is not None:
            raise error
        done.append(1)
        return False

    loop = SupervisedLoop("test", round_, poll_seconds=0.001, backoff=FAST)
    loop.start()
    await eventually(lambda: len(done) >= 2)
    assert loop.healthy() and loop.failures == 3
    await loop.stop()
    assert not loop.healthy()


async def test_an_outage_is_logged_once_however_long_it_lasts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = 0

    async def round_() -> bool:
        nonlocal attempts
        attempts += 1
        if attempts <= 30:
            raise ConnectionRefusedError()
        return False

    loop = SupervisedLoop(
        "relay", round_, poll_seconds=0.001, backoff=FAST, logger=logging.getLogger("w")
    )
    with caplog.at_level(logging.WARNING, "w"):
        loop.start()
        await eventually(lambda: loop.rounds >= 1)
        await loop.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "relay waits for a dependency (ConnectionRefusedError); retrying with backoff",
        "relay resumed after 30 retries",
    ]


async def test_a_stuck_round_makes_the_loop_unhealthy() -> None:
    release = asyncio.Event()

    async def round_() -> bool:
        await release.wait()
        return False

    loop = SupervisedLoop("stuck", round_, poll_seconds=0.001, stall_seconds=0.05)
    loop.start()
    await asyncio.sleep(0.01)
    assert loop.healthy()
    await asyncio.sleep(0.1)
    assert not loop.healthy()
    release.set()
    await eventually(loop.healthy)
    await loop.stop()


async def test_a_busy_round_runs_the_next_at_once_and_wake_cuts_the_poll_short() -> None:
    rounds: list[bool] = []

    async def round_() -> bool:
        rounds.append(True)
        return len(rounds) < 3  # busy twice, then idle

    loop = SupervisedLoop("busy", round_, poll_seconds=60)
    loop.start()
    await eventually(lambda: len(rounds) == 3)
    loop.wake()
    await eventually(lambda: len(rounds) == 4)
    await loop.stop()


async def test_a_loop_that_never_started_is_not_healthy() -> None:
    async def round_() -> bool:
        return False

    assert not SupervisedLoop("idle", round_, poll_seconds=1).healthy()


async def test_a_wake_does_not_cut_a_failures_backoff_short_but_stopping_does() -> None:
    attempts = 0

    async def round_() -> bool:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("this round always fails")

    loop = SupervisedLoop("test", round_, poll_seconds=0.001, backoff=Backoff(first=30.0, cap=30.0))
    loop.start()
    await eventually(lambda: attempts == 1)
    for _ in range(20):  # e.g. the outbox relay woken by every commit
        loop.wake()
        await asyncio.sleep(0.005)
    assert attempts == 1  # still backing off
    started = asyncio.get_running_loop().time()
    await loop.stop(grace_seconds=5.0)
    assert asyncio.get_running_loop().time() - started < 1.0

"""The timer worker (``entrypoints.timers``): each round fires due timers in a unit of work of
its own; the relay is woken when something fired; it runs supervised until stopped."""

import asyncio

from kinship_escalation.domain.timers import Timer, TimerKind
from kinship_escalation.entrypoints.timers import TimerWorker
from kinship_escalation.handlers.context import EscalationContext
from tests.unit.escalation.conftest import NOW, REQUESTS, Clock
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


def reminder(timer_id: str) -> Timer:
    return Timer(timer_id, TimerKind.EXPOSURE_FOLLOW_UP, NOW, subject_id="s-1")


async def test_a_round_fires_what_is_due_commits_and_wakes_the_relay(
    ctx: EscalationContext,
) -> None:
    uow = FakeEscalationUnitOfWork()
    async with uow:
        for number in range(3):
            await uow.timers.schedule(reminder(f"t{number}"))
    wakes: list[None] = []
    worker = TimerWorker(
        lambda: uow, ctx, poll_seconds=60, batch_size=2, after_round=lambda: wakes.append(None)
    )
    assert await worker.fire_due() is True
    assert await worker.fire_due() is True
    assert await worker.fire_due() is False
    assert (worker.fired, len(wakes), uow.commits) == (3, 2, 4)
    assert len(uow.published(REQUESTS)) == 3


async def test_the_worker_runs_until_stopped_and_says_when_it_is_not_running(
    ctx: EscalationContext, clock: Clock
) -> None:
    uow = FakeEscalationUnitOfWork()
    worker = TimerWorker(lambda: uow, ctx, poll_seconds=0.01, batch_size=10)
    assert not worker.healthy()
    worker.start()
    try:
        assert worker.healthy()
        async with uow:
            await uow.timers.schedule(reminder("later"))
        clock.advance(seconds=1)
        for _ in range(200):
            if worker.fired:
                break
            await asyncio.sleep(0.01)
        assert worker.fired == 1
    finally:
        await worker.stop()
    assert not worker.healthy()

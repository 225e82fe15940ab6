"""The durable-timer worker: fires due timers exactly once across replicas.

Each round claims due timers with ``FOR UPDATE SKIP LOCKED`` and marks them fired in the
same transaction as their effects (case transitions and messages go through the outbox),
so a crash rolls both back and another replica, or the restart, fires them again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from kinship_escalation import handlers
from kinship_escalation.adapters.postgres import PostgresEscalation
from kinship_runtime.ingestion import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=30)


class TimerWorker:
    """Polls for due timers and fires them."""

    def __init__(
        self,
        store: PostgresEscalation,
        context: handlers.EscalationContext,
        *,
        poll_seconds: float,
        batch_size: int,
        after_round: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._context = context
        self._poll = poll_seconds
        self._batch = batch_size
        self._after_round = after_round
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.fired = 0

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._task = asyncio.create_task(self._run(), name="escalation-timers")

    async def stop(self) -> None:
        """Finish the current round and stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                fired = await self.fire_due()
            except TRANSIENT_ERRORS as error:
                log.warning("timers wait for the database: %s", type(error).__name__)
                fired = 0
            if fired:
                self._after_round()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._poll)

    async def fire_due(self, now: datetime | None = None) -> int:
        """Fire the timers due now; returns how many fired."""
        now = now or self._context.clock()
        async with self._store.unit() as unit:
            timers = await unit.claim_due_timers(now, self._batch)
            for timer in timers:
                try:
                    async with unit.conn.transaction():  # a savepoint per timer
                        await handlers.fire_timer(unit, self._context, timer)
                except (asyncpg.PostgresError, ValueError, LookupError, PermissionError):
                    # A timer that fails is retried later, never dropped: it may be an alert.
                    log.exception("timer %s failed; retrying later", timer.kind)
                    await unit.conn.execute(
                        "UPDATE timers SET fired_at = NULL, due_at = $2 WHERE id = $1",
                        timer.id,
                        datetime.now(UTC) + RETRY_AFTER,
                    )
        self.fired += len(timers)
        return len(timers)

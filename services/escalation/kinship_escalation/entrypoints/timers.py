"""The durable-timer worker: fires due timers exactly once across replicas.

Each round opens a unit of work that claims due timers (marking them fired) and runs their
effects (case transitions and messages go through the outbox), so a crash rolls both back
and another replica, or the restart, fires them again. The loop survives every failure
(``SupervisedLoop``) and reports itself unhealthy when it is stuck.
"""

from collections.abc import Callable

from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.timers import fire_due_timers
from kinship_runtime.workers import LoopWorker, SupervisedLoop


class TimerWorker(LoopWorker):
    """Polls for due timers and fires them (a ``kinship_runtime.workers.Worker``)."""

    name = "escalation-timers"

    def __init__(
        self,
        units: Callable[[], EscalationUnitOfWork],
        context: EscalationContext,
        *,
        poll_seconds: float,
        batch_size: int,
        after_round: Callable[[], None] = lambda: None,
    ) -> None:
        self._units = units
        self._context = context
        self._batch = batch_size
        self._after_round = after_round
        self._loop = SupervisedLoop(self.name, self.fire_due, poll_seconds=poll_seconds)
        self.fired = 0

    async def fire_due(self) -> bool:
        """One round: fire the timers due now; True when some fired (the next round runs at
        once, and the outbox relay is woken for their messages)."""
        async with self._units() as uow:
            fired = await fire_due_timers(uow, self._context, self._batch)
        self.fired += fired
        if fired:
            self._after_round()
        return fired > 0

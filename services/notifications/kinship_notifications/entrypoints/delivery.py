"""The delivery worker: sends queued messages concurrently, each on its own schedule.

The Kafka consumer only queues requests (a fast insert), so a slow or dead endpoint never
holds up the partition. Each round claims due deliveries (leases) and runs each as its own
task, bounded by its lease; a failure schedules that delivery alone for later (the
``deliver`` handler), so one recipient's dead endpoint cannot delay another's critical
alert. A delivery whose worker died is claimed again after the lease, with the same
delivery id. The rounds run in a ``SupervisedLoop``: a database outage (PostgreSQL
restarting, say) is waited out and the worker carries on; if it could not, ``/readyz`` would
say so.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry.trace import SpanKind

from kinship_notifications.domain.deliveries import Delivery
from kinship_notifications.domain.policy import RetryPolicy
from kinship_notifications.handlers.deliver import DeliveryTools, claim_due, deliver
from kinship_notifications.handlers.ports import Clock, NotificationsUnitOfWork
from kinship_notifications.metrics import count_delivery
from kinship_runtime.resilience import Backoff
from kinship_runtime.telemetry import TRACER, context_of_traceparent, span_attributes
from kinship_runtime.workers import SupervisedLoop

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryConfig:
    """How the worker runs."""

    receipts_topic: str
    concurrency: int
    lease: timedelta
    poll_seconds: float
    retry: RetryPolicy
    grace_seconds: float
    """How long ``stop`` lets deliveries in flight finish; their leases cover the rest."""


class DeliveryWorker:
    """Claims due deliveries and sends each in its own task (a ``kinship_runtime`` worker).

    ``units`` makes a fresh unit of work (one per claim and per delivery: deliveries run
    concurrently). ``after_finish`` is called when a receipt was queued (wakes the relay).
    """

    name = "notification-delivery"

    def __init__(
        self,
        units: Callable[[], NotificationsUnitOfWork],
        tools: DeliveryTools,
        config: DeliveryConfig,
        *,
        after_finish: Callable[[], None] = lambda: None,
        clock: Clock = _utc_now,
        jitter: Callable[[], float] = random.random,
        backoff: Backoff | None = None,
    ) -> None:
        self._units = units
        self._tools = tools
        self._config = config
        self._after_finish = after_finish
        self._clock = clock
        self._jitter = jitter
        self._in_flight: set[asyncio.Task[None]] = set()
        self._loop = SupervisedLoop(
            self.name,
            self._round,
            poll_seconds=config.poll_seconds,
            logger=log,
            backoff=backoff,
        )

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._loop.start()

    def wake(self) -> None:
        """New requests were queued: look now instead of at the next poll."""
        self._loop.wake()

    def healthy(self) -> bool:
        """Whether the claiming loop runs and is not stuck."""
        return self._loop.healthy()

    async def stop(self) -> None:
        """Stop claiming; give deliveries in flight the grace period, then stop them (their
        leases bring them back, with the same delivery id)."""
        grace = self._config.grace_seconds
        await self._loop.stop(grace_seconds=grace)
        if not self._in_flight:
            return
        _, pending = await asyncio.wait(self._in_flight, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            log.info("stopped deliveries still in flight", extra={"count": len(pending)})

    @property
    def in_flight(self) -> int:
        """Deliveries being attempted now."""
        return len(self._in_flight)

    async def _round(self) -> bool:
        free = self._config.concurrency - len(self._in_flight)
        if free <= 0:
            return False  # a finishing delivery wakes the loop
        now = self._clock()
        uow = self._units()
        async with uow:
            claimed = await claim_due(uow, now, free, self._config.lease)
        for delivery in claimed:
            task = asyncio.create_task(self._deliver(delivery), name=f"{self.name}-attempt")
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return len(claimed) == free  # maybe more are due: claim again at once

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery task failed: %s", type(task.exception()).__name__)
        self._loop.wake()  # a slot is free

    async def _deliver(self, delivery: Delivery) -> None:
        """One attempt, in a span that continues the trace of the request it came from.

        Bounded by the lease: past it, another claim may be sending the same delivery.
        """
        kind = delivery.request.kind.value
        with TRACER.start_as_current_span(
            f"deliver {kind}",
            context=context_of_traceparent(delivery.traceparent),
            kind=SpanKind.PRODUCER,
            attributes=span_attributes({"kind": kind, "attempt": delivery.attempts + 1}),
        ):
            async with asyncio.timeout(self._config.lease.total_seconds()):
                result = await deliver(
                    delivery,
                    self._units(),
                    self._tools,
                    retry=self._config.retry,
                    clock=self._clock,
                    receipts_topic=self._config.receipts_topic,
                    jitter=self._jitter,
                )
            count_delivery(result.outcome, result.channel)
            if result.receipt_queued:
                self._after_finish()

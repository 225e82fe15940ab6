"""The delivery worker: sends queued messages concurrently, each on its own schedule.

The Kafka consumer only queues requests (a fast insert), so a slow or dead endpoint never
holds up the partition. Each claimed delivery runs as its own task with a timeout; a
failure schedules that delivery alone for later (backoff with jitter), so one recipient's
dead endpoint cannot delay another's critical alert. Claims are leases: a delivery whose
worker died is claimed again after the lease, with the same delivery id.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kinship_contracts.notifications import (
    DeliveryStatus,
    NotificationReceipt,
)
from kinship_contracts.topics import NOTIFICATION_RECEIPTS
from kinship_notifications.adapters.postgres import Delivery, NotificationStore
from kinship_notifications.adapters.senders import DeliveryFailedError, Senders
from kinship_notifications.adapters.templates import Templates
from kinship_notifications.domain.channels import choose_address
from kinship_notifications.domain.policy import Action, CircuitBreaker, RetryPolicy, decide
from kinship_runtime.outbox import event_message
from kinship_runtime.telemetry import (
    DELIVERIES,
    TRACER,
    context_of_traceparent,
    span_attributes,
)

log = logging.getLogger(__name__)


def _outcome(outcome: str, channel: str | None) -> None:
    """Count an attempt's outcome and note it on the delivery's span."""
    DELIVERIES.add(1, {"outcome": outcome, "channel": channel or "none"})
    trace.get_current_span().set_attributes(
        span_attributes({"outcome": outcome, "channel": channel})
    )


SOURCE = "kinship/notifications"


@dataclass
class DeliveryConfig:
    """How the worker runs."""

    receipts_topic: str
    concurrency: int
    lease: timedelta
    poll_seconds: float
    retry: RetryPolicy


class DeliveryWorker:
    """Claims due deliveries and sends each in its own task."""

    def __init__(
        self,
        store: NotificationStore,
        senders: Senders,
        templates: Templates,
        breaker: CircuitBreaker,
        config: DeliveryConfig,
        *,
        after_finish: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._senders = senders
        self._templates = templates
        self._breaker = breaker
        self._config = config
        self._after_finish = after_finish
        self._clock = clock
        self._jitter = jitter
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._task = asyncio.create_task(self._run(), name="notification-delivery")

    def wake(self) -> None:
        """New requests were queued: look now instead of at the next poll."""
        self._wake.set()

    async def stop(self, grace_seconds: float) -> None:
        """Stop claiming; give in-flight deliveries some time (their leases cover the rest)."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=grace_seconds)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            free = self._config.concurrency - len(self._in_flight)
            claimed: list[Delivery] = []
            try:
                now = self._clock()
                claimed = await self._store.claim(now, free, now + self._config.lease)
            except (OSError, ConnectionError) as error:
                log.warning("deliveries wait for the database: %s", type(error).__name__)
            for delivery in claimed:
                task = asyncio.create_task(self._deliver(delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._done)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._config.poll_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery task failed: %s", type(task.exception()).__name__)
        self._wake.set()  # a slot is free

    async def _deliver(self, delivery: Delivery) -> None:
        """One attempt, in a span that continues the trace of the request it came from."""
        attributes = span_attributes(
            {"kind": delivery.request.kind.value, "attempt": delivery.attempts + 1}
        )
        with TRACER.start_as_current_span(
            f"deliver {delivery.request.kind.value}",
            context=context_of_traceparent(delivery.traceparent),
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        ):
            await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> None:
        request = delivery.request
        now = self._clock()
        person = await self._store.reachable(request.recipient)
        if person is None or not person.active:
            await self._finish(delivery, DeliveryStatus.FAILED, None, None, "unknown_recipient")
            return
        preferences = await self._store.preferences(person.person_id)
        sent_today = 0
        if not request.critical:
            sent_today = await self._store.sent_since(person.person_id, now - timedelta(days=1))
        decision = decide(request, preferences, person.timezone, sent_today, now)
        if decision.action is Action.SUPPRESS:
            await self._finish(
                delivery, DeliveryStatus.SUPPRESSED, person.person_id, None, decision.reason
            )
            return
        if decision.action is Action.DEFER and decision.until is not None:
            _outcome("deferred", None)
            await self._store.retry_at(
                delivery.id, delivery.attempts, decision.until, "quiet_hours"
            )
            return
        address = choose_address(person.channels)
        if address is None:
            await self._finish(
                delivery, DeliveryStatus.FAILED, person.person_id, None, "no_channel"
            )
            return
        attempts = delivery.attempts + 1
        try:
            if not self._breaker.allows(address.endpoint, now):
                raise DeliveryFailedError("circuit_open")
            rendered = self._templates.render(request, preferences.locale)
            await self._senders.send(address, request, rendered)
        except DeliveryFailedError as error:
            if error.reason != "circuit_open":
                self._breaker.failed(address.endpoint, self._clock())
            await self._failed_attempt(
                delivery, attempts, person.person_id, address.channel, error.reason
            )
            return
        self._breaker.succeeded(address.endpoint)
        await self._finish(
            delivery, DeliveryStatus.DELIVERED, person.person_id, address.channel, None, attempts
        )

    async def _failed_attempt(
        self, delivery: Delivery, attempts: int, person_id: str, channel: str, reason: str
    ) -> None:
        retry = self._config.retry
        if attempts >= retry.max_attempts:
            await self._finish(
                delivery, DeliveryStatus.FAILED, person_id, channel, reason, attempts
            )
            return
        when = self._clock() + retry.delay(attempts, self._jitter)
        _outcome("retry", channel)
        await self._store.retry_at(delivery.id, attempts, when, reason)

    async def _finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        person_id: str | None,
        channel: str | None,
        reason: str | None,
        attempts: int | None = None,
    ) -> None:
        request = delivery.request
        now = self._clock()
        _outcome(status.value, channel)
        receipt = NotificationReceipt(
            id=f"{request.id}:{status.value}",
            request_id=request.id,
            kind=request.kind,
            status=status,
            channel=channel,
            attempts=attempts if attempts is not None else delivery.attempts,
            case_id=request.case_id,
            alert_id=request.alert.alert_id if request.alert else None,
            reason=reason,
            occurred_at=now,
        )
        message = event_message(
            self._config.receipts_topic,
            request.id,
            receipt,
            event_id=receipt.id,
            event_type=NOTIFICATION_RECEIPTS.event_type,
            source=SOURCE,
            time=now,
        )
        finished = await self._store.finish(
            delivery.id,
            status.value,
            attempts=receipt.attempts,
            person_id=person_id,
            channel=channel,
            error=reason,
            receipt=message,
            now=now,
        )
        if finished:
            log.info("delivery finished", extra={"status": status.value})
            self._after_finish()

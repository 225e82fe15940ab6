"""Delivering messages: claiming due deliveries, and one attempt at one delivery.

An attempt finds the recipient and their preferences, decides (send, wait out quiet hours,
or suppress), chooses a channel, asks the circuit breaker, renders and sends. A failure
schedules that delivery alone for later (backoff with jitter) until the last attempt, which
finishes it as ``failed``; every finished delivery queues its receipt in the outbox, once.
"""

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.notifications import DeliveryStatus, NotificationReceipt
from kinship_contracts.topics import NOTIFICATION_RECEIPTS
from kinship_notifications.domain.channels import Address, DeliveryFailedError, choose_address
from kinship_notifications.domain.deliveries import Delivery
from kinship_notifications.domain.policy import Action, CircuitBreaker, RetryPolicy, decide
from kinship_notifications.handlers.ports import (
    Clock,
    NotificationsUnitOfWork,
    Sender,
    TemplateRenderer,
)
from kinship_runtime.outbox import event_message

log = logging.getLogger(__name__)

SOURCE = "kinship/notifications"
"""The CloudEvents source of receipts."""

DEFERRED = "deferred"
RETRY = "retry"


@dataclass(frozen=True)
class AttemptResult:
    """What an attempt did: ``delivered``, ``failed``, ``suppressed`` (finished), ``deferred``
    or ``retry``; the channel it tried; whether it queued a receipt just now."""

    outcome: str
    channel: str | None = None
    receipt_queued: bool = False


async def claim_due(
    uow: NotificationsUnitOfWork, now: datetime, limit: int, lease: timedelta
) -> list[Delivery]:
    """Up to ``limit`` due deliveries (critical first), leased to the caller for ``lease``:
    a delivery whose worker died is claimed again when its lease runs out."""
    if limit <= 0:
        return []
    return await uow.claim(now, limit, now + lease)


@dataclass(frozen=True)
class _Send:
    person_id: str
    address: Address
    locale: str


@dataclass(frozen=True)
class _Attempt:
    delivery: Delivery
    uow: NotificationsUnitOfWork
    clock: Clock
    receipts_topic: str


async def deliver(
    delivery: Delivery,
    uow: NotificationsUnitOfWork,
    *,
    sender: Sender,
    templates: TemplateRenderer,
    breaker: CircuitBreaker,
    retry: RetryPolicy,
    clock: Clock,
    receipts_topic: str,
    jitter: Callable[[], float] = random.random,
) -> AttemptResult:
    """One attempt at ``delivery``.

    Enters ``uow`` itself, twice: once to decide, once to record the outcome, so that no
    transaction (and no pooled connection) is held while the channel is called.
    """
    attempt = _Attempt(delivery, uow, clock, receipts_topic)
    now = clock()
    async with uow:
        plan = await _plan(attempt, now)
    if isinstance(plan, AttemptResult):
        return plan
    attempts = delivery.attempts + 1
    reason = await _send(plan, attempt, sender, templates, breaker, now)
    channel = plan.address.channel.value
    async with uow:
        if reason is None:
            return await _finish(
                attempt, DeliveryStatus.DELIVERED, plan.person_id, channel, None, attempts
            )
        if attempts >= retry.max_attempts:
            return await _finish(
                attempt, DeliveryStatus.FAILED, plan.person_id, channel, reason, attempts
            )
        when = clock() + retry.delay(attempts, jitter)
        await uow.retry_at(delivery.id, attempts, when, reason)
    return AttemptResult(RETRY, channel)


async def _plan(attempt: _Attempt, now: datetime) -> AttemptResult | _Send:
    """Who, whether now, and where: a finished or deferred result, or what to send."""
    delivery, uow = attempt.delivery, attempt.uow
    request = delivery.request
    person = await uow.reachable(request.recipient)
    if person is None or not person.active:
        return await _finish(attempt, DeliveryStatus.FAILED, None, None, "unknown_recipient")
    preferences = await uow.preferences(person.person_id)
    sent_today = 0
    if not request.critical:
        sent_today = await uow.sent_since(person.person_id, now - timedelta(days=1))
    decision = decide(request, preferences, person.timezone, sent_today, now)
    if decision.action is Action.SUPPRESS:
        return await _finish(
            attempt, DeliveryStatus.SUPPRESSED, person.person_id, None, decision.reason
        )
    if decision.action is Action.DEFER and decision.until is not None:
        # A deferral is not an attempt: the count stays.
        await uow.retry_at(delivery.id, delivery.attempts, decision.until, "quiet_hours")
        return AttemptResult(DEFERRED)
    address = choose_address(person.channels)
    if address is None:
        return await _finish(attempt, DeliveryStatus.FAILED, person.person_id, None, "no_channel")
    return _Send(person.person_id, address, preferences.locale)


async def _send(
    plan: _Send,
    attempt: _Attempt,
    sender: Sender,
    templates: TemplateRenderer,
    breaker: CircuitBreaker,
    now: datetime,
) -> str | None:
    """Send through the breaker; the failure's reason, or None when the channel took it."""
    request = attempt.delivery.request
    endpoint = plan.address.endpoint
    try:
        if not breaker.allows(endpoint, now):
            raise DeliveryFailedError("circuit_open")
        rendered = templates.render(request, plan.locale)
        await sender.send(plan.address, request, rendered)
    except DeliveryFailedError as error:
        if error.reason != "circuit_open":
            breaker.failed(endpoint, attempt.clock())
        return error.reason
    breaker.succeeded(endpoint)
    return None


async def _finish(
    attempt: _Attempt,
    status: DeliveryStatus,
    person_id: str | None,
    channel: str | None,
    reason: str | None,
    attempts: int | None = None,
) -> AttemptResult:
    """Record the outcome and queue its receipt (once: a finished delivery stays finished)."""
    request = attempt.delivery.request
    now = attempt.clock()
    receipt = NotificationReceipt(
        id=f"{request.id}:{status.value}",
        request_id=request.id,
        kind=request.kind,
        status=status,
        channel=channel,
        attempts=attempts if attempts is not None else attempt.delivery.attempts,
        case_id=request.case_id,
        alert_id=request.alert.alert_id if request.alert else None,
        reason=reason,
        occurred_at=now,
    )
    message = event_message(
        attempt.receipts_topic,
        request.id,
        receipt,
        event_id=receipt.id,
        event_type=NOTIFICATION_RECEIPTS.event_type,
        source=SOURCE,
        time=now,
    )
    finished = await attempt.uow.finish(
        attempt.delivery.id,
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
    return AttemptResult(status.value, channel, receipt_queued=finished)

"""Delivering messages: claiming due deliveries, and one attempt at one delivery.

An attempt finds the recipient (a subject id is resolved by the vault, at that moment, and
the answer is never stored), their preferences, decides (send, wait out quiet hours, or
suppress), chooses a channel, mints the tokens of its links (an alert's acknowledgement, a
consent question's answers), renders in the recipient's language, time zone and locale, asks
the circuit breaker and sends. A failure schedules that delivery alone for later (backoff with
jitter) until the last attempt, which finishes it as ``failed``; a failure no attempt can
cure (a missing template, a refused address) finishes it at once. An unreachable vault is
not an attempt: the delivery waits (backoff) and stays pending. Every finished delivery
queues its receipt in the outbox, once.
"""

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.notifications import DeliveryStatus, NotificationReceipt
from kinship_contracts.topics import NOTIFICATION_RECEIPTS
from kinship_notifications.domain.channels import (
    DeliveryFailedError,
    PlannedAddress,
    contact_plan,
    fall_through,
)
from kinship_notifications.domain.deliveries import Delivery
from kinship_notifications.domain.links import MessageLinks
from kinship_notifications.domain.policy import Action, CircuitBreaker, RetryPolicy, decide
from kinship_notifications.handlers.ports import (
    Clock,
    DeliveryTargets,
    NotificationsUnitOfWork,
    Sender,
    TemplateRenderer,
)
from kinship_runtime.outbox import event_message
from kinship_runtime.vault import VaultRefusedError

log = logging.getLogger(__name__)

SOURCE = "kinship/notifications"
"""The CloudEvents source of receipts."""

DEFERRED = "deferred"
RETRY = "retry"
WAITING = "waiting"
FELL_THROUGH = "fell_through"


@dataclass(frozen=True)
class AttemptResult:
    """What an attempt did: ``delivered``, ``failed``, ``suppressed`` (finished), ``deferred``,
    ``retry``, ``fell_through`` (the next contact method is due) or ``waiting`` (for the
    vault); the channel it tried; whether it queued a receipt just now."""

    outcome: str
    channel: str | None = None
    receipt_queued: bool = False


@dataclass(frozen=True)
class DeliveryTools:
    """What an attempt works with besides its unit of work."""

    sender: Sender
    templates: TemplateRenderer
    breaker: CircuitBreaker
    targets: DeliveryTargets
    links: MessageLinks


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
    plan: list[PlannedAddress]
    method: int
    locale: str
    timezone: str

    @property
    def target(self) -> PlannedAddress:
        return self.plan[self.method]


@dataclass(frozen=True)
class _Attempt:
    delivery: Delivery
    uow: NotificationsUnitOfWork
    clock: Clock
    receipts_topic: str


async def deliver(
    delivery: Delivery,
    uow: NotificationsUnitOfWork,
    tools: DeliveryTools,
    *,
    retry: RetryPolicy,
    clock: Clock,
    receipts_topic: str,
    jitter: Callable[[], float] = random.random,
) -> AttemptResult:
    """One attempt at ``delivery``.

    Enters ``uow`` itself, at most twice: once to decide, once to record the outcome, so that
    no transaction (and no pooled connection) is held while the vault or the channel is
    called.
    """
    attempt = _Attempt(delivery, uow, clock, receipts_topic)
    recipient = delivery.request.recipient
    person_id = recipient.person_id
    if person_id is None and recipient.subject_id is not None:
        try:
            person_id = await tools.targets.delivery_target(recipient.subject_id, delivery.id)
        except OSError:
            return await _wait(attempt, retry, jitter, "vault_unavailable")
        except VaultRefusedError:
            log.error(
                "the check-in service refused a delivery lookup: check this service's "
                "KINSHIP_CHECKIN_API_KEY (scope subjects:deliver); the delivery waits"
            )
            return await _wait(attempt, retry, jitter, "vault_refused")
    now = clock()
    async with uow:
        if person_id is None:
            return await _finish(attempt, DeliveryStatus.FAILED, None, "unknown_recipient")
        plan = await _plan(attempt, person_id, now)
    if isinstance(plan, AttemptResult):
        return plan
    attempts = delivery.attempts + 1
    failure = await _send(plan, attempt, tools, now)
    channel = plan.target.address.channel.value
    async with uow:
        if failure is None:
            return await _finish(attempt, DeliveryStatus.DELIVERED, channel, None, attempts)
        return await _after_failure(attempt, plan, failure, attempts, retry, jitter, now)


async def _after_failure(
    attempt: _Attempt,
    plan: _Send,
    failure: DeliveryFailedError,
    attempts: int,
    retry: RetryPolicy,
    jitter: Callable[[], float],
    now: datetime,
) -> AttemptResult:
    """A failed channel falls through to the recipient's next contact method (at its delay);
    after the last one, the round starts again with backoff, until the last attempt. A
    failure no channel can cure (the template) finishes at once, and so does a permanent one
    when the recipient has a single way to be reached."""
    delivery, uow, channel = attempt.delivery, attempt.uow, plan.target.address.channel.value
    started = delivery.round_started_at if plan.method > 0 else None
    following = fall_through(plan.plan, plan.method, started or now, attempt.clock())
    hopeless = failure.reason == "template_error" or (failure.permanent and len(plan.plan) == 1)
    if hopeless or attempts >= retry.max_attempts:
        return await _finish(attempt, DeliveryStatus.FAILED, channel, failure.reason, attempts)
    if following is not None:
        await uow.fall_through(
            delivery.id, attempts, following.method, following.at, started or now, failure.reason
        )
        return AttemptResult(FELL_THROUGH, channel)
    when = attempt.clock() + retry.delay(attempts, jitter)  # a new round, from the first
    await uow.fall_through(delivery.id, attempts, 0, when, when, failure.reason)
    return AttemptResult(RETRY, channel)


async def _wait(
    attempt: _Attempt, retry: RetryPolicy, jitter: Callable[[], float], reason: str
) -> AttemptResult:
    """The vault could not say whom to deliver to: try again later, pending, never failed."""
    when = attempt.clock() + retry.delay(attempt.delivery.waits + 1, jitter)
    async with attempt.uow:
        await attempt.uow.postpone(attempt.delivery.id, when, reason)
    return AttemptResult(WAITING)


async def _plan(attempt: _Attempt, person_id: str, now: datetime) -> AttemptResult | _Send:
    """Whether now, and where: a finished or deferred result, or what to send.

    ``person_id`` is the recipient as addressed or as the vault resolved a subject id just
    now: it is used for this attempt only, never stored with the delivery.
    """
    delivery, uow = attempt.delivery, attempt.uow
    request = delivery.request
    person = await uow.reachable(person_id)
    if person is None or not person.active:
        return await _finish(attempt, DeliveryStatus.FAILED, None, "unknown_recipient")
    preferences = await uow.preferences(person_id)
    sent_today = 0
    if request.limited:
        sent_today = await uow.sent_since(request.recipient, now - timedelta(days=1))
    decision = decide(request, preferences, person.timezone, sent_today, now)
    if decision.action is Action.SUPPRESS:
        return await _finish(attempt, DeliveryStatus.SUPPRESSED, None, decision.reason)
    if decision.action is Action.DEFER and decision.until is not None:
        # A deferral is not an attempt: the count stays.
        await uow.retry_at(delivery.id, delivery.attempts, decision.until, "quiet_hours")
        return AttemptResult(DEFERRED)
    plan = contact_plan(person.channels, preferences.contact_methods)
    if not plan:
        return await _finish(attempt, DeliveryStatus.FAILED, None, "no_channel")
    method = delivery.method if delivery.method < len(plan) else 0  # the directory changed
    return _Send(plan, method, preferences.locale, person.timezone)


async def _send(
    plan: _Send, attempt: _Attempt, tools: DeliveryTools, now: datetime
) -> DeliveryFailedError | None:
    """Mint, render, send through the breaker; the failure, or None when the channel took it.

    The message with its minted tokens (an alert's acknowledgement link, a consent question's
    answers) exists only here, on its way to the channel: the stored request keeps its links
    without tokens.
    """
    try:
        outgoing = tools.links.for_sending(attempt.delivery.request, now)
        rendered = tools.templates.render(outgoing, plan.locale, plan.timezone)
    except DeliveryFailedError as error:
        return error  # the request's fault, not the endpoint's: the breaker is untouched
    address = plan.target.address
    endpoint = address.endpoint
    try:
        if not tools.breaker.allows(endpoint, now):
            raise DeliveryFailedError("circuit_open")
        await tools.sender.send(address, outgoing, rendered)
    except DeliveryFailedError as error:
        if error.reason == "circuit_open":
            return error
        if error.permanent:
            # The endpoint answered (e.g. SMTP 550 for one address): it works, so a trial
            # that ends so closes the circuit rather than keep every colleague's mail
            # failing fast for another cool-down.
            tools.breaker.succeeded(endpoint)
        else:
            tools.breaker.failed(endpoint, attempt.clock())
        return error
    tools.breaker.succeeded(endpoint)
    return None


async def _finish(
    attempt: _Attempt,
    status: DeliveryStatus,
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
        channel=channel,
        error=reason,
        receipt=message,
        now=now,
    )
    if finished:
        log.info("delivery finished", extra={"status": status.value})
    return AttemptResult(status.value, channel, receipt_queued=finished)

"""Alerting a case's policy step, and moving on when every alert of a step failed.

Nobody is alerted about themself: the people a step would alert are screened with the
check-in service's vault (``conflicts``), the only place that knows who a subject is. When
the vault does not answer, the alert goes out unscreened (a crisis must not wait) and the
case's audit trail records that the screen was skipped.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import HttpUrl

from kinship_contracts.cases import Severity
from kinship_contracts.notifications import (
    Alert,
    DeliveryStatus,
    MessageKind,
    NotificationReceipt,
    Recipient,
)
from kinship_escalation.domain.cases import AlertRecord, AuditRecord, Case, StoredCase
from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    PersonTarget,
    Responder,
    RespondersTarget,
    RotationTarget,
    StaffMember,
    Target,
    choose_responder,
)
from kinship_escalation.domain.rules import REASONS
from kinship_escalation.domain.timers import ack_timeout
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import record_transitions, request_notification
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.metrics import SCREENS_SKIPPED

log = logging.getLogger(__name__)

Recipients = tuple[str | None, list[str]]
"""(the responder assigned, or None for a group; the people to alert)."""


def reason_of(case: Case) -> str:
    """What a responder is told about the case: a sentence for its strongest-listed rule."""
    for rule in REASONS:
        if rule in case.rules:
            return REASONS[rule]
    return "A colleague may need support."


async def screened(
    stored: StoredCase,
    person_ids: list[str],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> list[str]:
    """``person_ids`` without the person the case is about (asked of the vault).

    Whatever goes wrong asking, the people are returned unscreened and the skip is audited:
    alerting must never wait for the vault. (The check-in service still refuses to reveal
    a case's person to themself.)
    """
    if not person_ids:
        return []
    case = stored.case
    try:
        conflicts = set(await ctx.vault.conflicts(case.subject_id, person_ids))
    except Exception as error:  # any failure: alert anyway, never wait
        log.warning("screen skipped: the vault did not answer (%s)", type(error).__name__)
        SCREENS_SKIPPED.add(1)
        await uow.cases.audit(AuditRecord.of(case, "screen_skipped", "escalation"))
        return list(person_ids)
    return [person for person in person_ids if person not in conflicts]


async def recipients(
    stored: StoredCase,
    target: Target,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> Recipients:
    """Who a policy step's target alerts for this case (never the person it is about)."""
    match target:
        case CoordinatorsTarget():
            staff = await uow.directory.staff()
            coordinators = [m.person_id for m in staff if m.coordinator]
            return None, await screened(stored, coordinators, uow, ctx)
        case PersonTarget(person_id=person_id):
            person = await uow.directory.person(person_id)
            if person is None or not await screened(stored, [person.person_id], uow, ctx):
                return None, []
            return person.person_id, [person.person_id]
        case RotationTarget(name=name):
            candidates = await _rotation_members(name, await uow.directory.staff(), uow, now)
            return await _one_responder(stored, candidates, uow, ctx, now, balance=False)
        case RespondersTarget():
            staff = await uow.directory.staff()
            candidates = [m.as_responder() for m in staff if m.responder]
            return await _one_responder(stored, candidates, uow, ctx, now, balance=True)


async def _rotation_members(
    name: str, staff: list[StaffMember], uow: EscalationUnitOfWork, now: datetime
) -> list[Responder]:
    rotation = await uow.on_call.rotation(name)
    members = rotation.order_at(now) if rotation else []
    by_id = {member.person_id: member for member in staff}
    return [by_id[p].as_responder() for p in members if p in by_id]


async def _one_responder(
    stored: StoredCase,
    candidates: list[Responder],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
    *,
    balance: bool,
) -> Recipients:
    # Screened before choosing: the one chosen is never the person the case is about.
    fresh = [c for c in candidates if c.person_id not in stored.alerted]
    allowed = set(await screened(stored, [c.person_id for c in fresh], uow, ctx))
    chosen = choose_responder(
        [c for c in candidates if c.person_id in allowed],
        team_id=stored.case.team_id,
        load=await uow.workload.loads(now),
        already_alerted=set(stored.alerted),
        now=now,
        balance=balance,
    )
    return (chosen.person_id, [chosen.person_id]) if chosen else (None, [])


async def alert_step(
    stored: StoredCase,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    *,
    step: int,
    attempt: int,
    now: datetime,
) -> None:
    """Alert the case's policy step (skipping steps with nobody to alert) and start its timer."""
    policy = stored.policy
    step = policy.bounded(step)
    if attempt > 1 and stored.case.step == step:
        # A repeat alerts the same people again.
        responder, people = stored.case.responder_id, stored.last_alerted()
    else:
        responder, people = await recipients(stored, policy.step(step).target, uow, ctx, now)
    if not people and not policy.is_last(step):
        await alert_step(stored, uow, ctx, step=step + 1, attempt=1, now=now)
        return
    events = stored.case.assign(responder, step, attempt, now)
    stored.alert(people)
    await record_transitions(stored, events, "escalation", uow, ctx)
    for person_id in people:
        await _send_alert(stored.case, person_id, step, attempt, uow, ctx, now)
    if not people:
        log.warning("no responder or coordinator to alert; retrying after the step timeout")
    timeout = timedelta(seconds=policy.step(step).timeout_seconds)
    await uow.timers.schedule(ack_timeout(stored.case.id, step, attempt, now + timeout))


async def _send_alert(
    case: Case,
    person_id: str,
    step: int,
    attempt: int,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    alert_id = ctx.new_id()
    await uow.alerts.add(AlertRecord(alert_id, case.id, person_id, step, attempt), now)
    alert = Alert(
        alert_id=alert_id,
        case_id=case.id,
        severity=case.severity,
        step=step,
        reason=reason_of(case),
        opened_at=case.opened_at,
        # The link carries no token: the notifications service adds one when it sends it.
        ack_url=HttpUrl(ctx.links.url(alert_id)),
        expires_at=ctx.links.expires_at(now),
    )
    await request_notification(
        MessageKind.ALERT,
        Recipient(person_id=person_id),
        uow,
        ctx,
        request_id=f"alert:{alert_id}",
        critical=case.severity is Severity.CRITICAL,
        case_id=case.id,
        alert=alert,
    )


async def handle_receipts(
    receipts: Sequence[NotificationReceipt], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """A step whose alerts all failed moves on to the next step at once instead of waiting.

    On the last step there is nothing to move on to: its acknowledgement timer re-alerts it,
    so a recipient who cannot be reached never causes a tight loop of alerts.
    """
    for receipt in receipts:
        if receipt.kind is MessageKind.ALERT and receipt.status is DeliveryStatus.FAILED:
            await _alert_failed(receipt, uow, ctx)


async def _alert_failed(
    receipt: NotificationReceipt, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    alert = await uow.alerts.get(receipt.alert_id) if receipt.alert_id else None
    if alert is None:
        return
    await uow.alerts.mark_failed(alert.id, ctx.clock())
    if not await uow.alerts.all_failed(alert.case_id, alert.step, alert.attempt):
        return  # someone else alerted at this step may still take it
    stored = await uow.cases.get(alert.case_id)
    if stored is None or not stored.case.awaiting_acknowledgement:
        return
    if (stored.case.step, stored.case.attempt) != (alert.step, alert.attempt):
        return
    next_step = stored.policy.after_failed_delivery(alert.step)
    if next_step is not None:
        await alert_step(stored, uow, ctx, step=next_step, attempt=1, now=ctx.clock())

"""Alerting a case's policy step, moving on when every alert of a step failed, paging the
coordinators when every step was spent ("unanswered", until someone acknowledges), and paging
the responder at once when a case rises to critical; a case whose severity rises before
anyone takes it moves to the policy its team and new severity choose.

Nobody is alerted about themself: the people a step would alert are screened with the
check-in service's vault (``conflicts``), the only place that knows who a subject is. When
the vault does not answer, the alert goes out unscreened (a crisis must not wait) and the
case's audit trail records that the screen was skipped.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import HttpUrl

from kinship_contracts.cases import CaseEventKind, CaseStatus, Severity
from kinship_contracts.notifications import (
    Alert,
    DeliveryStatus,
    MessageKind,
    NotificationReceipt,
    Recipient,
)
from kinship_escalation.domain.cases import (
    AlertPurpose,
    AlertRecord,
    AuditRecord,
    Case,
    StoredCase,
)
from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    EscalationStep,
    NotifyMode,
    PeopleTarget,
    Responder,
    RespondersTarget,
    ScheduleTarget,
    StaffMember,
    Target,
    choose_responder,
)
from kinship_escalation.domain.rules import REASONS
from kinship_escalation.domain.schedules.calculation import on_call_order
from kinship_escalation.domain.schedules.escalation import pick_recipients
from kinship_escalation.domain.schedules.model import schedule_from_rotation
from kinship_escalation.domain.timers import ack_timeout, unanswered
from kinship_escalation.handlers.configuration import policy_for
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import record_transitions, request_notification
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.metrics import SCREENS_SKIPPED, UNANSWERED
from kinship_runtime.idempotency import first_seen

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
        conflicts = set(await ctx.vault.conflicts(case.subject_id, person_ids, purpose="alert"))
    except Exception as error:  # any failure: alert anyway, never wait
        log.warning("screen skipped: the vault did not answer (%s)", type(error).__name__)
        SCREENS_SKIPPED.add(1)
        await uow.cases.audit(AuditRecord.of(case, "screen_skipped", "escalation", at=ctx.clock()))
        return list(person_ids)
    return [person for person in person_ids if person not in conflicts]


async def recipients(
    stored: StoredCase,
    step: EscalationStep,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
    *,
    attempt: int = 1,
) -> Recipients:
    """Who a policy step alerts for this case (never the person it is about).

    Each target resolves to people: a schedule to whoever it has on call (then, when they
    were alerted for this case already, the next of that layer), ``responders`` to one peer
    responder (the balanced choice), ``people`` to each person named, ``coordinators`` to
    every coordinator. ``all`` alerts everyone they resolve to; ``round_robin`` one of them
    per alert, the next one on each repeat (``attempt``). The one person a round robin
    alerts, or a step without the coordinators alerts, is the case's assigned responder; a
    group has none.
    """
    staff = {member.person_id: member for member in await uow.directory.staff()}
    again = attempt > 1  # a repeat: schedules and responders may alert the same one again
    resolved: list[str] = []
    for target in step.targets:
        resolved += await _resolve(stored, target, staff, uow, ctx, now, again=again)
    people = pick_recipients(step, resolved, turn=attempt - 1)
    turns = step.notify is NotifyMode.ROUND_ROBIN
    single = len(people) == 1 and (turns or not step.reaches_coordinators)
    return (people[0] if single else None), people


async def _resolve(
    stored: StoredCase,
    target: Target,
    staff: dict[str, StaffMember],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
    *,
    again: bool,
) -> list[str]:
    alerted = set() if again else set(stored.alerted)
    match target:
        case CoordinatorsTarget():
            coordinators = [p for p, member in staff.items() if member.coordinator]
            return await screened(stored, coordinators, uow, ctx)
        case PeopleTarget(people=people):
            # Anyone active in the directory, whatever their role.
            known = [p for p in people if p in staff or await uow.directory.person(p)]
            return await screened(stored, known, uow, ctx)
        case ScheduleTarget(schedule=name):
            order = [p for p in await _on_call_order(name, uow, now) if p in staff]
            fresh = [p for p in order if p not in alerted]
            allowed = set(await screened(stored, fresh, uow, ctx))
            return [p for p in fresh if p in allowed][:1]
        case RespondersTarget():
            candidates = [m.as_responder() for m in staff.values() if m.responder]
            return await _balanced_responder(stored, candidates, alerted, uow, ctx, now)


async def _on_call_order(name: str, uow: EscalationUnitOfWork, now: datetime) -> list[str]:
    """Whom a schedule (or a rotation stored before schedules) has on call, then the rest of
    that layer; people resting after a critical case, or away, last."""
    schedule = await uow.on_call.schedule(name)
    if schedule is None:
        rotation = await uow.on_call.rotation(name)
        if rotation is None:
            return []
        members, hours = rotation.members, rotation.shift_hours
        schedule = schedule_from_rotation(rotation.name, members, hours, rotation.starts_at)
    loads = await uow.workload.loads(now)
    resting = {p: load.unavailable_until for p, load in loads.items() if load.unavailable_until}
    return on_call_order(schedule, now, resting)


async def _balanced_responder(
    stored: StoredCase,
    candidates: list[Responder],
    alerted: set[str],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> list[str]:
    # Screened before choosing: the one chosen is never the person the case is about.
    fresh = [c for c in candidates if c.person_id not in alerted]
    allowed = set(await screened(stored, [c.person_id for c in fresh], uow, ctx))
    chosen = choose_responder(
        [c for c in candidates if c.person_id in allowed],
        team_id=stored.case.team_id,
        load=await uow.workload.loads(now),
        already_alerted=alerted,
        now=now,
    )
    return [chosen.person_id] if chosen else []


async def alert_step(
    stored: StoredCase,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    *,
    step: int,
    attempt: int,
    now: datetime,
) -> None:
    """Alert the case's policy step (skipping steps with nobody to alert) and start its timer.

    A repeat of an ``all`` step alerts its assigned responder again (or re-resolves a group
    step); a repeat of a ``round_robin`` step alerts the next person in turn.
    """
    policy = stored.policy
    step = policy.bounded(step)
    current = policy.step(step)
    repeat = attempt > 1 and stored.case.step == step
    responder: str | None = stored.case.responder_id
    if repeat and current.notify is NotifyMode.ALL and responder is not None:
        people = [responder]
    else:
        turn = attempt if repeat else 1
        responder, people = await recipients(stored, current, uow, ctx, now, attempt=turn)
    following = policy.after_empty_step(step) if not people else None
    if following is not None:
        await alert_step(stored, uow, ctx, step=following, attempt=1, now=now)
        return
    case = stored.case
    events = case.assign(responder, step, attempt, now)
    stored.alert(people)
    await record_transitions(stored, events, "escalation", uow, ctx)
    for person_id in people:
        await send_alert(stored, person_id, AlertPurpose.PAGE, reason_of(case), uow, ctx, now)
    if not people:
        log.warning("no responder or coordinator to alert; retrying after the step timeout")
    due = now + timedelta(seconds=current.timeout_seconds)
    timer = ack_timeout(case.id, step, attempt, due, case.assigned_at)
    await uow.timers.schedule(timer, replace=True)  # a step alerted again is timed again


def still_alerted(case: Case, payload: dict[str, Any]) -> bool:
    """Whether ``case`` still awaits acknowledgement as a timer armed with ``payload`` left
    it: the same step and attempt, alerted at the same time (older timers have no time)."""
    if not case.awaiting_acknowledgement:
        return False
    if (case.step, case.attempt) != (int(payload["step"]), int(payload["attempt"])):
        return False
    assigned_at = payload.get("assigned_at")
    return assigned_at is None or (
        case.assigned_at is not None and case.assigned_at == datetime.fromisoformat(assigned_at)
    )


async def send_alert(
    stored: StoredCase,
    person_id: str,
    purpose: AlertPurpose,
    reason: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """Alert ``person_id`` about the case: an ``alert`` request with the case's severity and
    step, ``reason`` (never answers), and the bare acknowledgement link. Critical cases'
    alerts are critical; the policy says from which severity they are urgent (quiet hours)."""
    case = stored.case
    alert_id = ctx.new_id()
    record = AlertRecord(alert_id, case.id, person_id, case.step, case.attempt, purpose=purpose)
    await uow.alerts.add(record, now)
    alert = Alert(
        alert_id=alert_id,
        case_id=case.id,
        severity=case.severity,
        step=max(case.step, 1),
        reason=reason,
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
        urgent=purpose is not AlertPurpose.FOLLOW_UP and stored.policy.urgent(case.severity),
        case_id=case.id,
        alert=alert,
    )


UNANSWERED_REASON = (
    "Unanswered: nobody has taken this case after every step of its escalation policy. "
    "Please take it, or find someone who can, now."
)


async def page_unanswered(
    stored: StoredCase,
    page: int,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """Every step was spent unacknowledged: page the coordinators on a distinct "unanswered"
    alert (everyone alerted so far when there is no coordinator), and again every
    ``unanswered_interval_seconds`` until someone acknowledges. Earlier alerts' links keep
    working meanwhile."""
    case = stored.case
    staff = await uow.directory.staff()
    people = await screened(stored, [m.person_id for m in staff if m.coordinator], uow, ctx)
    if not people:
        log.warning("no coordinator to page about an unanswered case; paging everyone alerted")
        people = await screened(stored, list(stored.alerted), uow, ctx)
    events = case.record(CaseEventKind.UNANSWERED, now)
    stored.alert(people)
    await record_transitions(stored, events, "escalation", uow, ctx)
    UNANSWERED.add(1, {"severity": case.severity.value, "kind": "first" if page == 1 else "again"})
    for person_id in people:
        reason = f"{UNANSWERED_REASON} {reason_of(case)}"
        await send_alert(stored, person_id, AlertPurpose.UNANSWERED, reason, uow, ctx, now)
    assert case.assigned_at is not None  # alerted before it could go unanswered
    at = {"step": case.step, "attempt": case.attempt, "assigned_at": case.assigned_at.isoformat()}
    due = now + timedelta(seconds=stored.policy.unanswered_interval_seconds)
    await uow.timers.schedule(unanswered(case.id, case.sequence, page, at, due))


async def severity_rose(
    stored: StoredCase, uow: EscalationUnitOfWork, ctx: EscalationContext, now: datetime
) -> bool:
    """The case's severity rose: while nobody has acknowledged it, it switches to the policy
    its team and new severity choose when that is another policy, starting again at that
    policy's first step (audited ``policy_switched``); whether it did. A case someone holds
    keeps its policy (a rise to critical still pages them: :func:`page_critical`)."""
    case = stored.case
    if not case.awaiting_acknowledgement:
        return False
    chosen = await policy_for(case.team_id, case.severity, uow, ctx)
    if chosen.name == stored.policy.name:
        return False
    stored.policy = chosen
    await uow.cases.audit(AuditRecord.of(case, "policy_switched", "escalation", at=now))
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=now)
    return True


async def page_critical(
    stored: StoredCase, uow: EscalationUnitOfWork, ctx: EscalationContext, now: datetime
) -> None:
    """The case rose to critical: its current responder is paged at once (a critical alert,
    whether they have acknowledged or not); a case nobody holds starts its policy again."""
    case = stored.case
    if case.awaiting_acknowledgement:
        if case.responder_id is not None:  # alerted, not acknowledged: alert them again now
            again = stored.policy.again(case.step, case.attempt)
            await alert_step(stored, uow, ctx, step=again.step, attempt=again.attempt, now=now)
        else:
            await alert_step(stored, uow, ctx, step=1, attempt=1, now=now)
        return
    if case.responder_id is not None:
        reason = f"Now critical. {reason_of(case)}"
        await send_alert(stored, case.responder_id, AlertPurpose.CRITICAL, reason, uow, ctx, now)
        await uow.cases.audit(AuditRecord.of(case, "paged_critical", "detection", at=now))


async def page_severity_rise(
    stored: StoredCase, uow: EscalationUnitOfWork, ctx: EscalationContext, now: datetime
) -> None:
    """The severity of a case someone holds rose, below critical (a rise to critical is
    :func:`page_critical`): its holder is told at once (an ``update`` alert, audited
    ``paged_severity``). A case nobody holds yet is re-routed by :func:`severity_rose`."""
    case = stored.case
    held = case.status in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED)
    if not held or case.responder_id is None or case.severity is Severity.CRITICAL:
        return
    reason = f"Now {case.severity.value}. {reason_of(case)}"
    await send_alert(stored, case.responder_id, AlertPurpose.UPDATE, reason, uow, ctx, now)
    await uow.cases.audit(AuditRecord.of(case, "paged_severity", "detection", at=now))


async def handle_receipts(
    receipts: Sequence[NotificationReceipt], uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """A step whose alerts all failed moves on to the next step at once instead of waiting.

    On the last step there is nothing to move on to: its acknowledgement timer re-alerts it,
    so a recipient who cannot be reached never causes a tight loop of alerts. Each receipt
    is acted on once.
    """
    for receipt in await first_seen(uow, "receipts", receipts):
        if receipt.kind is MessageKind.ALERT and receipt.status is DeliveryStatus.FAILED:
            await _alert_failed(receipt, uow, ctx)


async def _alert_failed(
    receipt: NotificationReceipt, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    alert = await uow.alerts.get(receipt.alert_id) if receipt.alert_id else None
    if alert is None or alert.purpose is not AlertPurpose.PAGE:
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

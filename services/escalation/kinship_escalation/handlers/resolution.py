"""After a case is resolved: feedback from both sides when there was support to rate, and
follow-up check-ins for the person at about 72 hours and about a month.

- Feedback is requested (``feedback_request``, from the person and from the responder) only
  after ``supported``, ``referred_professional`` or ``referred_emergency``: after
  ``no_contact`` or ``declined`` there was no conversation to rate.
- Every resolved case gets its follow-ups (``checkin_reminder`` with ``purpose=follow_up``,
  care: never rate-limited) at ``DetectionRules.follow_up_after_hours`` (72 h, 720 h), unless
  the person declined. An erased case has no timers left; a re-opened case's follow-ups of
  its earlier resolution do nothing.
"""

from datetime import datetime, timedelta

from kinship_contracts.cases import CaseOutcome
from kinship_contracts.notifications import MessageKind, Param, Recipient, ReminderPurpose
from kinship_escalation.domain.cases import StoredCase, is_erased
from kinship_escalation.domain.casework import CaseWork
from kinship_escalation.domain.timers import Timer, case_follow_up
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import record_transitions, request_notification
from kinship_escalation.handlers.ports import EscalationUnitOfWork

FEEDBACK_OUTCOMES = frozenset(
    {CaseOutcome.SUPPORTED, CaseOutcome.REFERRED_PROFESSIONAL, CaseOutcome.REFERRED_EMERGENCY}
)
"""Outcomes after which both sides are asked for feedback."""


async def after_resolution(
    stored: StoredCase,
    work: CaseWork,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """Ask for feedback (when there was support to rate) and schedule the follow-ups (unless
    the person declined); ``work`` counts the resolution and is saved."""
    case = stored.case
    work.resolutions += 1
    work.follow_up_at = None
    if case.outcome in FEEDBACK_OUTCOMES:
        again = "" if work.resolutions == 1 else f":{work.resolutions}"
        sides = [(Recipient(subject_id=case.subject_id), "person")]
        if case.responder_id is not None:
            sides.append((Recipient(person_id=case.responder_id), "responder"))
        for recipient, side in sides:
            await request_notification(
                MessageKind.FEEDBACK_REQUEST,
                recipient,
                uow,
                ctx,
                request_id=f"feedback:{case.id}{again}:{side}",
                case_id=case.id,
                params={Param.CASE_ID: case.id, Param.FROM: side},
            )
    if case.outcome is not CaseOutcome.DECLINED:
        for hours in ctx.rules.follow_up_after_hours:
            due = now + timedelta(hours=hours)
            await uow.timers.schedule(case_follow_up(case.id, due, work.resolutions, hours))
    await uow.casework.save(work)


async def follow_up_due(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """A follow-up after resolution has come: the ``follow_up_due`` event and a follow-up
    check-in reminder for the person — unless the case was re-opened (or resolved again)
    since, or its person erased."""
    if timer.case_id is None:
        return
    stored = await uow.cases.get(timer.case_id)
    if stored is None or is_erased(stored.case.subject_id):
        return
    resolution = timer.payload.get("resolution")
    if resolution is not None:
        work = await uow.casework.get(timer.case_id)
        if stored.case.is_open or work is None or work.resolutions != int(resolution):
            return
    events = stored.case.follow_up_due(ctx.clock())
    await record_transitions(stored, events, "timer", uow, ctx)
    await request_notification(
        MessageKind.CHECKIN_REMINDER,
        Recipient(subject_id=stored.case.subject_id),
        uow,
        ctx,
        request_id=f"reminder:{timer.id}",
        case_id=stored.case.id,
        params={Param.PURPOSE: ReminderPurpose.FOLLOW_UP},
    )

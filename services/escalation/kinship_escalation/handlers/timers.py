"""Firing durable timers: each kind has its handler in ``TIMER_HANDLERS``.

Timers are claimed and fired in the unit of work that marks them fired, each in its own
savepoint: a timer that fails is armed again for later and never dropped (it may be an
alert), while the others of the round go ahead. A timer checks that its case is still where
it left it (alerted at that step, attempt and time; acknowledged at that time), so a late
timer after an acknowledgement does nothing — and new evidence, which changes neither, never
disarms one.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from kinship_contracts.cases import CaseStatus, GroupSessionKind
from kinship_escalation.domain.timers import Timer, TimerKind
from kinship_escalation.handlers.alerts import alert_step, page_unanswered, still_alerted
from kinship_escalation.handlers.casework import responder_follow_up_due
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import absence_watch_due, missed_checkins_due
from kinship_escalation.handlers.group_support import exposure_follow_up_due, propose_group_session
from kinship_escalation.handlers.outreach import consent_expired
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.reminders import checkin_reminder_due
from kinship_escalation.handlers.resolution import follow_up_due
from kinship_runtime.resilience import is_transient

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=30)
"""When a timer whose handler failed is tried again."""

TimerHandler = Callable[[Timer, EscalationUnitOfWork, EscalationContext], Awaitable[None]]


def _incomplete(timer: Timer) -> None:
    log.warning("incomplete timer %s skipped", timer.kind)


async def _ack_timed_out(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """Nobody acknowledged the step: repeat it, or move on along the policy."""
    if timer.case_id is None:
        _incomplete(timer)
        return
    step, attempt = int(timer.payload["step"]), int(timer.payload["attempt"])
    stored = await uow.cases.get(timer.case_id)
    if stored is None or not still_alerted(stored.case, timer.payload):
        return  # acknowledged, or already moved on (e.g. after a failed delivery)
    now = ctx.clock()
    after = stored.policy.after_timeout(step, attempt)
    if after.unanswered:
        await page_unanswered(stored, 1, uow, ctx, now)
    else:
        await alert_step(stored, uow, ctx, step=after.step, attempt=after.attempt, now=now)


async def _unanswered(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """Still nobody took the case: page the coordinators again (and again, at the interval)."""
    if timer.case_id is None:
        _incomplete(timer)
        return
    stored = await uow.cases.get(timer.case_id)
    if stored is None or not still_alerted(stored.case, timer.payload):
        return  # acknowledged, handed over, re-alerted or closed meanwhile
    page = int(timer.payload.get("page", 1)) + 1
    await page_unanswered(stored, page, uow, ctx, ctx.clock())


async def _contact_timed_out(
    timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """Acknowledged but nobody reached the person in time: the next step is alerted."""
    if timer.case_id is None:
        _incomplete(timer)
        return
    stored = await uow.cases.get(timer.case_id)
    if stored is None:
        return
    case = stored.case
    if case.status is not CaseStatus.ACKNOWLEDGED or case.contacted_at is not None:
        return  # contacted, handed over, waiting for someone to take it, or resolved
    acknowledged_at = timer.payload.get("acknowledged_at")
    if acknowledged_at is None:  # armed before 0.3: the case must not have moved on
        if case.sequence != int(timer.payload["sequence"]):
            return
    elif case.acknowledged_at != datetime.fromisoformat(acknowledged_at):
        return  # taken again since: its own timer runs
    case.contact_overdue()
    step = stored.policy.escalated(case.step)
    await alert_step(stored, uow, ctx, step=step, attempt=1, now=ctx.clock())


async def _case_follow_up(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """After resolution: the follow-up event and a check-in reminder for the person."""
    if timer.case_id is None:
        _incomplete(timer)
        return
    await follow_up_due(timer, uow, ctx)


async def _responder_follow_up(
    timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """The responder's planned follow-up has come: remind them."""
    if timer.case_id is None:
        _incomplete(timer)
        return
    await responder_follow_up_due(timer, uow, ctx)


async def _consent_expiry(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """The person never answered whether a peer may reach out: the case closes."""
    if timer.case_id is None:
        _incomplete(timer)
        return
    await consent_expired(timer, uow, ctx)


async def _exposure_follow_up(
    timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """After a critical incident: a follow-up check-in for the person exposed."""
    if timer.subject_id is None:
        _incomplete(timer)
        return
    await exposure_follow_up_due(timer.subject_id, timer.id, uow, ctx)


async def _missed_checkins(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """The withdrawal watch came due."""
    if timer.subject_id is None:
        _incomplete(timer)
        return
    last_checkin = timer.payload.get("last_checkin")
    at = timer.payload.get("last_at")
    last_at = datetime.fromisoformat(at) if at else None  # absent on watches set before
    await missed_checkins_due(timer.subject_id, timer.team_id, last_checkin, uow, ctx, last_at)


async def _absence(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """The absence watch came due."""
    if timer.subject_id is None:
        _incomplete(timer)
        return
    await absence_watch_due(timer.subject_id, timer.team_id, timer.payload, uow, ctx)


async def _checkin_reminder(
    timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """A regular check-in is overdue: remind the person."""
    if timer.subject_id is None:
        _incomplete(timer)
        return
    await checkin_reminder_due(timer, timer.subject_id, uow, ctx)


async def _support_session(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """The support-session window after an incident opens: offer a session to the team."""
    if timer.team_id is None:
        _incomplete(timer)
        return
    await propose_group_session(
        timer.team_id,
        GroupSessionKind.SUPPORT_SESSION,
        str(timer.payload["reason"]),
        datetime.fromisoformat(timer.payload["from"]),
        uow,
        ctx,
        now=ctx.clock(),
    )


TIMER_HANDLERS: dict[TimerKind, TimerHandler] = {
    TimerKind.ACK_TIMEOUT: _ack_timed_out,
    TimerKind.CONTACT_TIMEOUT: _contact_timed_out,
    TimerKind.CASE_FOLLOW_UP: _case_follow_up,
    TimerKind.EXPOSURE_FOLLOW_UP: _exposure_follow_up,
    TimerKind.MISSED_CHECKINS: _missed_checkins,
    TimerKind.ABSENCE: _absence,
    TimerKind.SUPPORT_SESSION: _support_session,
    TimerKind.UNANSWERED: _unanswered,
    TimerKind.RESPONDER_FOLLOW_UP: _responder_follow_up,
    TimerKind.CONSENT_EXPIRY: _consent_expiry,
    TimerKind.CHECKIN_REMINDER: _checkin_reminder,
}
"""What each kind of timer does."""


async def fire_timer(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
    """Run one due timer's handler."""
    await TIMER_HANDLERS[timer.kind](timer, uow, ctx)


async def fire_due_timers(uow: EscalationUnitOfWork, ctx: EscalationContext, limit: int) -> int:
    """Claim up to ``limit`` due timers and fire each in a savepoint; returns how many.

    A timer that fails is armed again ``RETRY_AFTER`` later, never dropped. A transient
    failure (the database is away) fails the whole round instead: the claims roll back and
    the next round fires them all.
    """
    timers = await uow.timers.claim_due(ctx.clock(), limit)
    for timer in timers:
        try:
            async with uow.savepoint():
                await fire_timer(timer, uow, ctx)
        except Exception as error:
            if is_transient(error):
                raise
            log.exception("timer %s failed; retrying later", timer.kind)
            await uow.timers.retry_at(timer.id, ctx.clock() + RETRY_AFTER)
    return len(timers)

"""Regular check-ins: a person whose check-in is overdue is reminded (SPEC practice 3).

Each subject has one ``checkin_reminder`` timer, armed again from one by every check-in
newer than the last (one statement per batch of check-ins: ``Timers.rearm``). When it fires
and no newer check-in has arrived, the person gets a ``checkin_reminder`` with ``purpose``
``overdue`` by subject id — a *limited* message: the notifications service holds it to their
quiet hours and daily limit — and the timer is armed for the next, up to the maximum in a
row. Withdrawal is judged by its own watch, unchanged (docs/escalation.md). A person
reported absent (an ``absence`` signal, any severity) after their last check-in is not
reminded, and the run stops until they check in again: someone on sick or bereavement leave
is not told their check-in is overdue (review 9).
"""

from collections.abc import Mapping, Set
from datetime import datetime

from kinship_contracts.notifications import MessageKind, Param, Recipient, ReminderPurpose
from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.reminders import reminder_request_id
from kinship_escalation.domain.timers import Timer, checkin_reminder
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import request_notification
from kinship_escalation.handlers.ports import EscalationUnitOfWork


async def arm_reminders(
    newest: Mapping[str, CheckinObservation],
    fresh: Set[str],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """Arm (again, from one) the reminder of each subject whose newest check-in
    (``newest``, from everything observed) is one of the batch's new ones (``fresh``); a
    check-in older than the newest one (a late or backfilled one) leaves the reminder as
    it was. One statement for the batch."""
    reminders = ctx.checkin_reminders
    if reminders is None:
        return
    timers = [
        checkin_reminder(subject_id, last, 1, reminders.first_due(last.at))
        for subject_id, last in newest.items()
        if last.id in fresh
    ]
    if timers:
        await uow.timers.rearm(timers)


async def checkin_reminder_due(
    timer: Timer, subject_id: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """The subject's reminder came due: unless they checked in since (or were erased, or
    reminders were turned off or lowered meanwhile), remind them, and arm the next one."""
    reminders = ctx.checkin_reminders
    number = int(timer.payload["number"])
    if reminders is None or number > reminders.at_most:
        return
    last_checkin = str(timer.payload["last_checkin"])
    last_at = datetime.fromisoformat(str(timer.payload["last_at"]))
    await uow.observations.serialise([subject_id])
    observed = (await uow.observations.histories([subject_id], last_at)).get(subject_id, [])
    if not observed or max(observed, key=lambda o: (o.at, o.id)).id != last_checkin:
        return  # checked in since (their check-in armed it again), or erased: nothing kept
    signals = (await uow.observations.signal_histories([subject_id], last_at)).get(subject_id, [])
    if any(signal.kind is SignalKind.ABSENCE and signal.at >= last_at for signal in signals):
        return  # away since their last check-in: no reminder until they check in again
    now = ctx.clock()
    await request_notification(
        MessageKind.CHECKIN_REMINDER,
        Recipient(subject_id=subject_id),
        uow,
        ctx,
        request_id=reminder_request_id(subject_id, last_checkin, number),
        params={Param.PURPOSE: ReminderPurpose.OVERDUE, Param.LAST_CHECKIN_AT: last_at.isoformat()},
    )
    due = reminders.next_due(last_at, number, now)
    if due is not None:
        last = CheckinObservation(last_checkin, last_at)
        await uow.timers.schedule(checkin_reminder(subject_id, last, number + 1, due), replace=True)

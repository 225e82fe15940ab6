"""Working a case once it is held: private notes, a critical case's safety plan, a planned
follow-up (a timer reminds the responder), and re-opening a resolved case.

Acting is for the case's assigned responder. Reading notes is for the case's responders
only: whoever holds it (acknowledged, contacted or resolved by them) and whoever held it
before (acknowledged it, then handed it on); every read audited. Not coordinators, and not
a responder who was alerted or handed the case but has not taken it (decisions.md). Each
action is an event on ``escalation.cases`` without its text, and an audit record naming the
real caller.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.cases import CaseEventKind, CaseStatus, Severity
from kinship_escalation.domain.cases import (
    AlertPurpose,
    AuditRecord,
    CaseTransitionError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    Consent,
    InvalidActionError,
    NoteKind,
    ReopenReason,
)
from kinship_escalation.domain.timers import Timer, case_follow_up, responder_follow_up
from kinship_escalation.handlers.alerts import send_alert
from kinship_escalation.handlers.cases import load_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor, record_transitions, with_details
from kinship_escalation.handlers.notes import OpenedNote, open_notes, seal_note
from kinship_escalation.handlers.outreach import arm_contact_timeout, work_of
from kinship_escalation.handlers.ports import EscalationUnitOfWork

FOLLOW_UP_WITHIN = timedelta(days=90)
"""How far ahead a responder may plan a follow-up."""

FOLLOW_UP_REASON = "Follow-up due: you planned to follow up on this case now."


@dataclass(frozen=True)
class SafetyPlan:
    """A critical case's safety plan, as its reader sees it."""

    who_to_call: str
    what_helps: str
    author: str
    written_at: datetime


@dataclass(frozen=True)
class CaseNotes:
    """A case's private notes and its latest safety plan, opened for their reader."""

    notes: list[OpenedNote]
    safety_plan: SafetyPlan | None


HELD = (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED)


def _require_holder(stored: StoredCase, by: str, action: str, *, resolved_too: bool) -> None:
    case = stored.case
    if by != case.responder_id:
        raise NotAllowedError(f"only the case's assigned responder can {action}")
    allowed = (*HELD, CaseStatus.RESOLVED) if resolved_too else HELD
    if case.status not in allowed:
        raise CaseTransitionError(case.id, action, case.status, "acknowledge it first")


async def add_note(
    case_id: str, by: str, text: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> str:
    """The assigned responder writes a private note (while holding the case, or after
    resolving it); its id."""
    stored = await load_case(case_id, uow)
    _require_holder(stored, by, "write a note", resolved_too=True)
    now = ctx.clock()
    note = await seal_note(stored, NoteKind.NOTE, by, text, uow, ctx, now)
    events = stored.case.record(CaseEventKind.NOTE_ADDED, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    return note.id


async def read_notes(
    case_id: str, reader: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> CaseNotes:
    """A case's notes and safety plan, for the case's responders only (``may_read_notes``);
    audited."""
    stored = await load_case(case_id, uow)
    if not await may_read_notes(stored, reader, uow):
        raise NotAllowedError(
            "the notes are for the case's responders only: whoever took it (acknowledged it)"
        )
    record = AuditRecord.of(stored.case, "notes_read", person_actor(reader), at=ctx.clock())
    await uow.cases.audit(record)
    opened = await open_notes(stored, uow, ctx)
    plans = [note for note in opened if note.kind is NoteKind.SAFETY_PLAN]
    plan = None
    if plans:
        latest = plans[-1]
        fields = json.loads(latest.text)
        plan = SafetyPlan(
            fields["who_to_call"], fields["what_helps"], latest.author, latest.written_at
        )
    return CaseNotes([note for note in opened if note.kind is not NoteKind.SAFETY_PLAN], plan)


async def may_read_notes(stored: StoredCase, reader: str, uow: EscalationUnitOfWork) -> bool:
    """Whether ``reader`` is one of the case's responders: its holder now (assigned, and it
    acknowledged, contacted or resolved), or someone who acknowledged it before (the audit
    trail names them) and handed it on. Being alerted, or handed the case, is not enough."""
    case = stored.case
    if reader == case.responder_id and case.status in (*HELD, CaseStatus.RESOLVED):
        return True
    held = {
        entry.actor
        for entry in await uow.casework.timeline(case.id)
        if entry.action == CaseEventKind.ACKNOWLEDGED.value
    }
    return person_actor(reader) in held


async def write_safety_plan(
    case_id: str,
    by: str,
    who_to_call: str,
    what_helps: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    """The assigned responder writes (or rewrites) a critical case's safety plan: who to call,
    what helps. Sealed like notes; the latest is the plan."""
    stored = await load_case(case_id, uow)
    _require_holder(stored, by, "write a safety plan", resolved_too=False)
    case = stored.case
    if case.severity is not Severity.CRITICAL:
        raise CaseTransitionError(
            case.id, "write a safety plan", case.status, "safety plans are for critical cases"
        )
    now = ctx.clock()
    text = json.dumps({"who_to_call": who_to_call, "what_helps": what_helps})
    await seal_note(stored, NoteKind.SAFETY_PLAN, by, text, uow, ctx, now)
    events = case.record(CaseEventKind.SAFETY_PLAN_UPDATED, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)


async def plan_follow_up(
    case_id: str, by: str, at: datetime, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> StoredCase:
    """The assigned responder plans to follow up at ``at``: a timer reminds them then (the
    latest plan replaces an earlier one)."""
    stored = await load_case(case_id, uow)
    _require_holder(stored, by, "plan a follow-up", resolved_too=False)
    now = ctx.clock()
    if not now < at <= now + FOLLOW_UP_WITHIN:
        raise InvalidActionError("plan a follow-up in the future, within 90 days")
    case = stored.case
    events = with_details(case.record(CaseEventKind.FOLLOW_UP_SCHEDULED, now), follow_up_at=at)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    work = await work_of(stored, uow)
    work.follow_up_at = at
    await uow.casework.save(work)
    await uow.timers.schedule(responder_follow_up(case.id, case.sequence, at))
    return stored


async def responder_follow_up_due(
    timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """A planned follow-up has come: its case's responder (whoever holds it now) is reminded,
    unless the plan was replaced, or the case was closed or is waiting for someone to take
    it (its alerts go out anyway)."""
    if timer.case_id is None:
        return
    stored = await uow.cases.get(timer.case_id)
    work = await uow.casework.get(timer.case_id)
    if stored is None or work is None or work.follow_up_at is None:
        return
    case = stored.case
    if work.follow_up_at != datetime.fromisoformat(timer.payload["at"]):
        return  # replaced by a later plan
    if case.status not in HELD or case.responder_id is None:
        return
    now = ctx.clock()
    reminder, responder = AlertPurpose.FOLLOW_UP, case.responder_id
    await send_alert(stored, responder, reminder, FOLLOW_UP_REASON, uow, ctx, now)
    events = case.record(CaseEventKind.FOLLOW_UP_REMINDED, now)
    await record_transitions(stored, events, "timer", uow, ctx)
    work.follow_up_at = None
    await uow.casework.save(work)


async def reopen(
    case_id: str,
    by: str,
    coordinator: bool,
    reason: ReopenReason,
    note: str | None,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> StoredCase:
    """Open a resolved case again (its last responder, or a coordinator, who then holds it),
    within ``reopen_within`` of its resolution, with a coded reason; not a case the person
    declined, and not while the person has another open case."""
    stored = await load_case(case_id, uow)
    case, now = stored.case, ctx.clock()
    if not coordinator and by != case.responder_id:
        raise NotAllowedError("only the case's last responder or a coordinator can re-open it")
    if case.resolved_at is not None and now - case.resolved_at > ctx.reopen_within:
        days = ctx.reopen_within.days
        raise CaseTransitionError(
            case.id, "re-open", case.status, f"it was resolved more than {days} days ago"
        )
    work = await work_of(stored, uow)
    if work.consent is Consent.NO:
        raise CaseTransitionError(case.id, "re-open", case.status, "the person declined outreach")
    if not case.is_open and await uow.cases.open_case_of(case.subject_id) is not None:
        raise CaseTransitionError(
            case.id, "re-open", case.status, "the person has another open case: work there"
        )
    events = with_details(case.reopen(by, now), reason=reason.value)
    stored.alerted = [*stored.alerted, by] if by not in stored.alerted else stored.alerted
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    if note:
        await seal_note(stored, NoteKind.REOPEN, by, note, uow, ctx, now)
    await uow.timers.cancel(
        [
            case_follow_up(case.id, now, work.resolutions, hours).id
            for hours in ctx.rules.follow_up_after_hours
        ]
    )
    work.reopened += 1
    await uow.casework.save(work)
    if work.consent.allows_outreach:
        await arm_contact_timeout(stored, uow, now)
    return stored

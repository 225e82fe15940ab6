"""Responders' actions on a case (acknowledge, contact, hand over, resolve) and reading
cases; every transition and every read is audited, naming the real caller and, apart, the
case's subject.

The callers are people (``person_id``): the HTTP routes admit peer responders and
coordinators only, and a calling system's key never reads or acts on a case. Row-level
rules are here: acknowledging is for someone alerted for the case, the other actions for its
assigned responder, reading for its responder or a coordinator.
"""

from datetime import datetime, timedelta

from kinship_contracts.cases import CaseOutcome, CaseStatus, Severity
from kinship_escalation.domain.cases import (
    AlertRecord,
    AuditRecord,
    CaseNotFoundError,
    CaseTransitionError,
    LinkExpiredError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    ContactChannel,
    HandoverReason,
    InvalidActionError,
    NoteKind,
)
from kinship_escalation.domain.links import LinkCheck
from kinship_escalation.domain.timers import CaseDeadlines, case_deadlines
from kinship_escalation.handlers.alerts import alert_step, screened
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import (
    person_actor,
    record_transitions,
    with_details,
)
from kinship_escalation.handlers.notes import seal_note
from kinship_escalation.handlers.outreach import arm_contact_timeout, work_of
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.resolution import after_resolution
from kinship_escalation.metrics import TIME_TO_ACKNOWLEDGE


async def load_case(case_id: str, uow: EscalationUnitOfWork) -> StoredCase:
    """The case, locked for this unit of work; ``CaseNotFoundError`` when there is none."""
    stored = await uow.cases.get(case_id)
    if stored is None:
        raise CaseNotFoundError(f"no case {case_id}; check the id in your alert")
    return stored


async def acknowledge(
    case_id: str, by: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> StoredCase:
    """The responder (or an alerted coordinator) takes the case; escalation stops. The
    first-contact timer starts once a peer may reach out (at once, or when the person says
    yes)."""
    stored = await load_case(case_id, uow)
    if not stored.may_acknowledge(by):
        raise NotAllowedError("only someone alerted for this case can acknowledge it")
    now = ctx.clock()
    events = stored.case.acknowledge(by, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    waited = (now - stored.case.opened_at).total_seconds()
    TIME_TO_ACKNOWLEDGE.record(waited, {"severity": stored.case.severity.value})
    if (await work_of(stored, uow)).consent.allows_outreach:
        await arm_contact_timeout(stored, uow, now)
    return stored


async def usable_link(
    alert_id: str, token: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> AlertRecord:
    """The alert an acknowledgement link belongs to, if the link may still be used.

    ``NotAllowedError`` for a forged or used link, ``LinkExpiredError`` for an expired one,
    ``CaseNotFoundError`` for an alert that does not exist (any more).
    """
    match ctx.links.check(alert_id, token, ctx.clock()):
        case LinkCheck.FORGED:
            raise NotAllowedError("this acknowledgement link is not valid")
        case LinkCheck.EXPIRED:
            raise LinkExpiredError(
                "this acknowledgement link has expired; open the case from your case list"
            )
    alert = await uow.alerts.get(alert_id)
    if alert is None:
        raise CaseNotFoundError("no such alert")
    if alert.link_used_at is not None:
        raise NotAllowedError("this acknowledgement link was already used")
    return alert


async def acknowledge_by_link(
    alert_id: str, token: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> StoredCase:
    """Acknowledge through an alert's one-time link, as the alert's recipient. Every alert's
    link works while the case awaits acknowledgement (earlier steps' too); the link of an
    alert to the responder who holds the case already (a reminder, a rise to critical)
    confirms that they hold it."""
    alert = await usable_link(alert_id, token, uow, ctx)
    await uow.alerts.use_link(alert_id, ctx.clock())
    stored = await load_case(alert.case_id, uow)
    case = stored.case
    held = case.status in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED)
    if held and case.responder_id == alert.recipient_id:
        return stored
    return await acknowledge(alert.case_id, alert.recipient_id, uow, ctx)


async def record_contact(
    case_id: str,
    by: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    channel: ContactChannel | None = None,
    at: datetime | None = None,
) -> StoredCase:
    """The responder reached the person (first contact): how (``channel``) and when (``at``,
    by default now). Only once a peer may reach out (consent, a self-referral, or risk)."""
    stored = await load_case(case_id, uow)
    case, now = stored.case, ctx.clock()
    case.require_responder(by, "record contact")  # before saying anything about consent
    work = await work_of(stored, uow)
    if not work.consent.allows_outreach:
        raise CaseTransitionError(
            case.id, "record contact", case.status, "the person has not agreed to be contacted"
        )
    if at is not None and not case.opened_at <= at <= now:
        raise InvalidActionError("first contact happens after the case opened, and not later")
    details = {"channel": channel.value} if channel else {}
    events = with_details(case.contact(by, now, at), **details)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    work.contact_channel = channel or work.contact_channel
    await uow.casework.save(work)
    return stored


async def hand_over(
    case_id: str,
    by: str,
    to: str | None,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    reason: HandoverReason = HandoverReason.OTHER,
    note: str | None = None,
) -> StoredCase:
    """Pass the case to a named responder (``to``), who is alerted and must acknowledge, or
    back to the rotation (None: its policy starts again without the one handing over). A
    coded ``reason`` goes on the event; what the responder adds (``note``) is sealed."""
    stored = await load_case(case_id, uow)
    if by != stored.case.responder_id:
        raise NotAllowedError("only the case's assigned responder can hand over")
    if to is not None:
        target = await uow.directory.person(to)
        if target is None or not (target.responder or target.coordinator):
            raise NotAllowedError(f"{to} is not an active peer responder or coordinator")
        if to == by:
            raise InvalidActionError("hand the case to someone else, or back to the rotation")
        if not await screened(stored, [to], uow, ctx):
            raise NotAllowedError("a case cannot be handed to the person it is about")
    now = ctx.clock()
    events = with_details(stored.case.hand_over(by, to, now), reason=reason.value)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    if note:
        await seal_note(stored, NoteKind.HANDOVER, by, note, uow, ctx, now)
    case = stored.case
    if to is not None:
        stored.alerted = [to]
        again = stored.policy.again(case.step, case.attempt)
        await alert_step(stored, uow, ctx, step=again.step, attempt=again.attempt, now=now)
    else:
        stored.alerted = [by]  # the responders' steps choose someone else
        await alert_step(stored, uow, ctx, step=1, attempt=1, now=now)
    return stored


async def resolve(
    case_id: str,
    by: str,
    outcome: CaseOutcome,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> StoredCase:
    """Close the case, give the responder rest after a critical case, ask both sides for
    feedback (when there was support to rate) and schedule the follow-ups (unless the person
    declined)."""
    stored = await load_case(case_id, uow)
    now = ctx.clock()
    events = stored.case.resolve(by, outcome, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    if stored.case.severity is Severity.CRITICAL and ctx.responder_rest > timedelta(0):
        await uow.workload.rest(by, now + ctx.responder_rest)
    await after_resolution(stored, await work_of(stored, uow), uow, ctx, now)
    return stored


async def read_case(
    case_id: str,
    reader: str,
    coordinator: bool,
    uow: EscalationUnitOfWork,
    at: datetime | None = None,
) -> StoredCase:
    """One case, for its responder (``reader``, a person id) or a coordinator; audited."""
    stored = await uow.cases.get(case_id)
    if stored is None:
        raise CaseNotFoundError(f"no case {case_id}")
    if not coordinator and reader != stored.case.responder_id:
        raise NotAllowedError("not your case: responders see the cases assigned to them")
    await uow.cases.audit(AuditRecord.of(stored.case, "read", person_actor(reader), at=at))
    return stored


async def list_cases(
    responder_id: str | None, open_only: bool, reader: str, uow: EscalationUnitOfWork
) -> list[StoredCase]:
    """Cases assigned to ``responder_id`` (every case when None), read by ``reader`` (a
    person id); one audit record names every case returned."""
    stored = await uow.cases.assigned_to(responder_id, open_only)
    if stored:
        listing = AuditRecord.listing([item.case for item in stored], person_actor(reader))
        await uow.cases.audit(listing)
    return stored


async def deadlines_of(stored: list[StoredCase], uow: EscalationUnitOfWork) -> list[CaseDeadlines]:
    """Each case's deadlines (acknowledge by, first contact by) from its pending timers."""
    pending = await uow.timers.pending_of([item.case.id for item in stored])
    return [
        case_deadlines(
            item.case.status.value,
            item.case.step,
            item.case.attempt,
            item.case.contacted_at is not None,
            pending.get(item.case.id, []),
        )
        for item in stored
    ]


async def list_cases_with_deadlines(
    responder_id: str | None, open_only: bool, reader: str, uow: EscalationUnitOfWork
) -> list[tuple[StoredCase, CaseDeadlines]]:
    """``list_cases``, each case with its deadlines."""
    stored = await list_cases(responder_id, open_only, reader, uow)
    return list(zip(stored, await deadlines_of(stored, uow), strict=True))

"""Responders' actions on a case (acknowledge, contact, hand over, resolve) and reading
cases; every transition and every read is audited, naming the real caller and, apart, the
case's subject.

The callers are people (``person_id``): the HTTP routes admit peer responders and
coordinators only, and a calling system's key never reads or acts on a case. Row-level
rules are here: acknowledging is for someone alerted for the case, the other actions for its
assigned responder, reading for its responder or a coordinator.
"""

from datetime import timedelta

from kinship_contracts.cases import CaseOutcome, Severity
from kinship_contracts.notifications import MessageKind, Recipient
from kinship_escalation.domain.cases import (
    AlertRecord,
    AuditRecord,
    CaseNotFoundError,
    LinkExpiredError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.links import LinkCheck
from kinship_escalation.domain.timers import case_follow_up, contact_timeout
from kinship_escalation.handlers.alerts import alert_step, screened
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import (
    person_actor,
    record_transitions,
    request_notification,
)
from kinship_escalation.handlers.ports import EscalationUnitOfWork
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
    """The responder (or an alerted coordinator) takes the case; escalation stops and the
    first-contact timer starts."""
    stored = await load_case(case_id, uow)
    if not stored.may_acknowledge(by):
        raise NotAllowedError("only someone alerted for this case can acknowledge it")
    now = ctx.clock()
    events = stored.case.acknowledge(by, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    waited = (now - stored.case.opened_at).total_seconds()
    TIME_TO_ACKNOWLEDGE.record(waited, {"severity": stored.case.severity.value})
    due = now + timedelta(seconds=stored.policy.contact_timeout_seconds)
    await uow.timers.schedule(contact_timeout(case_id, stored.case.sequence, due))
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
    """Acknowledge through an alert's one-time link, as the alert's recipient."""
    alert = await usable_link(alert_id, token, uow, ctx)
    await uow.alerts.use_link(alert_id, ctx.clock())
    return await acknowledge(alert.case_id, alert.recipient_id, uow, ctx)


async def record_contact(
    case_id: str, by: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> StoredCase:
    """The responder reached the person (first contact)."""
    stored = await load_case(case_id, uow)
    events = stored.case.contact(by, ctx.clock())
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    return stored


async def hand_over(
    case_id: str, by: str, to: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> StoredCase:
    """Pass the case to another responder, who is alerted and must acknowledge."""
    stored = await load_case(case_id, uow)
    target = await uow.directory.person(to)
    if target is None or not (target.responder or target.coordinator):
        raise NotAllowedError(f"{to} is not an active peer responder or coordinator")
    if not await screened(stored, [to], uow, ctx):
        raise NotAllowedError("a case cannot be handed to the person it is about")
    now = ctx.clock()
    events = stored.case.hand_over(by, to, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    stored.alerted = [to]
    case = stored.case
    await alert_step(stored, uow, ctx, step=case.step, attempt=case.attempt + 1, now=now)
    return stored


async def resolve(
    case_id: str,
    by: str,
    outcome: CaseOutcome,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> StoredCase:
    """Close the case, give the responder rest after a critical case, ask both sides for
    feedback and schedule the follow-up."""
    stored = await load_case(case_id, uow)
    now = ctx.clock()
    events = stored.case.resolve(by, outcome, now)
    await record_transitions(stored, events, person_actor(by), uow, ctx)
    if stored.case.severity is Severity.CRITICAL and ctx.responder_rest > timedelta(0):
        await uow.workload.rest(by, now + ctx.responder_rest)
    for recipient, side in (
        (Recipient(subject_id=stored.case.subject_id), "person"),
        (Recipient(person_id=by), "responder"),
    ):
        await request_notification(
            MessageKind.FEEDBACK_REQUEST,
            recipient,
            uow,
            ctx,
            request_id=f"feedback:{case_id}:{side}",
            case_id=case_id,
            params={"case_id": case_id, "from": side},
        )
    due = now + timedelta(hours=ctx.rules.follow_up_after_hours[0])
    await uow.timers.schedule(case_follow_up(case_id, due))
    return stored


async def read_case(
    case_id: str, reader: str, coordinator: bool, uow: EscalationUnitOfWork
) -> StoredCase:
    """One case, for its responder (``reader``, a person id) or a coordinator; audited."""
    stored = await uow.cases.get(case_id)
    if stored is None:
        raise CaseNotFoundError(f"no case {case_id}")
    if not coordinator and reader != stored.case.responder_id:
        raise NotAllowedError("not your case: responders see the cases assigned to them")
    await uow.cases.audit(AuditRecord.of(stored.case, "read", person_actor(reader)))
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

"""Consent and reaching out: the programme policy (``domain.casework``) applied to cases.

- People's preferences come from the check-in service on ``privacy.outreach.preferences``, by
  subject id; a person who never chose is ``ask_first``.
- When evidence would open a case: ``resources_only`` (and no self-referral, no immediate
  risk) → resources, no case, no alert; otherwise the case opens and its first step is
  alerted as usual. ``ask_first`` → the person is also asked, with one-tap yes/no links
  (``consent_request``), and nobody may learn who they are until they say yes; no → the case
  closes as ``declined``; no answer before the links expire → it closes as ``no_contact``.
- A self-referral is consent; immediate risk overrides any preference (duty of care), also
  when it comes with later evidence — and then the responder is paged at once.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from kinship_contracts.cases import CaseEventKind, CaseOutcome, CaseStatus, Severity
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.links import ConsentAnswer
from kinship_contracts.notifications import MessageKind, Param, Recipient
from kinship_contracts.resources import ResourceKind
from kinship_escalation.domain.cases import (
    AuditRecord,
    CaseNotFoundError,
    LinkExpiredError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    CaseWork,
    Consent,
    PreferenceChange,
    consent_for,
    raised_consent,
)
from kinship_escalation.domain.links import LinkCheck
from kinship_escalation.domain.resources import general_resources
from kinship_escalation.domain.rules import Evidence
from kinship_escalation.domain.timers import Timer, consent_expiry, contact_timeout
from kinship_escalation.handlers.alerts import alert_step, page_critical
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import (
    SUBJECT_ACTOR,
    record_transitions,
    request_notification,
    with_details,
)
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.resolution import after_resolution

RESOURCE_KINDS = frozenset({ResourceKind.SELF_CARE, ResourceKind.EMPLOYEE_ASSISTANCE})
"""What someone gets instead of outreach: self-care and the employee assistance programme."""


class ConsentClosedError(Exception):
    """The consent question was answered already, or its case is closed."""


async def apply_preferences(changes: Sequence[PreferenceChange], uow: EscalationUnitOfWork) -> None:
    """Keep people's outreach preferences (by subject id; a tombstone forgets)."""
    await uow.preferences.apply(changes)


async def remember_shared_notes(
    events: Sequence[CheckinRecorded], uow: EscalationUnitOfWork
) -> None:
    """Remember which observed check-ins' notes the person shared (``note_shared``): only
    those may be shown to the responder who reaches out (the check-in service decrypts them)."""
    shared = sorted({event.id for event in events if event.note_shared})
    if shared:
        await uow.casework.share_notes(shared)


async def consent_at_opening(
    subject_id: str, evidence: list[Evidence], uow: EscalationUnitOfWork
) -> Consent | None:
    """The consent a case about ``subject_id`` would open with; None: resources only."""
    rules = [item.rule for item in evidence]
    return consent_for(await uow.preferences.of(subject_id), rules)


async def resources_instead(
    subject_id: str,
    evidence: list[Evidence],
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """``resources_only``: self-care and assistance resources instead of a case, at most once
    per self-care period; nobody is alerted and nobody reaches out."""
    if not await uow.support.self_care_due(subject_id, now, ctx.rules.self_care_every_days):
        return
    observed = [item for e in evidence for item in e.observation_ids]
    await send_resources(subject_id, observed[-1] if observed else ctx.new_id(), uow, ctx)


async def send_resources(
    subject_id: str, about: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """A self-care message with self-care and assistance resources (``about`` makes it once)."""
    await request_notification(
        MessageKind.SELF_CARE,
        Recipient(subject_id=subject_id),
        uow,
        ctx,
        request_id=f"resources:{about}",
        # This service does not know where the person is (see domain/resources.py).
        resources=general_resources(ctx.resources, set(RESOURCE_KINDS)),
    )


async def work_of(stored: StoredCase, uow: EscalationUnitOfWork) -> CaseWork:
    """A case's working state, locked. A case opened before consent was recorded (an
    upgrade) counts as ``welcome``: its person was never asked, as then."""
    work = await uow.casework.get(stored.case.id)
    if work is not None:
        return work
    consent = consent_for(None, stored.case.rules)
    if consent is None or consent is Consent.ASKED:
        consent = Consent.WELCOME
    return CaseWork(stored.case.id, consent)


async def reach_out(
    stored: StoredCase,
    consent: Consent,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """A case has opened: its first step is alerted as usual; an ``ask_first`` person is
    asked whether a peer may reach out."""
    work = CaseWork(stored.case.id, consent)
    await alert_step(stored, uow, ctx, step=1, attempt=1, now=now)
    if consent is Consent.ASKED:
        await _ask(stored, work, uow, ctx, now)
    await uow.casework.save(work)


async def _ask(
    stored: StoredCase,
    work: CaseWork,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    case = stored.case
    consent_id = ctx.new_id()
    expires = now + ctx.consent_lifetime
    work.consent_id, work.consent_expires_at = consent_id, expires
    events = with_details(case.record(CaseEventKind.CONSENT_REQUESTED, now), consent="asked")
    await record_transitions(stored, events, "escalation", uow, ctx)
    links = ctx.links
    await request_notification(
        MessageKind.CONSENT_REQUEST,
        Recipient(subject_id=case.subject_id),
        uow,
        ctx,
        request_id=f"consent:{consent_id}",
        case_id=case.id,
        params={
            Param.CONSENT_ID: consent_id,
            # Without tokens: the notifications service mints them when it sends.
            Param.CONSENT_YES_URL: links.consent_url(consent_id, ConsentAnswer.YES),
            Param.CONSENT_NO_URL: links.consent_url(consent_id, ConsentAnswer.NO),
            Param.CONSENT_EXPIRES_AT: expires.isoformat(),
        },
    )
    await uow.timers.schedule(consent_expiry(case.id, consent_id, expires))


async def evidence_added(
    stored: StoredCase,
    was_critical: bool,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
    now: datetime,
) -> None:
    """New evidence joined an open case: immediate risk overrides the person's preference and
    a self-referral is consent; a rise to critical pages the responder at once."""
    case = stored.case
    work = await work_of(stored, uow)
    before = work.consent
    work.consent = raised_consent(before, case.rules)
    if work.consent is not before:
        await uow.casework.save(work)
        action = "consent_overridden" if work.consent is Consent.IMMEDIATE_RISK else "self_referred"
        await uow.cases.audit(AuditRecord.of(case, action, "detection", at=now))
        if not before.allows_outreach:
            await arm_contact_timeout(stored, uow, now)
    if case.severity is Severity.CRITICAL and not was_critical:
        await page_critical(stored, uow, ctx, now)


async def arm_contact_timeout(stored: StoredCase, uow: EscalationUnitOfWork, now: datetime) -> None:
    """First contact is due within the policy's contact timeout from now, if the case is held
    (acknowledged) and nobody has reached the person yet."""
    case = stored.case
    if case.status is not CaseStatus.ACKNOWLEDGED or case.contacted_at is not None:
        return
    due = now + timedelta(seconds=stored.policy.contact_timeout_seconds)
    await uow.timers.schedule(contact_timeout(case.id, case.sequence, due, case.acknowledged_at))


async def open_question(
    consent_id: str,
    answer: ConsentAnswer,
    token: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> tuple[StoredCase, CaseWork]:
    """The case and working state a consent link belongs to, if the question is open.

    ``NotAllowedError`` for a forged token, ``LinkExpiredError`` for an expired one,
    ``CaseNotFoundError`` for a question that does not exist (any more: erasure),
    ``ConsentClosedError`` when it was answered or its case closed.
    """
    match ctx.links.check_consent(consent_id, answer, token, ctx.clock()):
        case LinkCheck.FORGED:
            raise NotAllowedError("this link is not valid")
        case LinkCheck.EXPIRED:
            raise LinkExpiredError("this question has expired; nobody will reach out about it")
    work = await uow.casework.by_consent(consent_id)
    stored = await uow.cases.get(work.case_id) if work is not None else None
    if work is None or stored is None:
        raise CaseNotFoundError("this question is unknown")
    if not work.awaiting_answer or not stored.case.is_open:
        raise ConsentClosedError("this question was answered already, or is closed")
    return stored, work


async def answer_consent(
    consent_id: str,
    answer: ConsentAnswer,
    token: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> Consent:
    """The person answers through one of the question's links (once).

    Yes: a peer may reach out (the responder may learn who they are; first contact is due
    within the contact timeout once the case is held). No: the case closes as ``declined``
    and the person gets resources instead. Recorded as the person (``subject``).
    """
    stored, work = await open_question(consent_id, answer, token, uow, ctx)
    case, now = stored.case, ctx.clock()
    work.consent_answered_at = now
    if answer is ConsentAnswer.YES:
        work.consent = Consent.YES
        events = with_details(case.record(CaseEventKind.CONSENT_GIVEN, now), consent="yes")
        await record_transitions(stored, events, SUBJECT_ACTOR, uow, ctx)
        await arm_contact_timeout(stored, uow, now)
    else:
        work.consent = Consent.NO
        events = case.record(CaseEventKind.CONSENT_DECLINED, now)
        events += case.close_for_person(CaseOutcome.DECLINED, now)
        events = with_details(events, consent="no")
        await record_transitions(stored, events, SUBJECT_ACTOR, uow, ctx)
        await send_resources(case.subject_id, f"declined:{case.id}", uow, ctx)
        await after_resolution(stored, work, uow, ctx, now)  # declined: nothing follows
    await uow.casework.save(work)
    return work.consent


async def consent_expired(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> bool:
    """The person never answered: nobody may reach out, so the case closes as
    ``no_contact`` (its follow-ups are scheduled) and the person gets resources. False when
    the question was answered or overridden meanwhile (nothing to do)."""
    if timer.case_id is None:
        return False
    stored = await uow.cases.get(timer.case_id)
    work = await uow.casework.get(timer.case_id)
    if stored is None or work is None or not stored.case.is_open:
        return False
    if not work.awaiting_answer or work.consent_id != timer.payload.get("consent_id"):
        return False
    case, now = stored.case, ctx.clock()
    events = case.record(CaseEventKind.CONSENT_EXPIRED, now)
    events += case.close_for_person(CaseOutcome.NO_CONTACT, now)
    await record_transitions(stored, with_details(events, consent="asked"), "timer", uow, ctx)
    await send_resources(case.subject_id, f"unanswered:{case.id}", uow, ctx)
    await after_resolution(stored, work, uow, ctx, now)
    return True

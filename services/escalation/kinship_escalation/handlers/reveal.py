"""Reveal grants: the assigned responder's short-lived permission to learn, from the check-in
service (the only one that can tell), who the person of an acknowledged case is.

This service decides who may see whom: the case's assigned responder, once they have
acknowledged it, and only when a peer may reach out — the person welcomes it, said yes,
referred themself, or is at immediate risk (duty of care). The grant names the case, its
subject and the responder, and — only when the person shared it — the triggering check-in
whose note the check-in service may decrypt for them; it carries no personal data. Issuing
one is a case event (``revealed``) and an audit record here; the reveal itself is audited by
the check-in service.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.cases import CaseEventKind, CaseStatus
from kinship_contracts.grants import RevealGrant, sign_grant
from kinship_escalation.domain.cases import Case, CaseTransitionError, NotAllowedError
from kinship_escalation.handlers.cases import load_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor, record_transitions, with_details
from kinship_escalation.handlers.outreach import work_of
from kinship_escalation.handlers.ports import EscalationUnitOfWork

GRANT_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedGrant:
    """A signed grant for the responder to present to the check-in service."""

    case_id: str
    token: str
    expires_at: datetime


async def shared_note_of(case: Case, uow: EscalationUnitOfWork) -> str | None:
    """The triggering check-in — the newest the case rests on — if the person shared its
    note; None otherwise."""
    checkins = await uow.casework.checkins(case.observation_ids)
    if not checkins:
        return None
    newest = max(checkins, key=lambda checkin: (checkin.at, checkin.id))
    return newest.id if newest.note_shared else None


async def grant_reveal(
    case_id: str, responder_id: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> IssuedGrant:
    """A grant for the case's assigned responder, once they have acknowledged it and a peer
    may reach out."""
    stored = await load_case(case_id, uow)
    case = stored.case
    if case.responder_id != responder_id:
        raise NotAllowedError("only the case's assigned responder may learn who it is about")
    if case.status not in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED):
        raise CaseTransitionError(
            case.id, "reveal who it is about", case.status, "acknowledge the case first"
        )
    work = await work_of(stored, uow)
    if not work.consent.allows_outreach:
        raise CaseTransitionError(
            case.id,
            "reveal who it is about",
            case.status,
            "the person has not agreed to be contacted: wait for their answer",
        )
    now = ctx.clock()
    grant = RevealGrant(
        case_id=case.id,
        subject_id=case.subject_id,
        responder_id=responder_id,
        note_checkin_id=await shared_note_of(case, uow),
        issued_at=now,
        expires_at=now + GRANT_LIFETIME,
    )
    events = with_details(case.record(CaseEventKind.REVEALED, now), consent=work.consent.value)
    await record_transitions(stored, events, person_actor(responder_id), uow, ctx)
    return IssuedGrant(case.id, sign_grant(grant, ctx.grant_key), grant.expires_at)

"""Reveal grants: the assigned responder's short-lived permission to learn, from the check-in
service (the only one that can tell), who the person of an acknowledged case is.

This service decides who may see whom; the grant names the case, its subject and the
responder, and carries no personal data. Issuing one is audited here; the reveal itself is
audited by the check-in service. Whether the triggering check-in's note may be shown
(consent) comes with the responder's case view (issue 12): for now a grant never allows it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.cases import CaseStatus
from kinship_contracts.grants import RevealGrant, sign_grant
from kinship_escalation.domain.cases import AuditRecord, CaseTransitionError, NotAllowedError
from kinship_escalation.handlers.cases import load_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork

GRANT_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedGrant:
    """A signed grant for the responder to present to the check-in service."""

    case_id: str
    token: str
    expires_at: datetime


async def grant_reveal(
    case_id: str, responder_id: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> IssuedGrant:
    """A grant for the case's assigned responder, once they have acknowledged it."""
    stored = await load_case(case_id, uow)
    case = stored.case
    if case.responder_id != responder_id:
        raise NotAllowedError("only the case's assigned responder may learn who it is about")
    if case.status not in (CaseStatus.ACKNOWLEDGED, CaseStatus.CONTACTED):
        raise CaseTransitionError(
            case.id, "reveal who it is about", case.status, "acknowledge the case first"
        )
    now = ctx.clock()
    grant = RevealGrant(
        case_id=case.id,
        subject_id=case.subject_id,
        responder_id=responder_id,
        note_checkin_id=None,
        issued_at=now,
        expires_at=now + GRANT_LIFETIME,
    )
    await uow.cases.audit(AuditRecord.of(case, "reveal_granted", person_actor(responder_id)))
    return IssuedGrant(case.id, sign_grant(grant, ctx.grant_key), grant.expires_at)

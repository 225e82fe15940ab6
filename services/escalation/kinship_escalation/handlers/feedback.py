"""Feedback after a case, from the person it was about or from their responder."""

from typing import Literal

from kinship_escalation.domain.cases import NotAllowedError
from kinship_escalation.handlers.cases import load_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import SUBJECT_ACTOR, person_actor, record_transitions
from kinship_escalation.handlers.ports import EscalationUnitOfWork

__all__ = ["SUBJECT_ACTOR", "give_feedback"]


async def give_feedback(
    case_id: str,
    given_by: Literal["person", "responder"],
    score: int,
    person_id: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> bool:
    """Feedback on a resolved case (once per side) from the signed-in ``person_id``; False
    when that side already gave it.

    The responder's side is for the case's responder; the person's side for the person it
    was about, which only the check-in service's vault can tell (an unreachable vault raises
    an ``OSError``: try again later).
    """
    stored = await load_case(case_id, uow)
    case = stored.case
    if given_by == "responder":
        if person_id != case.responder_id:
            raise NotAllowedError("the responder's feedback comes from the case's responder")
        actor = person_actor(person_id)
    else:
        if person_id not in await ctx.vault.conflicts(
            case.subject_id, [person_id], purpose="feedback"
        ):
            raise NotAllowedError("this feedback comes from the person the case was about")
        actor = SUBJECT_ACTOR
    now = ctx.clock()
    events = case.feedback(score, given_by, now)
    if not await uow.cases.save_feedback(case_id, given_by, score, now):
        return False
    await record_transitions(stored, events, actor, uow, ctx)
    return True

"""Feedback after a case, from the person it was about or from their responder."""

from kinship_escalation.handlers.cases import load_case
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import record_transitions
from kinship_escalation.handlers.ports import EscalationUnitOfWork


async def give_feedback(
    case_id: str,
    given_by: str,
    score: int,
    actor: str,
    uow: EscalationUnitOfWork,
    ctx: EscalationContext,
) -> bool:
    """Feedback on a resolved case (once per side); False when that side already gave it."""
    stored = await load_case(case_id, uow)
    now = ctx.clock()
    events = stored.case.feedback(score, given_by, now)
    if not await uow.cases.save_feedback(case_id, given_by, score, now):
        return False
    await record_transitions(stored, events, actor, uow, ctx)
    return True

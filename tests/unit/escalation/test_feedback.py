"""Feedback after a case (``handlers.feedback``): once per side, only after resolution."""

import pytest

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.domain.cases import CaseNotFoundError, CaseTransitionError
from kinship_escalation.handlers.cases import acknowledge, resolve
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.feedback import give_feedback
from tests.unit.escalation.conftest import checkin, sent
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def opened(uow: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    await handle_checkins([checkin("c-1", wants_contact=True)], uow, ctx)
    (case_id,) = uow.tables.cases
    return case_id


async def test_each_side_gives_feedback_once_after_resolution(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)

    assert await give_feedback(case_id, "person", 5, "hr-portal", uow, ctx)
    assert await give_feedback(case_id, "responder", 4, "resp-a", uow, ctx)
    assert not await give_feedback(case_id, "person", 1, "hr-portal", uow, ctx)

    assert uow.tables.feedback == {(case_id, "person"): 5, (case_id, "responder"): 4}
    received = [t for t in sent(uow).transitions if t["kind"] == "feedback_received"]
    assert [(t["feedback_from"], t["feedback_score"]) for t in received] == [
        ("person", 5),
        ("responder", 4),
    ]
    assert [a[2] for a in uow.tables.audit if a[1] == "feedback_received"] == [
        "hr-portal",
        "resp-a",
    ]
    assert uow.tables.cases[case_id].case.sequence == received[-1]["sequence"]


async def test_feedback_needs_a_resolved_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    with pytest.raises(CaseTransitionError, match="resolve first"):
        await give_feedback(case_id, "person", 5, "hr-portal", uow, ctx)
    with pytest.raises(CaseNotFoundError):
        await give_feedback("nope", "person", 5, "hr-portal", uow, ctx)
    assert uow.tables.feedback == {}

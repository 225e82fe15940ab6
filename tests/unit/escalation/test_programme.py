"""Programme measures (``handlers.programme``): withheld below five cases."""

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.handlers.cases import acknowledge, resolve
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.programme import programme_metrics
from tests.unit.escalation.conftest import checkin
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def test_figures_are_withheld_below_five_cases_then_shown_as_aggregates(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    for number in range(4):
        await handle_checkins([checkin(f"c-{number}", f"m-{number}", wants_contact=True)], uow, ctx)
    assert await programme_metrics(uow) == {"cases": None, "withheld": "fewer than 5 cases so far"}
    await handle_checkins([checkin("c-4", "m-4", wants_contact=True)], uow, ctx)
    case_id = next(iter(uow.tables.cases))
    responder = uow.tables.cases[case_id].case.responder_id
    assert responder is not None
    await acknowledge(case_id, responder, uow, ctx)
    await resolve(case_id, responder, CaseOutcome.SUPPORTED, uow, ctx)
    figures = await programme_metrics(uow)
    assert (figures["cases"], figures["outcomes"]) == (5, {"supported": 1})

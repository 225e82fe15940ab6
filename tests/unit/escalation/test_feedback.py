"""Feedback after a case (``handlers.feedback``): once per side, only after resolution, from
the person the case was about (the vault tells) or from its responder."""

import pytest

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.domain.cases import (
    CaseNotFoundError,
    CaseTransitionError,
    NotAllowedError,
)
from kinship_escalation.handlers.cases import acknowledge, resolve
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.feedback import give_feedback
from kinship_runtime.vault import VaultUnavailableError
from tests.unit.escalation.conftest import checkin, sent, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault


async def opened(uow: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    (case_id,) = uow.tables.cases
    return case_id


async def resolved(uow: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    return case_id


async def test_each_side_gives_feedback_once_after_resolution(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    case_id = await resolved(uow, ctx)

    assert await give_feedback(case_id, "person", 5, "worker-1", uow, ctx)
    assert vault.screens[-1] == (subject("worker-1"), ["worker-1"])
    assert await give_feedback(case_id, "responder", 4, "resp-a", uow, ctx)
    assert not await give_feedback(case_id, "person", 1, "worker-1", uow, ctx)

    assert uow.tables.feedback == {(case_id, "person"): 5, (case_id, "responder"): 4}
    received = [t for t in sent(uow).transitions if t["kind"] == "feedback_received"]
    assert [(t["feedback_from"], t["feedback_score"]) for t in received] == [
        ("person", 5),
        ("responder", 4),
    ]
    # The person is never named next to their case: "subject", not their person id.
    feedback_audit = [a for a in uow.tables.audit if a.action == "feedback_received"]
    assert [(a.actor, a.subject_ids) for a in feedback_audit] == [
        ("subject", (subject("worker-1"),)),
        ("person:resp-a", (subject("worker-1"),)),
    ]
    assert all("worker-1" not in record.actor for record in uow.tables.audit)
    assert uow.tables.cases[case_id].case.sequence == received[-1]["sequence"]


async def test_only_the_person_and_the_responder_give_feedback(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await resolved(uow, ctx)
    for side, someone in [
        ("person", "worker-2"),  # a colleague speaking for the person
        ("person", "resp-a"),  # the responder posing as the person
        ("responder", "resp-b"),  # another responder
        ("responder", "worker-1"),  # the person posing as the responder
    ]:
        with pytest.raises(NotAllowedError):
            await give_feedback(case_id, side, 1, someone, uow, ctx)  # type: ignore[arg-type]
    assert uow.tables.feedback == {}


async def test_the_persons_feedback_waits_for_the_vault(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    case_id = await resolved(uow, ctx)
    vault.down = True
    with pytest.raises(VaultUnavailableError):
        await give_feedback(case_id, "person", 5, "worker-1", uow, ctx)
    assert uow.tables.feedback == {}


async def test_feedback_needs_a_resolved_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    with pytest.raises(CaseTransitionError, match="resolve first"):
        await give_feedback(case_id, "person", 5, "worker-1", uow, ctx)
    with pytest.raises(CaseNotFoundError):
        await give_feedback("nope", "person", 5, "worker-1", uow, ctx)
    assert uow.tables.feedback == {}

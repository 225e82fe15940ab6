"""Responders' actions and reads (``handlers.cases``): acknowledge (also by one-time link),
contact, hand over, resolve; reading cases is scoped and audited."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.domain.cases import (
    AuditRecord,
    CaseNotFoundError,
    CaseTransitionError,
    LinkExpiredError,
    NotAllowedError,
)
from kinship_escalation.handlers.cases import (
    acknowledge,
    acknowledge_by_link,
    hand_over,
    list_cases,
    read_case,
    record_contact,
    resolve,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    NOW,
    Clock,
    checkin,
    link_token,
    person,
    sent,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault


async def opened(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, about: str = "worker-1", **answers: Any
) -> str:
    """A case opened by a check-in (step 1 alerts resp-a for worker-1); its id."""
    before = set(uow.tables.cases)
    event = checkin(f"c-{about}", about, **(answers or {"wants_contact": True}))
    await handle_checkins([event], uow, ctx)
    (case_id,) = set(uow.tables.cases) - before
    return case_id


def alert_of(uow: FakeEscalationUnitOfWork, case_id: str, recipient: str) -> str:
    (alert_id,) = [
        a.record.id
        for a in uow.tables.alerts.values()
        if (a.record.case_id, a.record.recipient_id) == (case_id, recipient)
    ]
    return alert_id


async def test_the_alerted_responder_acknowledges_and_the_contact_timer_starts(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    clock.advance(seconds=90)
    stored = await acknowledge(case_id, "resp-a", uow, ctx)

    assert (stored.case.status.value, stored.case.acknowledged_at) == ("acknowledged", clock.now)
    assert uow.tables.cases[case_id].case.status.value == "acknowledged"
    assert sent(uow).transitions[-1]["kind"] == "acknowledged"
    assert uow.tables.audit[-1] == AuditRecord(
        "acknowledged",
        "person:resp-a",
        (case_id,),
        (subject("worker-1"),),
        stored.case.sequence,
    )
    timer = uow.timer(f"contact_timeout:{case_id}:{stored.case.sequence}")
    assert timer is not None
    assert timer.timer.due_at == clock.now + timedelta(seconds=3600)
    assert timer.timer.payload == {"sequence": stored.case.sequence}


async def test_only_someone_alerted_may_acknowledge_and_only_once(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    with pytest.raises(NotAllowedError, match="only someone alerted"):
        await acknowledge(case_id, "resp-b", uow, ctx)
    with pytest.raises(CaseNotFoundError, match="no case nope"):
        await acknowledge("nope", "resp-a", uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    with pytest.raises(CaseTransitionError, match="already acknowledged"):
        await acknowledge(case_id, "resp-a", uow, ctx)


async def test_an_alerts_link_acknowledges_for_its_recipient_once(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    alert_id = alert_of(uow, case_id, "resp-a")
    token = link_token(alert_id)
    with pytest.raises(NotAllowedError, match="not valid"):
        await acknowledge_by_link(alert_id, token[:-1] + "0", uow, ctx)
    with pytest.raises(NotAllowedError, match="not valid"):  # another alert's token
        await acknowledge_by_link(alert_id, link_token("other"), uow, ctx)

    stored = await acknowledge_by_link(alert_id, token, uow, ctx)
    assert (stored.case.status.value, stored.case.responder_id) == ("acknowledged", "resp-a")
    assert uow.tables.alerts[alert_id].record.link_used_at == NOW
    assert uow.tables.audit[-1].actor == "person:resp-a"
    with pytest.raises(NotAllowedError, match="already used"):
        await acknowledge_by_link(alert_id, token, uow, ctx)
    with pytest.raises(CaseNotFoundError, match="no such alert"):
        await acknowledge_by_link("gone", link_token("gone"), uow, ctx)


async def test_an_expired_link_is_refused_and_changes_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    alert_id = alert_of(uow, case_id, "resp-a")
    (request,) = sent(uow).of_kind("alert")
    expires_at = datetime.fromisoformat(request["alert"]["expires_at"])
    assert expires_at == NOW + timedelta(hours=24)
    clock.advance(hours=24)
    with pytest.raises(LinkExpiredError, match="expired"):
        await acknowledge_by_link(alert_id, link_token(alert_id), uow, ctx)
    assert uow.tables.alerts[alert_id].record.link_used_at is None
    assert uow.tables.cases[case_id].case.status.value == "assigned"


async def test_first_contact_is_the_assigned_responders_after_acknowledgement(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    with pytest.raises(CaseTransitionError, match="acknowledge first"):
        await record_contact(case_id, "resp-a", uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    with pytest.raises(NotAllowedError, match="assigned responder can"):
        await record_contact(case_id, "resp-b", uow, ctx)
    clock.advance(minutes=5)
    stored = await record_contact(case_id, "resp-a", uow, ctx)
    assert (stored.case.status.value, stored.case.contacted_at) == ("contacted", clock.now)
    assert (uow.tables.audit[-1].action, uow.tables.audit[-1].actor) == (
        "contacted",
        "person:resp-a",
    )


async def test_a_handover_alerts_the_new_responder_who_must_acknowledge(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    stored = await hand_over(case_id, "resp-a", "resp-b", uow, ctx)

    assert (stored.case.status.value, stored.case.responder_id) == ("assigned", "resp-b")
    assert (stored.case.step, stored.case.attempt) == (1, 2)
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 1)]
    assert [t["kind"] for t in sent(uow).transitions][-2:] == ["handed_over", "assigned"]
    assert uow.tables.cases[case_id].alerted == ["resp-b"]
    with pytest.raises(NotAllowedError, match="only someone alerted"):
        await acknowledge(case_id, "resp-a", uow, ctx)
    await acknowledge(case_id, "resp-b", uow, ctx)


async def test_a_case_is_handed_only_to_active_staff_and_never_to_its_person(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx, "resp-b", phq9=CRITICAL_PHQ9)  # about resp-b
    await acknowledge(case_id, "resp-a", uow, ctx)
    await uow.directory.apply([person("coord-9", "team-c", "coordinator", active=False)])
    for target in ("worker-1", "nobody", "coord-9"):
        with pytest.raises(NotAllowedError, match="not an active peer responder"):
            await hand_over(case_id, "resp-a", target, uow, ctx)
    with pytest.raises(NotAllowedError, match="the person it is about"):
        await hand_over(case_id, "resp-a", "resp-b", uow, ctx)
    assert ctx.vault.screens[-1] == (subject("resp-b"), ["resp-b"])  # type: ignore[attr-defined]
    with pytest.raises(NotAllowedError, match="assigned responder can"):
        await hand_over(case_id, "coord-1", "coord-1", uow, ctx)


async def test_a_handover_goes_ahead_unscreened_when_the_vault_is_away(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, vault: FakeVault
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    vault.down = True
    stored = await hand_over(case_id, "resp-a", "resp-b", uow, ctx)
    assert stored.case.responder_id == "resp-b"
    skipped = [r for r in uow.tables.audit if r.action == "screen_skipped"]
    assert skipped and all(r.case_ids == (case_id,) for r in skipped)


async def test_resolving_asks_both_sides_for_feedback_and_schedules_the_follow_up(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    clock.advance(hours=1)
    stored = await resolve(case_id, "resp-a", CaseOutcome.REFERRED_PROFESSIONAL, uow, ctx)

    assert (stored.case.status.value, stored.case.outcome) == (
        "resolved",
        CaseOutcome.REFERRED_PROFESSIONAL,
    )
    assert sent(uow).transitions[-1]["outcome"] == "referred_professional"
    requests = sent(uow).of_kind("feedback_request")
    assert [(r["id"], r["recipient"], r["params"]) for r in requests] == [
        (
            f"feedback:{case_id}:person",
            {"subject_id": subject("worker-1")},
            {"case_id": case_id, "from": "person"},
        ),
        (
            f"feedback:{case_id}:responder",
            {"person_id": "resp-a"},
            {"case_id": case_id, "from": "responder"},
        ),
    ]
    follow_up = uow.timer(f"case_follow_up:{case_id}")
    assert follow_up is not None and follow_up.timer.due_at == clock.now + timedelta(hours=72)
    assert uow.tables.rest == {}  # not a critical case: no rest owed


async def test_after_a_critical_case_the_responder_rests_and_others_are_alerted_first(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx, phq9=CRITICAL_PHQ9)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    assert uow.tables.rest == {"resp-a": clock.now + timedelta(hours=12)}

    await opened(uow, ctx, "worker-2")
    assert sent(uow).alerted()[-1] == ("resp-b", 1)


async def test_a_responder_reads_their_own_case_and_a_coordinator_any_each_read_audited(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    assert (await read_case(case_id, "resp-a", False, uow)).case.id == case_id
    assert (await read_case(case_id, "coord-1", True, uow)).case.id == case_id
    with pytest.raises(NotAllowedError, match="not your case"):
        await read_case(case_id, "resp-b", False, uow)
    with pytest.raises(CaseNotFoundError):
        await read_case("nope", "coord-1", True, uow)
    reads = [(a.case_ids, a.actor, a.subject_ids) for a in uow.tables.audit if a.action == "read"]
    about = (subject("worker-1"),)
    assert reads == [((case_id,), "person:resp-a", about), ((case_id,), "person:coord-1", about)]


async def test_listing_cases_is_scoped_to_a_responder_and_audited_once_per_list(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    first = await opened(uow, ctx, "worker-1")
    second = await opened(uow, ctx, "worker-2")
    await acknowledge(first, "resp-a", uow, ctx)
    await resolve(first, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)

    assert [s.case.id for s in await list_cases("resp-b", True, "resp-b", uow)] == [second]
    assert await list_cases("resp-a", True, "resp-a", uow) == []
    assert [s.case.id for s in await list_cases("resp-a", False, "resp-a", uow)] == [first]
    everything = await list_cases(None, False, "coord-1", uow)
    assert {s.case.id for s in everything} == {first, second}
    lists = [
        (a.actor, set(a.case_ids), set(a.subject_ids))
        for a in uow.tables.audit
        if a.action == "list"
    ]
    assert lists == [
        ("person:resp-b", {second}, {subject("worker-2")}),
        ("person:resp-a", {first}, {subject("worker-1")}),
        ("person:coord-1", {first, second}, {subject("worker-1"), subject("worker-2")}),
    ]  # an empty list read no case: nothing to audit

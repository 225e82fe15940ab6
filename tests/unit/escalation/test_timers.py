"""Firing timers (``handlers.timers``): escalation on timeout, repeats, the last step, the
contact timeout, follow-ups; a failing timer is armed again, never dropped."""

from datetime import timedelta
from typing import Any

import pytest

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.domain.timers import Timer, TimerKind, ack_timeout, support_session
from kinship_escalation.handlers.cases import acknowledge, record_contact, resolve
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.timers import TIMER_HANDLERS, fire_due_timers
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    NOW,
    Clock,
    checkin,
    person,
    policy,
    sent,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def opened(uow: FakeEscalationUnitOfWork, ctx: EscalationContext, **answers: Any) -> str:
    """A case opened by a check-in (a self-referral unless ``answers`` say otherwise)."""
    await handle_checkins([checkin("c-1", **(answers or {"wants_contact": True}))], uow, ctx)
    (case_id,) = uow.tables.cases
    return case_id


def test_every_kind_of_timer_has_a_handler() -> None:
    assert set(TIMER_HANDLERS) == set(TimerKind)


async def test_an_unacknowledged_case_escalates_to_the_backup_after_the_timeout(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx, phq9=CRITICAL_PHQ9)
    clock.advance(seconds=299)
    assert await fire_due_timers(uow, ctx, 100) == 0
    clock.advance(seconds=1)
    assert await fire_due_timers(uow, ctx, 100) == 1

    out = sent(uow)
    assert out.alerted() == [("resp-a", 1), ("resp-b", 2)]
    assert [t["kind"] for t in out.transitions] == ["opened", "assigned", "escalated"]
    case = uow.tables.cases[case_id].case
    assert (case.step, case.attempt, case.responder_id) == (2, 1, "resp-b")
    next_timer = uow.timer(f"ack_timeout:{case_id}:2:1")
    assert next_timer is not None and next_timer.timer.due_at == clock.now + timedelta(seconds=300)
    assert uow.timer(f"ack_timeout:{case_id}:1:1").fired_at == clock.now  # type: ignore[union-attr]


async def test_the_default_policy_ends_with_the_coordinators(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await opened(uow, ctx)
    for _ in range(2):
        clock.advance(seconds=300)
        await fire_due_timers(uow, ctx, 100)
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 2), ("coord-1", 3)]


async def test_a_step_repeats_before_moving_on(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await uow.on_call.save_policy(policy(("responders", 60, 2), ("coordinators", 60)))
    case_id = await opened(uow, ctx)
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)
    assert uow.tables.cases[case_id].case.attempt == 2
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-a", 1), ("coord-1", 2)]


async def test_after_the_last_step_times_out_everyone_may_be_alerted_again(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await uow.directory.apply([person("resp-b", "team-s")])  # resp-b is no responder now
    await uow.on_call.save_policy(policy(("responders", 60)))
    case_id = await opened(uow, ctx)
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)
    # A fresh round: resp-a, the only responder, is alerted again on the last step.
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-a", 1)]
    case = uow.tables.cases[case_id].case
    assert (case.step, case.attempt, case.status.value) == (1, 1, "assigned")


async def test_the_last_steps_fresh_round_reuses_its_first_timer_so_none_is_armed_again(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    """Today's behaviour, kept by the refactoring: the fresh round schedules the timer id the
    last step's first alerting had (``ack_timeout:<case>:<step>:1``), which exists (fired),
    so no further timer is armed and the case then waits."""
    await uow.on_call.save_policy(policy(("coordinators", 60)))
    case_id = await opened(uow, ctx)
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)
    assert sent(uow).alerted() == [("coord-1", 1), ("coord-1", 1)]
    armed = [t for t in uow.tables.timers.values() if t.fired_at is None]
    assert [t.timer.id for t in armed if t.timer.case_id == case_id] == []


async def test_a_late_timer_after_acknowledgement_does_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    clock.advance(seconds=300)
    await fire_due_timers(uow, ctx, 100)
    assert sent(uow).alerted() == [("resp-a", 1)]
    assert uow.tables.cases[case_id].case.status.value == "acknowledged"


async def test_no_first_contact_in_time_escalates_to_the_next_step(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    clock.advance(seconds=3600)
    await fire_due_timers(uow, ctx, 100)
    case = uow.tables.cases[case_id].case
    assert (case.status.value, case.step, case.responder_id) == ("assigned", 2, "resp-b")
    assert case.acknowledged_at is None
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 2)]


async def test_the_contact_timeout_does_nothing_once_the_person_was_reached(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await record_contact(case_id, "resp-a", uow, ctx)
    clock.advance(seconds=3600)
    await fire_due_timers(uow, ctx, 100)
    assert uow.tables.cases[case_id].case.status.value == "contacted"
    assert sent(uow).alerted() == [("resp-a", 1)]


async def test_the_follow_up_after_resolution_publishes_it_and_reminds_the_person(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    clock.advance(hours=72)
    # The late step timer and contact timeout (both no-ops now), and the follow-up.
    assert await fire_due_timers(uow, ctx, 100) == 3

    out = sent(uow)
    assert out.transitions[-1]["kind"] == "follow_up_due"
    (reminder,) = out.of_kind("checkin_reminder")
    assert reminder["id"] == f"reminder:case_follow_up:{case_id}"
    assert reminder["recipient"] == {"subject_id": subject("worker-1")}
    assert reminder["params"] == {"purpose": "follow_up"}
    assert (uow.tables.audit[-1].action, uow.tables.audit[-1].actor) == ("follow_up_due", "timer")


async def test_an_exposure_follow_up_asks_the_person_for_a_short_who5_checkin(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    timer = Timer("exposure_follow_up:sig-1:72", TimerKind.EXPOSURE_FOLLOW_UP, NOW, subject_id="s1")
    await uow.timers.schedule(timer)
    await fire_due_timers(uow, ctx, 100)
    (reminder,) = sent(uow).of_kind("checkin_reminder")
    assert (reminder["id"], reminder["recipient"]) == (
        "reminder:exposure_follow_up:sig-1:72",
        {"subject_id": "s1"},
    )
    # An explicit follow-up check-in: a short WHO-5 check-in in the console.
    assert reminder["params"] == {
        "purpose": "exposure_follow_up",
        "checkin_url": "http://127.0.0.1:8005/checkin?form=who5",
    }


async def test_the_support_session_window_opening_offers_a_session(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    incident = NOW - timedelta(hours=24)
    await uow.timers.schedule(
        support_session("sig-1", "team-c", "critical_incident", incident, NOW)
    )
    await fire_due_timers(uow, ctx, 100)
    (proposal,) = sent(uow).proposals
    assert (proposal["team_id"], proposal["kind"], proposal["reason"]) == (
        "team-c",
        "support_session",
        "critical_incident",
    )
    assert [r["recipient"]["person_id"] for r in sent(uow).of_kind("group_session_offer")] == [
        "coord-1"
    ]


async def test_a_timer_without_what_it_is_about_is_skipped_not_retried(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, caplog: pytest.LogCaptureFixture
) -> None:
    await uow.timers.schedule(Timer("odd", TimerKind.CASE_FOLLOW_UP, NOW))
    assert await fire_due_timers(uow, ctx, 100) == 1
    assert uow.timer("odd").fired_at == NOW  # type: ignore[union-attr]
    assert "incomplete timer case_follow_up skipped" in caplog.text


async def test_a_failing_timer_is_armed_again_and_its_effects_undone_while_others_fire(
    uow: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def half_done(timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext) -> None:
        await uow.support.mark_distress("team-z", "s-z", NOW)
        raise ValueError("broken")

    monkeypatch.setitem(TIMER_HANDLERS, TimerKind.CASE_FOLLOW_UP, half_done)
    await uow.timers.schedule(Timer("bad", TimerKind.CASE_FOLLOW_UP, NOW, case_id="k-1"))
    await uow.timers.schedule(support_session("sig-1", "team-c", "critical_incident", NOW, NOW))
    assert await fire_due_timers(uow, ctx, 100) == 2

    bad = uow.timer("bad")
    assert bad is not None and bad.fired_at is None
    assert bad.timer.due_at == NOW + timedelta(seconds=30)
    assert uow.tables.distress == set()  # undone with its savepoint
    assert len(sent(uow).proposals) == 1  # the other timer's effect stays
    clock.advance(seconds=29)
    assert await fire_due_timers(uow, ctx, 100) == 0
    clock.advance(seconds=1)
    assert await fire_due_timers(uow, ctx, 100) == 1  # tried again, failing again
    again = uow.timer("bad")
    assert again is not None and again.timer.due_at == clock.now + timedelta(seconds=30)


async def test_a_malformed_timer_is_retried_later_too(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.timers.schedule(Timer("ack_timeout:k:1:1", TimerKind.ACK_TIMEOUT, NOW, case_id="k"))
    await fire_due_timers(uow, ctx, 100)
    again = uow.timer("ack_timeout:k:1:1")
    assert again is not None and (again.fired_at, again.timer.due_at) == (
        None,
        NOW + timedelta(seconds=30),
    )


async def test_a_transient_failure_fails_the_round_so_that_its_claims_roll_back(
    ctx: EscalationContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_away(
        timer: Timer, uow: EscalationUnitOfWork, ctx: EscalationContext
    ) -> None:
        raise ConnectionResetError("the database went away")

    monkeypatch.setitem(TIMER_HANDLERS, TimerKind.ACK_TIMEOUT, database_away)
    uow = FakeEscalationUnitOfWork()
    async with uow:
        await uow.timers.schedule(ack_timeout("k", 1, 1, NOW))
    with pytest.raises(ConnectionResetError):
        async with uow:
            await fire_due_timers(uow, ctx, 100)
    assert uow.rollbacks == 1
    async with uow:
        assert [t.id for t in await uow.timers.claim_due(NOW, 100)] == ["ack_timeout:k:1:1"]


async def test_a_round_fires_at_most_its_batch_oldest_first(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    for hours in (3, 1, 2):
        at = NOW - timedelta(hours=hours)
        await uow.timers.schedule(
            Timer(f"t{hours}", TimerKind.EXPOSURE_FOLLOW_UP, at, subject_id="s")
        )
    assert await fire_due_timers(uow, ctx, 2) == 2
    assert [r["id"] for r in sent(uow).of_kind("checkin_reminder")] == [
        "reminder:t3",
        "reminder:t2",
    ]

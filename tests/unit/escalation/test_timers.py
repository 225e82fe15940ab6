"""Firing timers (``handlers.timers``): escalation on timeout, repeats, the last step, the
contact timeout, follow-ups; a failing timer is armed again, never dropped."""

from datetime import timedelta
from typing import Any

import pytest

from kinship_contracts.cases import CaseOutcome
from kinship_escalation.domain.timers import Timer, TimerKind, ack_timeout, support_session
from kinship_escalation.handlers.alerts import handle_receipts
from kinship_escalation.handlers.cases import (
    acknowledge,
    acknowledge_by_link,
    hand_over,
    record_contact,
    resolve,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.timers import TIMER_HANDLERS, fire_due_timers
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    NOW,
    Clock,
    checkin,
    link_token,
    policy,
    receipt,
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


async def test_the_last_step_repeats_per_its_policy_then_coordinators_are_paged_until_someone_acks(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    """Before: the last step re-alerted once, reusing its first timer id (ON CONFLICT DO
    NOTHING), and then the case waited with no timer. Now it repeats as its policy says and
    then pages the coordinators on an "unanswered" alert, again at the interval, for ever."""
    unanswered_every = 120
    stored_policy = policy(("responders", 60), ("coordinators", 60, 2))
    stored_policy = stored_policy.model_copy(
        update={"unanswered_interval_seconds": unanswered_every}
    )
    await uow.on_call.save_policy(stored_policy)
    case_id = await opened(uow, ctx)  # a self-referral (high): step 1 alerts resp-a
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)  # step 2: the coordinators
    assert sent(uow).alerted() == [("resp-a", 1), ("coord-1", 2)]
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)  # step 2, repeat 2: the coordinators again
    assert sent(uow).alerted() == [("resp-a", 1), ("coord-1", 2), ("coord-1", 2)]
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)  # every step spent: unanswered
    out = sent(uow)
    pages = [r for r in out.of_kind("alert") if r["alert"]["reason"].startswith("Unanswered")]
    assert [r["recipient"]["person_id"] for r in pages] == ["coord-1"]
    assert pages[0]["urgent"] is True  # a high case: quiet hours do not hold it
    assert "self_referral" not in pages[0]["alert"]["reason"]  # a sentence, no rule names
    assert out.transitions[-1]["kind"] == "unanswered"

    for _ in range(3):  # reminded at the interval, never stopping on its own
        clock.advance(seconds=unanswered_every)
        await fire_due_timers(uow, ctx, 100)
    pages = [r for r in sent(uow).of_kind("alert") if r["alert"]["reason"].startswith("Unanswered")]
    assert len(pages) == 4
    assert len({r["alert"]["alert_id"] for r in pages}) == 4
    armed = [t.timer.kind for t in uow.tables.timers.values() if t.fired_at is None]
    assert armed.count(TimerKind.UNANSWERED) == 1

    # The coordinator takes it through their link; earlier links (resp-a's) worked as well.
    await acknowledge(case_id, "coord-1", uow, ctx)
    clock.advance(seconds=unanswered_every)
    await fire_due_timers(uow, ctx, 100)
    assert len(sent(uow).of_kind("alert")) == 3 + 4
    case = uow.tables.cases[case_id].case
    assert (case.status.value, case.responder_id) == ("acknowledged", "coord-1")


async def test_an_earlier_responders_link_still_takes_the_case_while_it_awaits_acknowledgement(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    """Before: after escalation, the earlier responders' links answered 403."""
    await uow.on_call.save_policy(policy(("responders", 60), ("coordinators", 60)))
    case_id = await opened(uow, ctx)
    (first,) = uow.tables.alerts
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)  # coordinators
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)  # unanswered
    assert uow.tables.cases[case_id].case.status.value == "assigned"
    stored = await acknowledge_by_link(first, link_token(first), uow, ctx)
    assert (stored.case.status.value, stored.case.responder_id) == ("acknowledged", "resp-a")


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
    # The late step timer and contact timeout (both no-ops now), and the first follow-up.
    assert await fire_due_timers(uow, ctx, 100) == 3

    out = sent(uow)
    assert out.transitions[-1]["kind"] == "follow_up_due"
    (reminder,) = out.of_kind("checkin_reminder")
    assert reminder["id"] == f"reminder:case_follow_up:{case_id}:1:72"
    assert reminder["recipient"] == {"subject_id": subject("worker-1")}
    assert reminder["params"] == {"purpose": "follow_up"}
    assert (uow.tables.audit[-1].action, uow.tables.audit[-1].actor) == ("follow_up_due", "timer")
    clock.advance(hours=720 - 72)
    # About a month after resolution; and the person's check-in, silent since, is overdue
    # (a regular reminder, not a follow-up: handlers/reminders.py).
    assert await fire_due_timers(uow, ctx, 100) == 2
    purposes = [r["params"]["purpose"] for r in sent(uow).of_kind("checkin_reminder")]
    assert purposes == ["follow_up", "overdue", "follow_up"]
    assert [r["id"] for r in sent(uow).of_kind("checkin_reminder")][-1] == (
        f"reminder:case_follow_up:{case_id}:1:720"
    )


async def test_a_follow_up_timer_from_before_0_3_still_reminds_the_person(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    await uow.timers.schedule(
        Timer(f"case_follow_up:{case_id}", TimerKind.CASE_FOLLOW_UP, NOW, case_id)
    )
    await fire_due_timers(uow, ctx, 100)
    assert [r["id"] for r in sent(uow).of_kind("checkin_reminder")] == [
        f"reminder:case_follow_up:{case_id}"
    ]


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
        "checkin_url": "http://127.0.0.1:8005/checkin?instrument=who5",
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


async def test_the_contact_timeout_survives_new_evidence(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    """Before: any new evidence bumped the case's sequence and disarmed the timeout, so an
    acknowledged case could sit with nobody reaching the person."""
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    at = clock.advance(minutes=30)
    await handle_checkins([checkin("c-2", at=at, wants_contact=True, mood=2)], uow, ctx)
    assert [t["kind"] for t in sent(uow).transitions][-1] == "evidence_added"
    clock.advance(minutes=30)
    await fire_due_timers(uow, ctx, 100)
    case = uow.tables.cases[case_id].case
    assert (case.status.value, case.step, case.responder_id) == ("assigned", 2, "resp-b")
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 2)]


async def test_an_old_contact_timeout_of_a_case_taken_again_since_does_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    clock.advance(minutes=59)
    await hand_over(case_id, "resp-a", "resp-b", uow, ctx)
    await acknowledge(case_id, "resp-b", uow, ctx)
    clock.advance(minutes=1)  # resp-a's timeout comes: resp-b has an hour of their own
    await fire_due_timers(uow, ctx, 100)
    assert uow.tables.cases[case_id].case.status.value == "acknowledged"
    clock.advance(minutes=59)
    await fire_due_timers(uow, ctx, 100)
    assert uow.tables.cases[case_id].case.status.value == "assigned"  # resp-b's came


async def test_a_rise_to_critical_with_nobody_assigned_starts_the_policy_again_at_once(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await uow.on_call.save_policy(policy(("coordinators", 600), ("responders", 600)))
    case_id = await opened(uow, ctx, who5=[1, 1, 1, 1, 1])  # high, step 1: coordinators
    assert uow.tables.cases[case_id].case.responder_id is None
    at = clock.advance(minutes=1)
    await handle_checkins([checkin("c-2", at=at, phq9=CRITICAL_PHQ9)], uow, ctx)
    alerts = sent(uow).of_kind("alert")
    assert [(a["recipient"]["person_id"], a["critical"]) for a in alerts] == [
        ("coord-1", False),
        ("coord-1", True),  # the policy again from step 1, at once, not after 10 minutes
    ]


@pytest.mark.parametrize(
    ("answers", "urgent_from", "urgent", "critical"),
    [
        ({"wants_contact": True, "mood": 3}, "high", True, False),
        ({"wants_contact": True, "mood": 3}, "critical", False, False),
        ({"phq9": CRITICAL_PHQ9}, "critical", True, True),
    ],
)
async def test_alerts_skip_quiet_hours_from_the_severity_the_policy_says(
    uow: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    answers: dict[str, Any],
    urgent_from: str,
    urgent: bool,
    critical: bool,
) -> None:
    stored_policy = policy(("responders", 60)).model_copy(update={"urgent_from": urgent_from})
    await uow.on_call.save_policy(stored_policy)
    await handle_checkins([checkin("c-1", **answers)], uow, ctx)
    (alert,) = sent(uow).of_kind("alert")
    assert (alert["urgent"], alert["critical"]) == (urgent, critical)


async def test_a_medium_case_alerts_without_skipping_quiet_hours(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    for n in range(3):  # three low moods: a sustained decline (medium)
        at = clock.advance(days=1)
        await handle_checkins([checkin(f"c-{n}", at=at, mood=2)], uow, ctx)
    (alert,) = sent(uow).of_kind("alert")
    assert (alert["alert"]["severity"], alert["urgent"]) == ("medium", False)


async def test_a_failed_unanswered_page_moves_nothing_on(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await uow.on_call.save_policy(policy(("coordinators", 60)))
    case_id = await opened(uow, ctx)
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 100)
    pages = [a for a in uow.tables.alerts.values() if a.record.purpose == "unanswered"]
    assert len(pages) == 1
    before = len(sent(uow).of_kind("alert"))
    await handle_receipts([receipt(pages[0].record.id)], uow, ctx)
    assert len(sent(uow).of_kind("alert")) == before
    assert uow.tables.cases[case_id].case.status.value == "assigned"

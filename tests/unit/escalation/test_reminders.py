"""Regular check-ins (``handlers/reminders.py``): a person whose check-in is overdue gets one
``checkin_reminder`` with purpose ``overdue`` by subject id, then one each further period up
to the maximum in a row; a check-in starts again from one. One reminder timer per subject,
armed in one statement per batch of check-ins."""

from datetime import timedelta
from typing import Any

import pytest

from kinship_contracts.notifications import NotificationRequest
from kinship_contracts.privacy import SubjectsErased
from kinship_contracts.signals import SignalKind
from kinship_escalation.domain.observations import SignalObservation
from kinship_escalation.domain.reminders import CheckinReminders, reminder_request_id
from kinship_escalation.domain.timers import Timer, TimerKind, checkin_reminder_id
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins, handle_load_signals
from kinship_escalation.handlers.erasure import erase_subject_sets
from kinship_escalation.handlers.timers import fire_due_timers
from kinship_escalation.settings import EscalationSettings
from tests.unit.escalation.conftest import NOW, Clock, checkin, context, sent, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

WEEK = timedelta(days=7)


def reminder_timer(uow: FakeEscalationUnitOfWork, person: str = "worker-1") -> Timer | None:
    """The person's reminder timer while it is armed (not fired), else None."""
    armed = uow.tables.timers.get(checkin_reminder_id(subject(person)))
    return armed.timer if armed is not None and armed.fired_at is None else None


def overdue(uow: FakeEscalationUnitOfWork) -> list[dict[str, Any]]:
    """The overdue reminders queued so far, in order."""
    return [r for r in sent(uow).of_kind("checkin_reminder") if r["params"]["purpose"] == "overdue"]


async def test_a_batch_arms_each_subjects_one_reminder_a_period_after_their_newest_checkin(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    batch = [
        checkin("c-1", at=NOW - timedelta(days=2), mood=4),
        checkin("c-2", at=NOW - timedelta(days=1), mood=4),
        checkin("d-1", "worker-2", at=NOW, mood=4),
    ]
    await handle_checkins(batch, uow, ctx)
    assert uow.tables.rearms == [2]  # one statement for the batch, one timer per subject
    first, second = reminder_timer(uow), reminder_timer(uow, "worker-2")
    assert first is not None and second is not None
    assert (first.kind, first.subject_id, first.due_at) == (
        TimerKind.CHECKIN_REMINDER,
        subject("worker-1"),
        NOW - timedelta(days=1) + WEEK,
    )
    assert first.payload == {
        "last_checkin": "c-2",
        "last_at": (NOW - timedelta(days=1)).isoformat(),
        "number": 1,
    }
    assert (second.due_at, second.payload["last_checkin"]) == (NOW + WEEK, "d-1")
    assert len(uow.tables.timers) == 2  # nothing else: no low trend, no watch


async def test_the_reminder_fires_once_then_each_period_up_to_the_maximum(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=4)], uow, ctx)
    clock.advance(days=7, seconds=-1)
    assert await fire_due_timers(uow, ctx, 100) == 0  # not overdue yet
    clock.advance(seconds=1)
    assert await fire_due_timers(uow, ctx, 100) == 1
    assert await fire_due_timers(uow, ctx, 100) == 0  # fired once
    (first,) = overdue(uow)
    assert first["id"] == reminder_request_id(subject("worker-1"), "c-1", 1)
    assert first["recipient"] == {"subject_id": subject("worker-1")}
    assert first["params"] == {"purpose": "overdue", "last_checkin_at": NOW.isoformat()}
    request = NotificationRequest.model_validate(first)
    assert request.limited and not request.care  # opt-outs, quiet hours, the daily limit
    assert not request.urgent and not request.critical and request.case_id is None

    clock.advance(days=7)
    assert await fire_due_timers(uow, ctx, 100) == 1
    assert [r["id"] for r in overdue(uow)] == [
        reminder_request_id(subject("worker-1"), "c-1", 1),
        reminder_request_id(subject("worker-1"), "c-1", 2),
    ]
    assert reminder_timer(uow) is None  # two in a row: no more
    clock.advance(days=70)
    assert await fire_due_timers(uow, ctx, 100) == 0
    assert len(overdue(uow)) == 2


async def test_a_checkin_starts_the_reminders_again_from_one(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=4)], uow, ctx)
    clock.advance(days=7)
    await fire_due_timers(uow, ctx, 100)  # the first reminder; the second armed
    timer = reminder_timer(uow)
    assert timer is not None and timer.payload["number"] == 2
    later = clock.advance(days=3)
    await handle_checkins([checkin("c-2", at=later, mood=4)], uow, ctx)
    timer = reminder_timer(uow)
    assert timer is not None
    assert (timer.due_at, timer.payload["last_checkin"], timer.payload["number"]) == (
        later + WEEK,
        "c-2",
        1,
    )
    clock.advance(days=4)  # when the second reminder about c-1 was due: nothing
    assert await fire_due_timers(uow, ctx, 100) == 0
    clock.advance(days=3)
    await fire_due_timers(uow, ctx, 100)
    assert [r["id"] for r in overdue(uow)] == [
        reminder_request_id(subject("worker-1"), "c-1", 1),
        reminder_request_id(subject("worker-1"), "c-2", 1),
    ]


async def test_a_redelivered_or_older_checkin_leaves_the_reminder_as_it_was(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-2", mood=4)], uow, ctx)
    clock.advance(days=7)
    await fire_due_timers(uow, ctx, 100)
    armed = reminder_timer(uow)
    assert armed is not None and armed.payload["number"] == 2
    await handle_checkins([checkin("c-2", mood=4)], uow, ctx)  # redelivered
    # A late check-in from before the newest (a backfill): it resets nothing.
    await handle_checkins([checkin("c-1", at=NOW - timedelta(days=1), mood=4)], uow, ctx)
    assert reminder_timer(uow) == armed
    assert uow.tables.rearms == [1]  # only the first batch armed it
    assert len(overdue(uow)) == 1


async def test_a_replayed_timer_asks_for_the_same_request_so_nothing_is_sent_twice(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=4)], uow, ctx)
    clock.advance(days=7)
    await fire_due_timers(uow, ctx, 100)
    first = reminder_timer(uow)
    assert first is not None
    # The same timer fired again (a replica's retry of a round it could not commit).
    replayed = Timer(
        **{**first.__dict__, "due_at": clock.now, "payload": {**first.payload, "number": 1}}
    )
    await uow.timers.schedule(replayed, replace=True)
    await fire_due_timers(uow, ctx, 100)
    ids = [r["id"] for r in overdue(uow)]
    assert ids == [reminder_request_id(subject("worker-1"), "c-1", 1)] * 2
    assert ids[0] == f"overdue:{subject('worker-1')}:c-1:1"  # the subject and the period


async def test_a_silence_found_late_brings_one_reminder_now_not_several(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=4)], uow, ctx)
    now = clock.advance(days=30)  # the service was down, or the history was backfilled
    assert await fire_due_timers(uow, ctx, 100) == 1
    assert await fire_due_timers(uow, ctx, 100) == 0
    timer = reminder_timer(uow)
    assert timer is not None and timer.due_at == now + WEEK
    assert len(overdue(uow)) == 1


async def test_a_person_with_an_open_case_is_still_reminded(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", wants_contact=True)], uow, ctx)
    (case_id,) = uow.tables.cases
    clock.advance(days=7)
    await fire_due_timers(uow, ctx, 100)
    assert uow.tables.cases[case_id].case.is_open
    (reminder,) = overdue(uow)
    assert reminder["recipient"] == {"subject_id": subject("worker-1")}


async def test_no_reminders_when_turned_off(uow: FakeEscalationUnitOfWork, clock: Clock) -> None:
    off = context(clock, checkin_reminders=None)
    await handle_checkins([checkin("c-1", mood=4)], uow, off)
    assert reminder_timer(uow) is None and uow.tables.rearms == []
    # One armed before they were turned off fires and sends nothing.
    await handle_checkins(
        [checkin("c-2", at=NOW + timedelta(hours=1), mood=4)], uow, context(clock)
    )
    clock.advance(days=8)
    assert await fire_due_timers(uow, off, 100) == 1
    assert overdue(uow) == []


async def test_a_lowered_maximum_stops_a_run_already_past_it(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=4)], uow, ctx)
    clock.advance(days=7)
    await fire_due_timers(uow, ctx, 100)  # the first; the second armed
    clock.advance(days=7)
    once = context(clock, checkin_reminders=CheckinReminders(WEEK, 1))
    assert await fire_due_timers(uow, once, 100) == 1
    assert len(overdue(uow)) == 1


async def test_an_erased_subject_loses_the_timer_and_is_never_reminded(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=4)], uow, ctx)
    armed = reminder_timer(uow)
    assert armed is not None
    erasure = SubjectsErased(
        id="er-1:subjects", erasure_id="er-1", subject_ids=[subject("worker-1")], occurred_at=NOW
    )
    await erase_subject_sets([erasure], uow, ctx)
    assert checkin_reminder_id(subject("worker-1")) not in uow.tables.timers
    # Should one be left (armed by a unit of work that raced the erasure), it sends nothing:
    # nothing observed about the subject is kept.
    await uow.timers.schedule(armed)
    clock.advance(days=7)
    assert await fire_due_timers(uow, ctx, 100) == 1
    assert overdue(uow) == []


async def test_people_who_never_checked_in_get_no_reminder(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    overtime = SignalObservation(SignalKind.OVERTIME, 2, NOW)
    await handle_load_signals([(subject("worker-1"), "team-x", overtime)], uow, ctx)
    assert reminder_timer(uow) is None and uow.tables.rearms == []
    await handle_checkins([checkin("c-1", at=NOW + timedelta(hours=1), mood=4)], uow, ctx)
    assert reminder_timer(uow) is not None  # known to Kinship from their first check-in


async def test_a_person_reported_absent_since_their_last_checkin_is_not_reminded(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    # Sick or bereavement leave, reported by HR: "your check-in is overdue" would be unkind.
    await handle_checkins([checkin("c-1", mood=4), checkin("d-1", "worker-2", mood=4)], uow, ctx)
    before = SignalObservation(SignalKind.ABSENCE, 1, NOW - timedelta(days=1))
    away = SignalObservation(SignalKind.ABSENCE, 1, NOW + timedelta(days=2))
    await handle_load_signals(
        [(subject("worker-1"), "team-x", away), (subject("worker-2"), "team-x", before)],
        uow,
        ctx,
    )
    clock.advance(days=7)
    assert await fire_due_timers(uow, ctx, 100) == 2
    # Only worker-2 (absent before their last check-in, so back since) is reminded.
    assert [r["recipient"]["subject_id"] for r in overdue(uow)] == [subject("worker-2")]
    assert reminder_timer(uow) is None  # the run stops until worker-1 checks in again
    clock.advance(days=7)
    await fire_due_timers(uow, ctx, 100)
    assert [r["recipient"]["subject_id"] for r in overdue(uow)] == [subject("worker-2")] * 2
    await handle_checkins([checkin("c-2", at=clock.now, mood=4)], uow, ctx)
    assert reminder_timer(uow) is not None  # back: reminded again when overdue


def test_the_settings_default_to_weekly_twice_in_a_row_and_zero_turns_them_off() -> None:
    assert EscalationSettings(env="dev").checkin_reminders() == CheckinReminders(WEEK, 2)
    assert EscalationSettings(env="dev", checkin_reminder_days=0).checkin_reminders() is None
    custom = EscalationSettings(env="dev", checkin_reminder_days=3, checkin_reminder_max=1)
    assert custom.checkin_reminders() == CheckinReminders(timedelta(days=3), 1)
    with pytest.raises(ValueError, match="checkin_reminder_max"):
        EscalationSettings(env="dev", checkin_reminder_max=0)


def test_the_next_reminder_is_a_period_after_the_last_and_never_sooner_than_a_period() -> None:
    reminders = CheckinReminders(WEEK, 3)
    assert reminders.first_due(NOW) == NOW + WEEK
    assert reminders.next_due(NOW, 1, NOW + WEEK) == NOW + 2 * WEEK
    assert reminders.next_due(NOW, 1, NOW + 5 * WEEK) == NOW + 6 * WEEK
    assert reminders.next_due(NOW, 3, NOW + 3 * WEEK) is None
    with pytest.raises(ValueError):
        CheckinReminders(timedelta(0), 2)

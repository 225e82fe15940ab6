"""Erasure (``handlers.erasure``): the person's half forgets what is kept by their id as staff,
the subjects' half what is kept by their subject ids; an open case about the person closes
without alerting anyone; each half once; one receipt when both are done."""

from datetime import timedelta

from kinship_contracts.cases import CaseOutcome
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_escalation.domain.cases import is_erased
from kinship_escalation.domain.policies import CoordinatorsTarget, OnCallRotation, ScheduleTarget
from kinship_escalation.domain.schedules.model import Schedule
from kinship_escalation.handlers.cases import acknowledge, resolve
from kinship_escalation.handlers.configuration import save_default_policy
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_people, erase_subject_sets
from kinship_escalation.handlers.feedback import give_feedback
from kinship_escalation.handlers.signals import handle_signals
from kinship_escalation.handlers.timers import fire_due_timers
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    NOW,
    RECEIPTS,
    REQUESTS,
    Clock,
    checkin,
    policy,
    sent,
    signal,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


def request(person_id: str, erasure_id: str = "er-1") -> ErasureRequested:
    return ErasureRequested(id=erasure_id, person_id=person_id, requested_at=NOW, source="hr")


def subjects_of(*people: str, erasure_id: str = "er-1") -> SubjectsErased:
    return SubjectsErased(
        id=f"{erasure_id}:subjects",
        erasure_id=erasure_id,
        subject_ids=[subject(p) for p in people],
        occurred_at=NOW,
    )


def care_schedule(name: str, people: list[str]) -> Schedule:
    """A weekly schedule of ``people``, with an override and (for two) a swap naming the first."""
    swaps = (
        [{"first": people[0], "second": people[1], "start": NOW, "end": NOW + timedelta(days=1)}]
        if len(people) > 1
        else []
    )
    return Schedule.model_validate(
        {
            "name": name,
            "time_zone": "Europe/London",
            "layers": [
                {
                    "name": "weekly",
                    "participants": people,
                    "rotation": {"every": 1, "unit": "weeks"},
                    "handoff_time": "09:00",
                    "start_date": "2026-01-05",
                }
            ],
            "overrides": [{"person_id": people[0], "start": NOW, "end": NOW + timedelta(hours=8)}],
            "swaps": swaps,
        }
    )


def relayed(uow: FakeEscalationUnitOfWork) -> None:
    """What the outbox held went out (the relay deletes published rows)."""
    uow.tables.outbox.clear()


def case_of(uow: FakeEscalationUnitOfWork, about: str) -> str:
    (case_id,) = [k for k, s in uow.tables.cases.items() if s.case.subject_id == subject(about)]
    return case_id


async def test_an_erased_responder_leaves_no_trace_and_their_open_case_goes_to_the_next_step(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await uow.on_call.save_rotation(
        OnCallRotation(name="day", members=["resp-a", "resp-b"], starts_at=NOW)
    )
    await uow.on_call.save_rotation(OnCallRotation(name="solo", members=["resp-a"], starts_at=NOW))
    await uow.on_call.save_schedule(care_schedule("care", ["resp-a", "resp-b"]))
    await uow.on_call.save_schedule(care_schedule("care-solo", ["resp-a"]))
    await save_default_policy(policy(("person:resp-a", 60), ("rotation:day", 60)), uow)
    # A critical case resp-a handled (rest owed, feedback given) and an open one they hold.
    await handle_checkins([checkin("c-1", "worker-1", phq9=CRITICAL_PHQ9)], uow, ctx)
    done = case_of(uow, "worker-1")
    await acknowledge(done, "resp-a", uow, ctx)
    await resolve(done, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    await give_feedback(done, "responder", 4, "resp-a", uow, ctx)
    clock.advance(hours=13)  # rested
    await handle_checkins([checkin("c-2", "worker-2", wants_contact=True)], uow, ctx)
    held = case_of(uow, "worker-2")
    await acknowledge(held, "resp-a", uow, ctx)
    relayed(uow)

    await erase_people([request("resp-a")], uow, ctx)

    stored = uow.tables.cases[held]
    assert (stored.case.status.value, stored.case.responder_id, stored.case.step) == (
        "assigned",
        "resp-b",
        2,
    )  # handed back, and the next step alerted
    out = sent(uow)
    assert [t["kind"] for t in out.transitions] == ["handed_over", "escalated"]
    assert out.alerted() == [("resp-b", 2)]
    assert [r.name for r in await uow.on_call.rotations()] == ["day"]
    assert (await uow.on_call.rotations())[0].members == ["resp-b"]
    (care,) = await uow.on_call.schedules()  # care-solo had nobody left
    assert care.layers[0].participants == ("resp-b",)
    assert (care.overrides, care.swaps) == ((), ())
    stored_policy = await uow.on_call.policy()
    assert stored_policy is not None
    assert [s.targets for s in stored_policy.steps] == [
        (CoordinatorsTarget(),),
        (ScheduleTarget(schedule="day"),),
        (CoordinatorsTarget(),),
    ]
    assert stored.policy.steps[0].targets == (CoordinatorsTarget(),)  # the case's copy too
    assert uow.tables.cases[done].case.responder_id is None
    assert "person:erased" in {r.actor for r in uow.tables.audit}
    assert {a.record.recipient_id for a in uow.tables.alerts.values()} >= {"erased"}
    # Nothing anywhere names them any more (the relay sent what was queued before).
    assert "resp-a" not in repr(uow.tables)
    assert uow.published(RECEIPTS) == []  # the subjects' half is still to come


async def test_an_open_case_about_an_erased_person_closes_silently_and_nothing_links(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    # An earlier case about worker-1, resolved with feedback from both sides.
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    earlier = case_of(uow, "worker-1")
    await acknowledge(earlier, "resp-a", uow, ctx)
    await resolve(earlier, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    await give_feedback(earlier, "person", 5, "worker-1", uow, ctx)
    # A critical one open now, a withdrawal watch, exposure follow-ups, self-care for later.
    clock.advance(hours=1)
    await handle_checkins([checkin("c-2", "worker-1", clock.now, phq9=CRITICAL_PHQ9)], uow, ctx)
    await handle_signals([signal("sig-1", clock.now, person_id="worker-1")], uow, ctx)
    await handle_checkins([checkin("c-3", "worker-2", clock.now, mood=2)], uow, ctx)
    other = uow.tables.self_care.copy()
    assert uow.tables.self_care and any(t.timer.subject_id for t in uow.tables.timers.values())
    await handle_checkins([checkin("c-4", "worker-3", clock.now, wants_contact=True)], uow, ctx)
    kept = case_of(uow, "worker-3")
    before = uow.tables.cases[kept]
    relayed(uow)

    await erase_subject_sets([subjects_of("worker-1", "worker-2")], uow, ctx)

    assert sent(uow).requests == [] and sent(uow).transitions == []  # nobody is told
    theirs = [earlier, *(k for k in uow.tables.cases if k not in (earlier, kept))]
    assert len(theirs) == 2
    stand_ins = set()
    for case_id in theirs:
        case = uow.tables.cases[case_id].case
        assert (case.status.value, case.team_id) == ("resolved", None)
        assert is_erased(case.subject_id) and case.subject_id.startswith("erased:")
        stand_ins.add(case.subject_id)
    # One stand-in for all their cases: the programme still counts them as one person.
    assert len(stand_ins) == 1 and subject("worker-1") not in stand_ins.pop()
    # Timers gone: nothing fires later for them (no escalation, no reminder, no follow-up).
    clock.advance(days=40)
    erased = {subject("worker-1"), subject("worker-2")}
    for armed in uow.tables.timers.values():
        assert armed.timer.subject_id not in erased
        assert armed.timer.case_id is None or armed.timer.case_id == kept
    await fire_due_timers(uow, ctx, 100)
    assert all(r["recipient"].get("subject_id") != subject("worker-1") for r in sent(uow).requests)
    assert not [r for r in sent(uow).requests if r.get("case_id") == earlier]
    # Their feedback stays with the anonymised case, for the programme's measures.
    assert uow.tables.feedback == {(earlier, "person"): 5}
    assert other and not uow.tables.self_care
    text = repr(uow.tables)
    assert subject("worker-1") not in text and subject("worker-2") not in text
    assert "c-1" not in text and "c-2" not in text  # the check-ins the cases rested on
    # Another person's case is as it was (its own escalation went on meanwhile).
    assert uow.tables.cases[kept].case.subject_id == before.case.subject_id == subject("worker-3")
    assert uow.tables.cases[kept].case.opened_at == before.case.opened_at


async def test_each_half_once_however_often_it_comes_and_one_receipt_for_both(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    await erase_subject_sets([subjects_of("worker-1")], uow, ctx)
    assert uow.published(RECEIPTS) == []
    clock.advance(minutes=1)
    await erase_people([request("worker-1"), request("worker-1")], uow, ctx)
    await erase_people([request("worker-1")], uow, ctx)
    await erase_subject_sets([subjects_of("worker-1")], uow, ctx)
    (receipt,) = uow.published(RECEIPTS)
    assert (receipt["id"], receipt["erasure_id"], receipt["service"]) == (
        "er-1:escalation",
        "er-1",
        "escalation",
    )
    assert receipt["removed"]["open_cases_closed"] == 1
    assert receipt["removed"]["directory"] == 1
    assert "worker-1" not in repr(receipt)
    # A second erasure (another person) is its own.
    await erase_people([request("worker-2", "er-2")], uow, ctx)
    await erase_subject_sets([subjects_of(erasure_id="er-2")], uow, ctx)  # never checked in
    assert [r["erasure_id"] for r in uow.published(RECEIPTS)] == ["er-1", "er-2"]
    assert not [m for m in uow.tables.outbox if m.topic == REQUESTS]


async def test_unsent_messages_to_or_about_them_are_dropped(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", "worker-1", phq9=CRITICAL_PHQ9)], uow, ctx)
    await handle_checkins([checkin("c-2", "worker-2", wants_contact=True)], uow, ctx)
    case_id = case_of(uow, "worker-1")
    queued = {m.event_id for m in uow.tables.outbox}
    await erase_subject_sets([subjects_of("worker-1")], uow, ctx)
    left = [m for m in uow.tables.outbox if m.event_id in queued]
    assert left  # worker-2's case and alert are still to be sent
    assert all(
        case_id not in (m.value or b"").decode() and subject("worker-1").encode() != m.key
        for m in left
    )
    clock.advance(seconds=301)
    assert await fire_due_timers(uow, ctx, 100) == 1  # worker-2's step timer only

"""Working a case (``handlers.cases``, ``handlers.casework``, ``handlers.view``): first
contact with its channel, hand-overs with a reason, private notes and safety plans sealed
under the person's data key, planned follow-ups, re-opening, what resolution asks for, the
explained case view, and what erasure leaves of it all."""

from datetime import timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from kinship_contracts.cases import CaseOutcome
from kinship_contracts.directory import OutreachPreference
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_escalation.domain.cases import CaseTransitionError, NotAllowedError
from kinship_escalation.domain.casework import (
    Consent,
    ContactChannel,
    HandoverReason,
    InvalidActionError,
    NoteKind,
    PreferenceChange,
    ReopenReason,
)
from kinship_escalation.domain.sealing import NoteKeyUnknownError
from kinship_escalation.handlers.cases import acknowledge, hand_over, record_contact, resolve
from kinship_escalation.handlers.casework import (
    add_note,
    plan_follow_up,
    read_notes,
    reopen,
    write_safety_plan,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_people, erase_subject_sets
from kinship_escalation.handlers.outreach import apply_preferences
from kinship_escalation.handlers.timers import fire_due_timers
from kinship_escalation.handlers.view import view_case
from tests.unit.escalation.conftest import CRITICAL_PHQ9, NOW, Clock, checkin, sent, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def held(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, about: str = "worker-1", **answers: Any
) -> str:
    """A case about ``about`` that resp-a (or whoever step 1 alerts) has acknowledged."""
    before = set(uow.tables.cases)
    event = checkin(f"c-{about}", about, **(answers or {"wants_contact": True, "mood": 3}))
    await handle_checkins([event], uow, ctx)
    (case_id,) = set(uow.tables.cases) - before
    responder = uow.tables.cases[case_id].case.responder_id
    assert responder is not None
    await acknowledge(case_id, responder, uow, ctx)
    return case_id


# ---- first contact, hand-over, resolution --------------------------------------------------


async def test_first_contact_records_its_channel_and_time(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await held(uow, ctx)
    clock.advance(minutes=30)
    with pytest.raises(InvalidActionError):  # not in the future
        await record_contact(
            case_id, "resp-a", uow, ctx, ContactChannel.PHONE, clock.now + timedelta(minutes=1)
        )
    when = clock.now - timedelta(minutes=10)
    stored = await record_contact(case_id, "resp-a", uow, ctx, ContactChannel.PHONE, when)
    assert (stored.case.status.value, stored.case.contacted_at) == ("contacted", when)
    event = sent(uow).transitions[-1]
    assert (event["kind"], event["channel"]) == ("contacted", "phone")
    assert uow.tables.case_work[case_id].contact_channel is ContactChannel.PHONE


async def test_a_handover_after_contact_keeps_the_time_of_first_contact(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await held(uow, ctx)
    first = clock.now
    await record_contact(case_id, "resp-a", uow, ctx, ContactChannel.CHAT)
    clock.advance(hours=1)
    await hand_over(case_id, "resp-a", "resp-b", uow, ctx, HandoverReason.WORKLOAD)
    await acknowledge(case_id, "resp-b", uow, ctx)
    stored = await record_contact(case_id, "resp-b", uow, ctx, ContactChannel.VIDEO)
    assert stored.case.contacted_at == first


async def test_a_handover_names_its_reason_and_seals_what_the_responder_adds(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await held(uow, ctx)
    with pytest.raises(InvalidActionError):
        await hand_over(case_id, "resp-a", "resp-a", uow, ctx)
    await hand_over(
        case_id,
        "resp-a",
        "resp-b",
        uow,
        ctx,
        HandoverReason.CONFLICT_OF_INTEREST,
        "we are neighbours",
    )
    event = [t for t in sent(uow).transitions if t["kind"] == "handed_over"][-1]
    assert event["reason"] == "conflict_of_interest"
    (note,) = uow.tables.case_notes
    assert note.kind is NoteKind.HANDOVER and note.author == "person:resp-a"
    assert b"neighbours" not in note.sealed
    assert "neighbours" not in str(uow.tables.outbox) + str(uow.tables.audit)


async def test_back_to_the_rotation_the_policy_starts_again_without_the_one_handing_over(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await held(uow, ctx)
    stored = await hand_over(case_id, "resp-a", None, uow, ctx, HandoverReason.UNAVAILABLE)
    assert (stored.case.status.value, stored.case.step) == ("assigned", 1)
    assert stored.case.responder_id == "resp-b"
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 1)]
    await acknowledge(case_id, "resp-b", uow, ctx)


@pytest.mark.parametrize(
    ("outcome", "feedback", "follow_ups"),
    [
        (CaseOutcome.SUPPORTED, True, True),
        (CaseOutcome.REFERRED_PROFESSIONAL, True, True),
        (CaseOutcome.REFERRED_EMERGENCY, True, True),
        (CaseOutcome.NO_CONTACT, False, True),
        (CaseOutcome.DECLINED, False, False),
    ],
)
async def test_feedback_only_after_support_and_follow_ups_unless_declined(
    uow: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    outcome: CaseOutcome,
    feedback: bool,
    follow_ups: bool,
) -> None:
    case_id = await held(uow, ctx)
    await resolve(case_id, "resp-a", outcome, uow, ctx)
    asked = [r["params"]["from"] for r in sent(uow).of_kind("feedback_request")]
    assert asked == (["person", "responder"] if feedback else [])
    armed = {t.timer.id for t in uow.tables.timers.values() if t.timer.kind == "case_follow_up"}
    expected = {f"case_follow_up:{case_id}:1:72", f"case_follow_up:{case_id}:1:720"}
    assert armed == (expected if follow_ups else set())


# ---- notes and safety plans ----------------------------------------------------------------


async def test_notes_are_sealed_under_the_persons_key_and_read_by_the_responder_only(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await held(uow, ctx)
    with pytest.raises(NotAllowedError):
        await add_note(case_id, "resp-b", "not mine", uow, ctx)
    await add_note(case_id, "resp-a", "Called; she prefers evenings.", uow, ctx)
    (note,) = uow.tables.case_notes
    assert b"evenings" not in note.sealed
    assert list(uow.tables.subject_keys) == [subject("worker-1")]
    event = sent(uow).transitions[-1]
    assert event["kind"] == "note_added" and "evenings" not in str(uow.tables.outbox)

    notes = await read_notes(case_id, "resp-a", uow, ctx)
    assert [(n.text, n.author) for n in notes.notes] == [
        ("Called; she prefers evenings.", "person:resp-a")
    ]
    for refused in ("resp-b", "coord-1"):  # another responder; a coordinator (decision)
        with pytest.raises(NotAllowedError):
            await read_notes(case_id, refused, uow, ctx)
    reads = [r.actor for r in uow.tables.audit if r.action == "notes_read"]
    assert reads == ["person:resp-a"]


async def test_a_handed_over_case_s_notes_wait_until_the_new_responder_takes_it(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """The audit's probe: handed to resp-b, who had not acknowledged, yet read the notes;
    resp-a, who wrote them, was refused."""
    case_id = await held(uow, ctx)
    await add_note(case_id, "resp-a", "Called Worker One on her mobile.", uow, ctx)
    await hand_over(case_id, "resp-a", "resp-b", uow, ctx, HandoverReason.WORKLOAD)
    with pytest.raises(NotAllowedError):  # alerted, not yet taken
        await read_notes(case_id, "resp-b", uow, ctx)
    earlier = await read_notes(case_id, "resp-a", uow, ctx)  # took it before: still a responder
    assert [n.text for n in earlier.notes] == ["Called Worker One on her mobile."]
    await acknowledge(case_id, "resp-b", uow, ctx)
    taken = await read_notes(case_id, "resp-b", uow, ctx)
    assert [n.text for n in taken.notes] == ["Called Worker One on her mobile."]
    with pytest.raises(NotAllowedError):
        await read_notes(case_id, "coord-1", uow, ctx)


async def test_a_responder_alerted_after_a_contact_timeout_reads_no_notes_until_taking_it(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await held(uow, ctx)
    await add_note(case_id, "resp-a", "Left a message.", uow, ctx)
    clock.advance(days=3)  # past the contact timeout: the next step is alerted
    await fire_due_timers(uow, ctx, 10)
    case = uow.tables.cases[case_id].case
    assert case.status.value == "assigned" and case.responder_id not in (None, "resp-a")
    with pytest.raises(NotAllowedError):
        await read_notes(case_id, case.responder_id, uow, ctx)


async def test_a_note_moved_to_another_case_does_not_open(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await held(uow, ctx)
    await add_note(case_id, "resp-a", "private", uow, ctx)
    (note,) = uow.tables.case_notes
    assert ctx.case_notes is not None
    key = uow.tables.subject_keys[subject("worker-1")]
    with pytest.raises(InvalidTag):  # AES-GCM refuses: a note is bound to its note and case
        ctx.case_notes.open(note.sealed, note.id, "another-case", key, subject("worker-1"))
    with pytest.raises(NoteKeyUnknownError):
        ctx.case_notes.open(note.sealed, note.id, case_id, None, subject("worker-1"))


async def test_a_safety_plan_is_for_critical_cases_and_the_latest_is_the_plan(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    high = await held(uow, ctx)
    with pytest.raises(CaseTransitionError, match="critical cases"):
        await write_safety_plan(high, "resp-a", "her sister", "walks", uow, ctx)
    critical = await held(uow, ctx, "worker-2", phq9=CRITICAL_PHQ9)
    responder = uow.tables.cases[critical].case.responder_id
    assert responder is not None
    await write_safety_plan(critical, responder, "her sister", "walks", uow, ctx)
    clock.advance(minutes=5)
    await write_safety_plan(critical, responder, "her sister; the GP", "walks, music", uow, ctx)
    found = await read_notes(critical, responder, uow, ctx)
    assert found.notes == []
    assert found.safety_plan is not None
    assert (found.safety_plan.who_to_call, found.safety_plan.what_helps) == (
        "her sister; the GP",
        "walks, music",
    )
    kinds = [t["kind"] for t in sent(uow).transitions if t["case_id"] == critical]
    assert kinds.count("safety_plan_updated") == 2
    assert "sister" not in str(uow.tables.outbox)


# ---- planned follow-ups and re-opening -------------------------------------------------------


async def test_a_planned_follow_up_reminds_the_responder_and_a_new_plan_replaces_it(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await held(uow, ctx)
    await record_contact(case_id, "resp-a", uow, ctx, ContactChannel.PHONE)
    with pytest.raises(InvalidActionError):
        await plan_follow_up(case_id, "resp-a", clock.now - timedelta(minutes=1), uow, ctx)
    await plan_follow_up(case_id, "resp-a", clock.now + timedelta(hours=1), uow, ctx)
    await plan_follow_up(case_id, "resp-a", clock.now + timedelta(hours=2), uow, ctx)
    planned = [t for t in sent(uow).transitions if t["kind"] == "follow_up_scheduled"]
    assert planned[-1]["follow_up_at"] == (NOW + timedelta(hours=2)).isoformat().replace(
        "+00:00", "Z"
    )
    clock.advance(hours=1)
    await fire_due_timers(uow, ctx, 100)
    assert not [a for a in sent(uow).of_kind("alert") if "Follow-up" in a["alert"]["reason"]]
    clock.advance(hours=1)
    await fire_due_timers(uow, ctx, 100)
    (reminder,) = [a for a in sent(uow).of_kind("alert") if "Follow-up" in a["alert"]["reason"]]
    assert reminder["recipient"] == {"person_id": "resp-a"}
    assert reminder["urgent"] is False  # the responder chose the time
    assert sent(uow).transitions[-1]["kind"] == "follow_up_reminded"
    assert uow.tables.case_work[case_id].follow_up_at is None


async def test_a_resolved_case_reopens_within_30_days_for_its_responder_or_a_coordinator(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await held(uow, ctx)
    await record_contact(case_id, "resp-a", uow, ctx, ContactChannel.PHONE)
    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    clock.advance(days=3)
    with pytest.raises(NotAllowedError):
        await reopen(case_id, "resp-b", False, ReopenReason.NEW_CONCERN, None, uow, ctx)
    stored = await reopen(
        case_id, "resp-a", False, ReopenReason.PERSON_ASKED, "she called back", uow, ctx
    )
    assert (stored.case.status.value, stored.case.responder_id) == ("acknowledged", "resp-a")
    assert stored.case.outcome is None and stored.case.resolved_at is None
    event = sent(uow).transitions[-1]
    assert (event["kind"], event["reason"]) == ("reopened", "person_asked")
    assert uow.timer(f"case_follow_up:{case_id}:1:72") is None  # the first resolution's
    assert uow.tables.case_work[case_id].reopened == 1

    await resolve(case_id, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    assert uow.timer(f"case_follow_up:{case_id}:2:72") is not None
    feedback = [r["id"] for r in sent(uow).of_kind("feedback_request")]
    assert feedback[-2:] == [f"feedback:{case_id}:2:person", f"feedback:{case_id}:2:responder"]
    clock.advance(days=31)
    with pytest.raises(CaseTransitionError, match="more than 30 days"):
        await reopen(case_id, "coord-1", True, ReopenReason.OTHER, None, uow, ctx)


async def test_a_case_reopens_neither_beside_another_open_case_nor_after_the_person_declined(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    first = await held(uow, ctx)
    await resolve(first, "resp-a", CaseOutcome.SUPPORTED, uow, ctx)
    at = clock.advance(hours=1)
    await handle_checkins([checkin("c-again", at=at, wants_contact=True, mood=3)], uow, ctx)
    with pytest.raises(CaseTransitionError, match="another open case"):
        await reopen(first, "coord-1", True, ReopenReason.NEW_CONCERN, None, uow, ctx)

    uow.tables.case_work[first].consent = Consent.NO
    with pytest.raises(CaseTransitionError, match="declined"):
        await reopen(first, "coord-1", True, ReopenReason.NEW_CONCERN, None, uow, ctx)


# ---- the case view -----------------------------------------------------------------------


async def test_the_case_view_explains_itself_and_shows_its_timeline_without_personal_data(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await apply_preferences(
        [PreferenceChange(subject("worker-1"), OutreachPreference.WELCOME, NOW)], uow
    )
    batch = [
        checkin(f"c-{n}", at=NOW + timedelta(days=n), mood=2, stress=4).model_copy(
            update={"has_note": True, "note_shared": n == 3}
        )
        for n in (1, 2, 3)
    ]
    await handle_checkins(batch, uow, ctx)
    await uow.casework.share_notes(["c-3"])
    (case_id,) = uow.tables.cases
    await acknowledge(case_id, "resp-a", uow, ctx)
    await add_note(case_id, "resp-a", "first call planned", uow, ctx)

    detail = await view_case(case_id, "resp-a", False, uow, ctx)
    assert detail.work.consent is Consent.WELCOME
    assert detail.note_may_be_shown is True
    assert detail.notes == 1 and detail.safety_plan_recorded is False
    explanation = detail.explanation
    assert [rule.rule for rule in explanation.rules] == ["sustained_decline"]
    (fired,) = explanation.rules
    assert fired.reason.startswith("Mood has been low")
    # What detection kept: the rules version, the severity, cited thresholds, observations.
    assert explanation.rules_version == ctx.rules.version
    assert fired.severity is not None and fired.thresholds
    assert all(threshold.source for threshold in fired.thresholds)
    assert fired.checkin_ids == ("c-1", "c-2", "c-3")
    assert [o.checkin_id for o in fired.observations] == ["c-1", "c-2", "c-3"]
    assert [(c.id, c.scores) for c in explanation.checkins] == [
        (f"c-{n}", {"mood": 2, "stress": 4}) for n in (1, 2, 3)
    ]
    actions = [(entry.action, entry.actor) for entry in detail.timeline]
    assert actions == [
        ("opened", "detection"),
        ("assigned", "escalation"),
        ("acknowledged", "person:resp-a"),
        ("note_added", "person:resp-a"),
        ("read", "person:resp-a"),
    ]
    assert all(entry.at is not None for entry in detail.timeline)
    assert subject("worker-1") not in str(detail.timeline) + str(explanation)
    with pytest.raises(NotAllowedError):
        await view_case(case_id, "resp-b", False, uow, ctx)
    assert (await view_case(case_id, "coord-1", True, uow, ctx)).stored.case.id == case_id


async def test_the_case_view_shows_a_phq2_only_when_it_was_asked_alone(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    """A full PHQ-9 (total 10, items 1-2 at 3 and 3) is shown by its total: a "PHQ-2" of 6
    from its first two items would read as a positive screen and give away both answers."""
    phq9 = [3, 3, 1, 1, 1, 1, 0, 0, 0]
    case_id = await held(uow, ctx, phq9=phq9)
    await handle_checkins(
        [checkin("c-phq2", at=clock.advance(hours=1), phq2=[2, 2], wants_contact=True)], uow, ctx
    )
    detail = await view_case(case_id, "resp-a", False, uow, ctx)
    scores = {checkin.id: checkin.scores for checkin in detail.explanation.checkins}
    assert scores["c-worker-1"] == {"phq9_total": 10}
    assert scores["c-phq2"] == {"phq2_total": 4, "wants_contact": True}


# ---- erasure ---------------------------------------------------------------------------------


async def test_erasure_shreds_the_persons_key_and_notes_and_anonymises_their_authors(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await apply_preferences(
        [PreferenceChange(subject("worker-1"), OutreachPreference.WELCOME, NOW)], uow
    )
    about_worker = await held(uow, ctx)
    await add_note(about_worker, "resp-a", "about worker-1", uow, ctx)
    other = await held(uow, ctx, "worker-2")
    other_responder = uow.tables.cases[other].case.responder_id
    assert other_responder is not None
    await add_note(other, other_responder, "about worker-2", uow, ctx)

    request = ErasureRequested(id="er-1", person_id="worker-1", requested_at=NOW, source="hr")
    await erase_people([request], uow, ctx)
    subjects = SubjectsErased(
        id="er-1:subjects", erasure_id="er-1", subject_ids=[subject("worker-1")], occurred_at=NOW
    )
    await erase_subject_sets([subjects], uow, ctx)
    assert subject("worker-1") not in uow.tables.subject_keys
    assert subject("worker-1") not in uow.tables.preferences
    assert [n.case_id for n in uow.tables.case_notes] == [other]
    assert uow.tables.case_work[about_worker].consent_id is None

    responder = ErasureRequested(
        id="er-2", person_id=other_responder, requested_at=NOW, source="hr"
    )
    await erase_people([responder], uow, ctx)
    assert [n.author for n in uow.tables.case_notes] == ["person:erased"]

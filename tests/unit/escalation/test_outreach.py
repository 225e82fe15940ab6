"""Consent and reaching out (``handlers.outreach``): people's preferences by subject id; what
a case opening does for ``welcome``, ``ask_first`` (the default) and ``resources_only``; a
self-referral is consent and immediate risk overrides any preference; the person's one-tap
answer (yes, no, none in time)."""

from datetime import datetime, timedelta
from typing import Any

import pytest

from kinship_contracts.directory import OutreachPreference
from kinship_contracts.grants import read_grant
from kinship_contracts.links import ConsentAnswer, mint_consent_token
from kinship_contracts.outreach import OutreachChanged
from kinship_escalation.domain.cases import (
    AlertPurpose,
    CaseNotFoundError,
    CaseTransitionError,
    LinkExpiredError,
    NotAllowedError,
)
from kinship_escalation.domain.casework import (
    Consent,
    ContactChannel,
    PreferenceChange,
    consent_for,
    raised_consent,
)
from kinship_escalation.entrypoints.consumers import parse_outreach, store_checkins
from kinship_escalation.handlers.cases import acknowledge, record_contact
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.outreach import (
    ConsentClosedError,
    answer_consent,
    apply_preferences,
)
from kinship_escalation.handlers.reveal import grant_reveal
from kinship_escalation.handlers.timers import fire_due_timers
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    GRANT_KEY,
    LINK_SECRET,
    NOW,
    STAFF,
    Clock,
    checkin,
    sent,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

POOR_WHO5 = [1, 1, 1, 1, 1]
"""WHO-5 raw 5: poor wellbeing (high), no self-referral, no immediate risk."""


async def prefer(
    uow: FakeEscalationUnitOfWork, person_id: str, preference: OutreachPreference | None
) -> None:
    await apply_preferences([PreferenceChange(subject(person_id), preference, NOW)], uow)


async def opened(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, id_: str = "c-1", **answers: Any
) -> str:
    before = set(uow.tables.cases)
    await handle_checkins([checkin(id_, **(answers or {"who5": POOR_WHO5}))], uow, ctx)
    (case_id,) = set(uow.tables.cases) - before
    return case_id


def token(consent_id: str, answer: ConsentAnswer, expires_at: datetime) -> str:
    """The token the notifications service adds to the answer's link when it sends."""
    return mint_consent_token(LINK_SECRET, consent_id, answer, expires_at)


def question(uow: FakeEscalationUnitOfWork) -> tuple[str, datetime]:
    (request,) = sent(uow).of_kind("consent_request")
    params = request["params"]
    return params["consent_id"], datetime.fromisoformat(params["consent_expires_at"])


# ---- preferences -------------------------------------------------------------------------


async def test_preferences_are_kept_by_subject_the_newest_wins_and_a_tombstone_forgets(
    uow: FakeEscalationUnitOfWork,
) -> None:
    who = subject("worker-1")
    await apply_preferences(
        [
            PreferenceChange(who, OutreachPreference.WELCOME, NOW),
            PreferenceChange(who, OutreachPreference.RESOURCES_ONLY, NOW - timedelta(days=1)),
        ],
        uow,
    )
    assert await uow.preferences.of(who) is OutreachPreference.WELCOME
    await apply_preferences([PreferenceChange(who, None)], uow)
    assert await uow.preferences.of(who) is None


class Record:
    """A consumed ``privacy.outreach.preferences`` record."""

    def __init__(self, key: bytes | None, value: bytes | None) -> None:
        self.topic, self.partition, self.offset = "privacy.outreach.preferences", 0, 0
        self.key, self.value = key, value
        self.headers: list[tuple[str, bytes]] = []


def test_preference_records_parse_tombstones_and_refuse_a_key_that_names_another_subject() -> None:
    event = OutreachChanged(
        subject_id="s-1", preference=OutreachPreference.WELCOME, chosen_by="person", updated_at=NOW
    )
    value = event.model_dump_json().encode()
    records = [
        Record(b"s-1", value),
        Record(b"s-1", None),
        Record(b"s-2", value),
        Record(b"s-1", b'{"subject_id": "s-1", "preference": "maybe"}'),
        Record(None, None),
    ]
    accepted, rejected = parse_outreach(records)
    assert [a.event for a in accepted] == [
        PreferenceChange("s-1", OutreachPreference.WELCOME, NOW),
        PreferenceChange("s-1", None),
    ]
    assert [r.reason["code"] for r in rejected] == [
        "key_mismatch",
        "validation_failed",
        "missing_key",
    ]
    assert "maybe" not in str(rejected[1].reason)  # reasons name fields, never values


# ---- what a case opening does -------------------------------------------------------------


async def test_welcome_alerts_as_before_and_asks_nobody(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await prefer(uow, "worker-1", OutreachPreference.WELCOME)
    case_id = await opened(uow, ctx)
    assert sent(uow).alerted() == [("resp-a", 1)]
    assert sent(uow).of_kind("consent_request") == []
    assert uow.tables.case_work[case_id].consent is Consent.WELCOME


async def test_ask_first_is_the_default_the_responder_is_alerted_and_the_person_asked(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    out = sent(uow)
    assert out.alerted() == [("resp-a", 1)]  # alerted as usual
    assert [t["kind"] for t in out.transitions] == ["opened", "assigned", "consent_requested"]
    assert out.transitions[-1]["consent"] == "asked"
    (request,) = out.of_kind("consent_request")
    consent_id = request["params"]["consent_id"]
    assert request["recipient"] == {"subject_id": subject("worker-1")}
    assert request["id"] == f"consent:{consent_id}"
    assert request["params"] == {
        "consent_id": consent_id,
        "consent_yes_url": f"http://127.0.0.1:8002/v1/consent/{consent_id}/yes",
        "consent_no_url": f"http://127.0.0.1:8002/v1/consent/{consent_id}/no",
        "consent_expires_at": (NOW + timedelta(hours=72)).isoformat(),
    }
    assert "token" not in str(request)  # the notifications service mints them when it sends
    assert consent_id != case_id
    work = uow.tables.case_work[case_id]
    assert (work.consent, work.consent_id) == (Consent.ASKED, consent_id)
    assert uow.timer(f"consent_expiry:{case_id}") is not None


async def test_before_the_person_says_yes_nobody_learns_who_they_are_or_records_contact(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    stored = await acknowledge(case_id, "resp-a", uow, ctx)
    assert uow.timer(f"contact_timeout:{case_id}:{stored.case.sequence}") is None
    with pytest.raises(CaseTransitionError, match="not agreed"):
        await grant_reveal(case_id, "resp-a", uow, ctx)
    with pytest.raises(CaseTransitionError, match="not agreed"):
        await record_contact(case_id, "resp-a", uow, ctx)
    assert not [r for r in uow.tables.audit if r.action == "revealed"]


async def test_another_responder_is_refused_before_learning_anything_about_consent(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    with pytest.raises(NotAllowedError):
        await record_contact(case_id, "resp-b", uow, ctx)
    with pytest.raises(NotAllowedError):
        await grant_reveal(case_id, "resp-b", uow, ctx)


async def test_yes_lets_the_responder_reveal_and_starts_the_contact_timeout(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    consent_id, expires = question(uow)
    clock.advance(hours=2)
    answered = await answer_consent(
        consent_id, ConsentAnswer.YES, token(consent_id, ConsentAnswer.YES, expires), uow, ctx
    )
    assert answered is Consent.YES
    event = sent(uow).transitions[-1]
    assert (event["kind"], event["consent"]) == ("consent_given", "yes")
    assert (uow.tables.audit[-1].action, uow.tables.audit[-1].actor) == (
        "consent_given",
        "subject",  # the person, never named by their id
    )
    case = uow.tables.cases[case_id].case
    timer = uow.timer(f"contact_timeout:{case_id}:{case.sequence}")
    assert timer is not None and timer.timer.due_at == clock.now + timedelta(hours=1)
    assert (await grant_reveal(case_id, "resp-a", uow, ctx)).case_id == case_id
    with pytest.raises(ConsentClosedError):  # one-time
        await answer_consent(
            consent_id, ConsentAnswer.NO, token(consent_id, ConsentAnswer.NO, expires), uow, ctx
        )


async def test_no_closes_the_case_as_declined_with_resources_and_nothing_after(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    case_id = await opened(uow, ctx)
    consent_id, expires = question(uow)
    no = token(consent_id, ConsentAnswer.NO, expires)
    assert await answer_consent(consent_id, ConsentAnswer.NO, no, uow, ctx) is Consent.NO
    case = uow.tables.cases[case_id].case
    assert (case.status.value, case.outcome.value if case.outcome else None) == (
        "resolved",
        "declined",
    )
    out = sent(uow)
    assert [t["kind"] for t in out.transitions][-2:] == ["consent_declined", "resolved"]
    (resources,) = out.of_kind("self_care")
    assert resources["recipient"] == {"subject_id": subject("worker-1")}
    assert {r["kind"] for r in resources["resources"]} <= {"self_care", "employee_assistance"}
    assert out.of_kind("feedback_request") == []
    follow_ups = [t for t in uow.tables.timers.values() if t.timer.kind == "case_follow_up"]
    assert follow_ups == []


async def test_a_consent_link_must_be_its_own_valid_unexpired_token(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await opened(uow, ctx)
    consent_id, expires = question(uow)
    yes = token(consent_id, ConsentAnswer.YES, expires)
    with pytest.raises(NotAllowedError):  # the yes token never answers no
        await answer_consent(consent_id, ConsentAnswer.NO, yes, uow, ctx)
    with pytest.raises(NotAllowedError):  # nor another question
        await answer_consent("other", ConsentAnswer.YES, yes, uow, ctx)
    with pytest.raises(CaseNotFoundError):  # a question that does not exist
        other = token("other", ConsentAnswer.YES, expires)
        await answer_consent("other", ConsentAnswer.YES, other, uow, ctx)
    clock.advance(hours=72)
    with pytest.raises(LinkExpiredError):
        await answer_consent(consent_id, ConsentAnswer.YES, yes, uow, ctx)


async def test_no_answer_in_time_closes_the_case_as_no_contact_with_its_follow_ups(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    clock.advance(hours=72)
    await fire_due_timers(uow, ctx, 100)
    case = uow.tables.cases[case_id].case
    assert (case.status.value, case.outcome.value if case.outcome else None) == (
        "resolved",
        "no_contact",
    )
    out = sent(uow)
    assert [t["kind"] for t in out.transitions][-2:] == ["consent_expired", "resolved"]
    assert uow.tables.audit[-1].actor == "timer"
    assert out.of_kind("feedback_request") == []  # no conversation to rate
    assert len(out.of_kind("self_care")) == 1
    assert uow.timer(f"case_follow_up:{case_id}:1:72") is not None
    assert uow.timer(f"case_follow_up:{case_id}:1:720") is not None


async def test_an_answered_question_does_not_expire(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    consent_id, expires = question(uow)
    yes = token(consent_id, ConsentAnswer.YES, expires)
    await answer_consent(consent_id, ConsentAnswer.YES, yes, uow, ctx)
    clock.advance(hours=72)
    await fire_due_timers(uow, ctx, 100)
    assert uow.tables.cases[case_id].case.is_open


async def test_resources_only_gets_resources_and_no_case_alert_or_question(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await prefer(uow, "worker-1", OutreachPreference.RESOURCES_ONLY)
    await handle_checkins([checkin("c-1", who5=POOR_WHO5)], uow, ctx)
    at = clock.advance(days=1)
    await handle_checkins([checkin("c-2", at=at, who5=POOR_WHO5)], uow, ctx)
    assert uow.tables.cases == {}
    out = sent(uow)
    assert out.alerted() == [] and out.of_kind("consent_request") == []
    (resources,) = out.of_kind("self_care")  # at most once per self-care period
    assert resources["id"] == "resources:c-1"
    assert resources["resources"]


@pytest.mark.parametrize(
    ("answers", "consent"),
    [
        ({"phq9": CRITICAL_PHQ9}, Consent.IMMEDIATE_RISK),
        ({"wants_contact": True, "mood": 3}, Consent.SELF_REFERRAL),
    ],
)
async def test_immediate_risk_and_a_self_referral_reach_out_whatever_the_preference(
    uow: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    answers: dict[str, Any],
    consent: Consent,
) -> None:
    await prefer(uow, "worker-1", OutreachPreference.RESOURCES_ONLY)
    case_id = await opened(uow, ctx, **answers)
    assert sent(uow).alerted() == [("resp-a", 1)]
    assert sent(uow).of_kind("consent_request") == []
    assert uow.tables.case_work[case_id].consent is consent
    await acknowledge(case_id, "resp-a", uow, ctx)
    assert (await grant_reveal(case_id, "resp-a", uow, ctx)).case_id == case_id


async def test_immediate_risk_after_the_question_overrides_it_and_pages_the_responder(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    await acknowledge(case_id, "resp-a", uow, ctx)
    at = clock.advance(minutes=10)
    await handle_checkins([checkin("c-2", at=at, phq9=CRITICAL_PHQ9)], uow, ctx)

    assert uow.tables.case_work[case_id].consent is Consent.IMMEDIATE_RISK
    overridden = [r for r in uow.tables.audit if r.action == "consent_overridden"]
    assert [r.actor for r in overridden] == ["detection"]
    alerts = sent(uow).of_kind("alert")
    assert [(a["recipient"]["person_id"], a["critical"]) for a in alerts] == [
        ("resp-a", False),
        ("resp-a", True),  # paged at once, although they hold the case already
    ]
    assert alerts[-1]["alert"]["reason"].startswith("Now critical")
    case = uow.tables.cases[case_id].case
    assert case.status.value == "acknowledged"  # nothing to take again
    assert uow.timer(f"contact_timeout:{case_id}:{case.sequence}") is not None
    assert (await grant_reveal(case_id, "resp-a", uow, ctx)).case_id == case_id
    consent_id, expires = question(uow)
    with pytest.raises(ConsentClosedError):  # the question is moot now
        yes = token(consent_id, ConsentAnswer.YES, expires)
        await answer_consent(consent_id, ConsentAnswer.YES, yes, uow, ctx)


async def test_asking_for_contact_after_the_question_is_consent(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    case_id = await opened(uow, ctx)
    at = clock.advance(minutes=10)
    await handle_checkins([checkin("c-2", at=at, wants_contact=True, mood=3)], uow, ctx)
    assert uow.tables.case_work[case_id].consent is Consent.SELF_REFERRAL
    assert [r.action for r in uow.tables.audit if r.action == "self_referred"] == ["self_referred"]


@pytest.mark.parametrize(
    ("shared", "expected"),
    [({"c-3"}, "c-3"), ({"c-1", "c-2"}, None), (set(), None)],
)
async def test_the_grant_names_the_triggering_checkin_only_when_its_note_was_shared(
    ctx: EscalationContext, shared: set[str], expected: str | None
) -> None:
    fresh = FakeEscalationUnitOfWork()
    async with fresh:
        await fresh.directory.apply(STAFF)
        await prefer(fresh, "worker-1", OutreachPreference.WELCOME)
    # Three low moods in a row: a sustained decline resting on all three check-ins.
    batch = [
        checkin(f"c-{n}", at=NOW + timedelta(days=n), mood=2).model_copy(
            update={"has_note": True, "note_shared": f"c-{n}" in shared}
        )
        for n in (1, 2, 3)
    ]
    await store_checkins(batch, fresh, ctx)
    async with fresh:
        (stored,) = fresh.tables.cases.values()
        assert stored.case.observation_ids == ["c-1", "c-2", "c-3"]
        await acknowledge(stored.case.id, "resp-a", fresh, ctx)
        issued = await grant_reveal(stored.case.id, "resp-a", fresh, ctx)
    assert fresh.tables.shared_notes == shared
    grant = read_grant(issued.token, GRANT_KEY, NOW)
    assert grant.note_checkin_id == expected  # the newest check-in the case rests on


@pytest.mark.parametrize(
    ("preference", "rules", "expected"),
    [
        (None, ["poor_wellbeing"], Consent.ASKED),  # the default is ask_first
        (OutreachPreference.ASK_FIRST, ["sustained_decline"], Consent.ASKED),
        (OutreachPreference.WELCOME, ["withdrawal"], Consent.WELCOME),
        (OutreachPreference.RESOURCES_ONLY, ["poor_wellbeing"], None),
        (OutreachPreference.RESOURCES_ONLY, ["self_referral"], Consent.SELF_REFERRAL),
        (
            OutreachPreference.RESOURCES_ONLY,
            ["immediate_risk", "self_referral"],
            Consent.IMMEDIATE_RISK,
        ),
        (
            OutreachPreference.ASK_FIRST,
            ["poor_wellbeing", "immediate_risk"],
            Consent.IMMEDIATE_RISK,
        ),
    ],
)
def test_the_programme_policy_table(
    preference: OutreachPreference | None, rules: list[str], expected: Consent | None
) -> None:
    assert consent_for(preference, rules) is expected


def test_only_asked_and_no_keep_a_person_unrevealed() -> None:
    assert {c for c in Consent if not c.allows_outreach} == {Consent.ASKED, Consent.NO}
    assert raised_consent(Consent.YES, ["self_referral"]) is Consent.YES
    assert raised_consent(Consent.ASKED, ["self_referral"]) is Consent.SELF_REFERRAL
    assert raised_consent(Consent.SELF_REFERRAL, ["immediate_risk"]) is Consent.IMMEDIATE_RISK


@pytest.mark.parametrize("contacted", [False, True])
async def test_a_rise_below_critical_on_a_held_case_tells_its_holder(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock, contacted: bool
) -> None:
    """The audit's probe: medium, acknowledged, then a WHO-5 raw 5 (high): nobody was told."""
    await prefer(uow, "worker-1", OutreachPreference.WELCOME)
    case_id = await opened(uow, ctx, who5=[2, 2, 2, 2, 2])  # raw 10: medium
    assert uow.tables.cases[case_id].case.severity.value == "medium"
    await acknowledge(case_id, "resp-a", uow, ctx)
    if contacted:
        await record_contact(case_id, "resp-a", uow, ctx, ContactChannel.PHONE, clock.now)
    before = len(sent(uow).of_kind("alert"))
    at = clock.advance(hours=1)
    await handle_checkins([checkin("c-2", at=at, who5=POOR_WHO5)], uow, ctx)
    stored = uow.tables.cases[case_id]
    assert (stored.case.severity.value, stored.case.responder_id) == ("high", "resp-a")
    (update,) = sent(uow).of_kind("alert")[before:]
    assert update["recipient"] == {"person_id": "resp-a"}
    assert update["alert"]["reason"].startswith("Now high.")
    assert "who5" not in update["alert"]["reason"].lower()
    record = uow.tables.alerts[update["alert"]["alert_id"]].record
    assert record.purpose is AlertPurpose.UPDATE
    paged = [r for r in uow.tables.audit if r.action == "paged_severity"]
    assert [(r.actor, r.case_ids) for r in paged] == [("detection", (case_id,))]
    # Evidence that changes nothing tells nobody again.
    await handle_checkins([checkin("c-3", at=clock.advance(hours=1), who5=POOR_WHO5)], uow, ctx)
    assert len(sent(uow).of_kind("alert")) == before + 1


async def test_a_rise_before_anyone_took_the_case_pages_nobody_extra(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await prefer(uow, "worker-1", OutreachPreference.WELCOME)
    await opened(uow, ctx, who5=[2, 2, 2, 2, 2])
    await handle_checkins([checkin("c-2", at=clock.advance(hours=1), who5=POOR_WHO5)], uow, ctx)
    assert not [r for r in uow.tables.audit if r.action == "paged_severity"]
    assert sent(uow).alerted() == [("resp-a", 1)]  # the same policy: nothing moves

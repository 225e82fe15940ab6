"""Detection (``handlers.detection``): check-ins open or update cases, earn self-care, start
and cancel the withdrawal watch; the watch coming due opens a withdrawal case."""

import json
from datetime import timedelta

from kinship_escalation.domain.timers import TimerKind, missed_checkins_id
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins, missed_checkins_due
from tests.unit.escalation.conftest import (
    CASES,
    CRITICAL_PHQ9,
    NOW,
    REQUESTS,
    Clock,
    checkin,
    policy,
    sent,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork


async def test_a_critical_checkin_opens_a_case_sends_crisis_resources_and_alerts_step_1(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    assert await handle_checkins([checkin("c-1", phq9=CRITICAL_PHQ9)], uow, ctx) == 1

    (stored,) = uow.tables.cases.values()
    case = stored.case
    assert (case.subject_id, case.severity.value, case.rules) == (
        subject("worker-1"),
        "critical",
        ["immediate_risk"],
    )
    assert (case.status.value, case.step, case.attempt, case.responder_id) == (
        "assigned",
        1,
        1,
        "resp-a",
    )
    out = sent(uow)
    assert [t["kind"] for t in out.transitions] == ["opened", "assigned"]
    assert out.alerted() == [("resp-a", 1)]
    (alert,) = out.of_kind("alert")
    assert alert["critical"] is True
    # The link carries no token (the notifications service adds one when it sends it).
    assert alert["alert"]["ack_url"] == ctx.links.url(alert["alert"]["alert_id"])
    assert "token" not in alert["alert"]["ack_url"]
    assert alert["alert"]["expires_at"] == "2026-11-25T09:00:00Z"
    assert alert["alert"]["reason"].startswith("Immediate risk")
    (crisis,) = out.of_kind("crisis_resources")
    assert crisis["recipient"] == {"subject_id": subject("worker-1")}
    assert crisis["critical"] is True
    # Where the person is is not known here: the resources for everyone, wherever they are.
    assert crisis["resources"] and all(not r.get("countries") for r in crisis["resources"])
    timer = uow.timer(f"ack_timeout:{case.id}:1:1")
    assert timer is not None and timer.timer.due_at == NOW + timedelta(seconds=300)
    assert [(a.action, a.actor, a.subject_ids) for a in uow.tables.audit] == [
        ("opened", "detection", (subject("worker-1"),)),
        ("assigned", "escalation", (subject("worker-1"),)),
    ]


async def test_the_same_checkin_twice_has_one_effect(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    event = checkin("c-dup", wants_contact=True, mood=3)
    await handle_checkins([event, event], uow, ctx)
    assert await handle_checkins([event], uow, ctx) == 0  # redelivered: nothing new
    assert len(uow.tables.cases) == 1
    assert sent(uow).alerted() == [("resp-a", 1)]
    (stored,) = uow.tables.cases.values()
    assert (stored.case.severity.value, stored.case.rules) == ("high", ["self_referral"])


async def test_new_evidence_joins_the_open_case_and_a_rise_to_critical_sends_resources_once(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", wants_contact=True, mood=3)], uow, ctx)
    later = clock.advance(minutes=1)
    await handle_checkins([checkin("c-2", at=later, phq9=CRITICAL_PHQ9)], uow, ctx)
    later = clock.advance(minutes=1)
    await handle_checkins([checkin("c-3", at=later, phq9=CRITICAL_PHQ9)], uow, ctx)

    (stored,) = uow.tables.cases.values()
    assert stored.case.severity.value == "critical"
    assert stored.case.observation_ids == ["c-1", "c-2", "c-3"]
    out = sent(uow)
    assert [t["kind"] for t in out.transitions] == [
        "opened",
        "assigned",
        "evidence_added",
        "assigned",  # the rise to critical pages the alerted responder again, at once
        "evidence_added",
    ]
    assert len(out.of_kind("crisis_resources")) == 1
    assert out.alerted() == [("resp-a", 1), ("resp-a", 1)]  # nobody new; once per rise
    assert [a["critical"] for a in out.of_kind("alert")] == [False, True]


async def test_a_low_reading_without_a_case_earns_self_care_at_most_once_a_week(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", person_id="worker-9", stress=5, mood=3)], uow, ctx)
    at = clock.advance(days=3)
    await handle_checkins([checkin("c-2", "worker-9", at, stress=5, mood=3)], uow, ctx)
    at = clock.advance(days=4)
    await handle_checkins([checkin("c-3", "worker-9", at, stress=5, mood=3)], uow, ctx)

    self_care = sent(uow).of_kind("self_care")
    assert [r["id"] for r in self_care] == ["self-care:c-1", "self-care:c-3"]
    assert self_care[0]["recipient"] == {"subject_id": subject("worker-9")}
    assert self_care[0]["critical"] is False
    assert uow.tables.cases == {}


async def test_no_self_care_while_the_person_has_an_open_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", wants_contact=True, mood=3)], uow, ctx)
    at = clock.advance(hours=1)
    await handle_checkins([checkin("c-2", at=at, stress=5, mood=3)], uow, ctx)
    # Only the answer to the request for contact (its own message), no self-care offer.
    assert [r["id"].split(":")[0] for r in sent(uow).of_kind("self_care")] == ["referral"]


async def test_a_self_referral_tells_the_person_at_once_that_the_request_arrived(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """The audit's probe: a wants_contact check-in (not immediate risk) alerted staff only."""
    await handle_checkins([checkin("c-1", wants_contact=True, mood=3)], uow, ctx)
    (stored,) = uow.tables.cases.values()
    assert stored.case.severity.value == "high"
    (message,) = sent(uow).of_kind("self_care")
    assert message["recipient"] == {"subject_id": subject("worker-1")}
    assert (message["urgent"], message["critical"]) == (True, False)
    assert message["case_id"] == stored.case.id
    assert message["params"] == {"purpose": "self_referral", "checkin_at": NOW.isoformat()}
    kinds = {resource["kind"] for resource in message["resources"]}
    assert kinds and kinds <= {"self_care", "employee_assistance"}
    assert sent(uow).of_kind("crisis_resources") == []


async def test_a_self_referral_joining_an_open_case_is_answered_too_but_once(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", who5=[1, 1, 1, 1, 1])], uow, ctx)
    assert sent(uow).of_kind("self_care") == []  # a case without a request: no such message
    for number in (2, 3):
        at = clock.advance(hours=1)
        await handle_checkins([checkin(f"c-{number}", at=at, wants_contact=True)], uow, ctx)
    (message,) = sent(uow).of_kind("self_care")
    assert message["params"]["purpose"] == "self_referral"


async def test_immediate_risk_sends_crisis_resources_not_the_referral_message(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", wants_contact=True, mood=1)], uow, ctx)
    assert len(sent(uow).of_kind("crisis_resources")) == 1
    assert sent(uow).of_kind("self_care") == []


async def test_a_low_trend_starts_the_withdrawal_watch_and_a_good_checkin_cancels_it(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    second = NOW + timedelta(days=1)
    await handle_checkins([checkin("c-1", "w-2", NOW, mood=2)], uow, ctx)
    assert uow.timer(missed_checkins_id(subject("w-2"))) is None  # one low reading: no trend
    await handle_checkins([checkin("c-2", "w-2", second, mood=2)], uow, ctx)
    watch = uow.timer(missed_checkins_id(subject("w-2")))
    assert watch is not None
    assert watch.timer.kind is TimerKind.MISSED_CHECKINS
    # Too few check-ins for a usual interval: 7 days, twice, after the newest.
    assert watch.timer.due_at == second + timedelta(days=14)
    assert watch.timer.payload == {"last_checkin": "c-2", "last_at": second.isoformat()}

    third = clock.advance(days=2)
    await handle_checkins([checkin("c-3", "w-2", third, mood=2)], uow, ctx)
    moved = uow.timer(missed_checkins_id(subject("w-2")))
    assert moved is not None and moved.timer.payload["last_checkin"] == "c-3"

    await handle_checkins([checkin("c-4", "w-2", clock.advance(days=1), mood=4)], uow, ctx)
    assert uow.timer(missed_checkins_id(subject("w-2"))) is None


async def test_the_withdrawal_watch_coming_due_opens_a_withdrawal_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins(
        [
            checkin("c-1", "w-3", NOW, mood=3),
            checkin("c-2", "w-3", NOW + timedelta(days=1), mood=2),
        ],
        uow,
        ctx,
    )
    await handle_checkins([checkin("c-3", "w-3", NOW + timedelta(days=2), mood=2)], uow, ctx)
    assert uow.tables.cases == {}
    clock.advance(days=20)
    await missed_checkins_due(subject("w-3"), "team-x", "c-3", uow, ctx)

    (stored,) = uow.tables.cases.values()
    assert (stored.case.severity.value, stored.case.rules) == ("medium", ["withdrawal"])
    assert stored.case.observation_ids == ["c-2", "c-3"]
    assert sent(uow).alerted() == [("resp-a", 1)]


async def test_the_withdrawal_watch_does_nothing_when_the_person_checked_in_since(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins(
        [
            checkin("c-1", "w-4", NOW, mood=2),
            checkin("c-2", "w-4", NOW + timedelta(days=1), mood=2),
        ],
        uow,
        ctx,
    )
    clock.advance(days=20)
    await missed_checkins_due(subject("w-4"), "team-x", "c-1", uow, ctx)
    await missed_checkins_due(subject("w-4"), "team-x", None, uow, ctx)
    assert uow.tables.cases == {}


async def test_an_opened_case_marks_distress_in_the_persons_team(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", team="team-q", wants_contact=True, mood=3)], uow, ctx)
    await handle_checkins([checkin("c-2", "worker-2", team=None, wants_contact=True)], uow, ctx)
    assert uow.tables.distress == {("team-q", subject("worker-1"), NOW)}


async def test_a_case_follows_the_stored_policy_it_was_opened_with(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await uow.on_call.save_policy(policy(("coordinators", 60)))
    await handle_checkins([checkin("c-1", wants_contact=True, mood=3)], uow, ctx)
    (stored,) = uow.tables.cases.values()
    assert stored.policy == policy(("coordinators", 60))
    assert sent(uow).alerted() == [("coord-1", 1)]
    assert stored.case.responder_id is None  # a group was alerted, nobody assigned


async def test_a_full_phq9_totalling_3_opens_no_case_whatever_its_first_two_items(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    # The case: items 1-2 at 2 and 1 made a derived PHQ-2 of 3, which opened a high
    # case; a PHQ-9 of 3 is "minimal" (Kroenke et al. 2001) and its total decides.
    await handle_checkins([checkin("c-1", phq9=[2, 1, 0, 0, 0, 0, 0, 0, 0])], uow, ctx)
    assert uow.tables.cases == {}
    assert sent(uow).requests == []  # not even self-care: the reading is not low


async def test_a_phq2_asked_on_its_own_at_3_opens_a_high_case(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", phq2=[2, 1])], uow, ctx)
    (stored,) = uow.tables.cases.values()
    assert (stored.case.severity.value, stored.case.rules) == ("high", ["poor_wellbeing"])


async def test_self_care_messages_carry_the_self_care_resources(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", person_id="worker-9", mood=2)], uow, ctx)
    (request,) = sent(uow).of_kind("self_care")
    kinds = {resource["kind"] for resource in request["resources"]}
    # Guides and the assistance programme; no crisis lines (a low reading is not a crisis);
    # the general ones, as this service does not know where the person is.
    assert kinds == {"self_care", "employee_assistance"}
    assert all(not resource.get("countries") for resource in request["resources"])


async def test_a_case_records_its_rules_version_and_explains_each_rule_with_its_evidence(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", mood=3, who5=[2, 2, 2, 2, 2])], uow, ctx)
    (case_id,) = uow.tables.cases
    explanation = await uow.evidence.explain(case_id)
    assert explanation is not None
    assert (explanation.case_id, explanation.rules_version) == (case_id, ctx.rules.version)
    (fired,) = explanation.rules
    assert (fired.rule, fired.severity.value, fired.rules_versions) == (
        "poor_wellbeing",
        "medium",
        (ctx.rules.version,),
    )
    assert fired.reason == "Questionnaire scores suggest poor wellbeing."
    assert [(t.setting, t.condition) for t in fired.thresholds] == [
        ("who5_poor_below", "who5_raw < 13")
    ]
    (observed,) = fired.observations
    assert (observed.checkin_id, observed.at, observed.scores) == ("c-1", NOW, {"who5_raw": 10})

    # New evidence accumulates: another rule, a higher severity, more observations.
    later = clock.advance(days=1)
    await handle_checkins([checkin("c-2", at=later, mood=3, who5=[1, 1, 1, 1, 1])], uow, ctx)
    await handle_checkins([checkin("c-3", at=clock.advance(days=1), wants_contact=True)], uow, ctx)
    explanation = await uow.evidence.explain(case_id)
    assert explanation is not None
    assert [r.rule for r in explanation.rules] == ["poor_wellbeing", "self_referral"]
    poor = explanation.rules[0]
    assert poor.severity.value == "high"
    assert [(o.checkin_id, o.scores) for o in poor.observations] == [
        ("c-1", {"who5_raw": 10}),
        ("c-2", {"who5_raw": 5}),
    ]
    assert [t.setting for t in poor.thresholds] == ["who5_poor_below", "who5_high_at_or_below"]
    assert (poor.first_fired_at, poor.last_fired_at) == (NOW, later)
    assert await uow.evidence.explain("no-such-case") is None


async def test_case_events_carry_the_rules_version_and_the_rules_that_fired(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", wants_contact=True, mood=3)], uow, ctx)
    later = clock.advance(minutes=5)
    # Item 9 positive and a total of 11: immediate risk and poor wellbeing at once.
    await handle_checkins([checkin("c-2", at=later, phq9=[1, 1, 1, 1, 1, 1, 1, 1, 3])], uow, ctx)
    out = sent(uow).transitions
    assert [(t["kind"], t["rules_version"], t.get("evidence_rules")) for t in out] == [
        ("opened", ctx.rules.version, ["self_referral"]),
        ("assigned", ctx.rules.version, None),
        ("evidence_added", ctx.rules.version, ["immediate_risk", "poor_wellbeing"]),
        ("assigned", ctx.rules.version, None),  # the rise to critical pages the responder again
    ]
    # Scores and thresholds stay in the service: events carry rule names only.
    assert all("thresholds" not in t and "scores" not in t for t in out)


async def test_a_whole_history_in_one_batch_keeps_the_withdrawal_watch(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    # The case: the earlier check-ins of a backfill queued cancellations that deleted
    # the watch the newest one had just set.
    moods = [4, 4, 4, 2, 2]
    history = [
        checkin(f"c-{i}", "w-5", NOW + timedelta(days=i), mood=m) for i, m in enumerate(moods)
    ]
    await handle_checkins(history, uow, ctx)
    watch = uow.timer(missed_checkins_id(subject("w-5")))
    assert watch is not None
    assert watch.timer.payload["last_checkin"] == "c-4"
    # A daily habit: silence for twice the usual interval after the newest check-in.
    assert watch.timer.due_at == NOW + timedelta(days=4 + 2)


async def test_a_late_checkin_older_than_the_newest_neither_moves_nor_drops_the_watch_wrongly(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins(
        [checkin(f"c-{i}", "w-6", NOW + timedelta(days=i), mood=2) for i in range(3)], uow, ctx
    )
    # A good check-in from before the low trend arrives late: the trend still stands.
    await handle_checkins([checkin("c-old", "w-6", NOW - timedelta(days=1), mood=5)], uow, ctx)
    watch = uow.timer(missed_checkins_id(subject("w-6")))
    assert watch is not None and watch.timer.payload["last_checkin"] == "c-2"


async def test_detection_takes_each_subjects_lock_before_it_reads_what_was_observed(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins(
        [checkin("c-1", "w-8", NOW, mood=2), checkin("c-2", "w-7", NOW, mood=2)], uow, ctx
    )
    await handle_checkins([checkin("c-1", "w-8", NOW, mood=2)], uow, ctx)  # nothing new
    clock.advance(days=30)
    await missed_checkins_due(subject("w-8"), "team-x", "c-1", uow, ctx)
    assert uow.serialised == [
        sorted([subject("w-8"), subject("w-7")]),
        [subject("w-8")],
    ]


async def test_the_alert_and_crisis_resources_take_the_urgent_outbox_lane_and_others_do_not(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", phq9=CRITICAL_PHQ9)], uow, ctx)
    await handle_checkins([checkin("c-2", "worker-2", wants_contact=True, mood=3)], uow, ctx)

    requests = [m for m in uow.tables.outbox if m.topic == REQUESTS]
    lanes = {}
    for message in requests:
        body = json.loads(message.value or b"{}")
        lanes[body["kind"], body["critical"]] = message.urgent
        # Urgent or critical requests are published before any backlog, the rest in order.
        assert message.urgent == (body["urgent"] or body["critical"])
    assert lanes[("alert", True)] and lanes[("crisis_resources", True)]
    assert not any(m.urgent for m in uow.tables.outbox if m.topic == CASES)

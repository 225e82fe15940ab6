"""Which policy a case follows and whom its steps alert (``handlers.configuration``,
``handlers.alerts``, ``handlers.detection``): per team and per severity, the default, a
rise in severity, schedule and people targets, notify-all and round robin, erasure of a
person a policy names, and the coordinators' checks on saving."""

from datetime import timedelta
from typing import Any

import pytest

from kinship_contracts.cases import Severity
from kinship_contracts.privacy import ErasureRequested
from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    EscalationPolicy,
    OnCallRotation,
    PeopleTarget,
    ScheduleTarget,
)
from kinship_escalation.domain.schedules import PolicyConflictError, schedule_from_rotation
from kinship_escalation.handlers import configuration
from kinship_escalation.handlers.cases import acknowledge
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_people
from kinship_escalation.handlers.timers import fire_due_timers
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    NOW,
    Clock,
    checkin,
    person,
    sent,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

TEAM_HIGH = {
    "name": "team-x-high",
    "team_id": "team-x",
    "severity": "high",
    "steps": [{"targets": [{"kind": "schedule", "schedule": "team-x-day"}], "timeout_seconds": 60}],
}


def stored_policy(body: dict[str, Any]) -> EscalationPolicy:
    return EscalationPolicy.model_validate(body)


@pytest.fixture
async def team_x(uow: FakeEscalationUnitOfWork) -> None:
    """Team X's own schedule (resp-b on call from yesterday on) and its high-severity policy;
    worker-2 is in team Y."""
    day = schedule_from_rotation("team-x-day", ["resp-b"], 24, NOW - timedelta(days=1))
    await uow.on_call.save_schedule(day)
    await uow.directory.apply([person("worker-2", "team-y")])
    await configuration.save_policy(stored_policy(TEAM_HIGH), uow, "coord-1", NOW)


def only_case(uow: FakeEscalationUnitOfWork) -> Any:
    (stored,) = uow.tables.cases.values()
    return stored


# ---- routing ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("team_x")
async def test_a_high_case_in_the_team_goes_to_the_teams_schedule(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    stored = only_case(uow)
    assert (stored.case.team_id, stored.case.severity) == ("team-x", Severity.HIGH)
    assert stored.policy.name == "team-x-high"
    # The least loaded responder would be resp-a: the schedule has resp-b on call.
    assert sent(uow).alerted() == [("resp-b", 1)]
    assert stored.case.responder_id == "resp-b"


@pytest.mark.usefixtures("team_x")
async def test_another_team_at_the_same_severity_follows_the_default(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", "worker-2", team="team-y", wants_contact=True)], uow, ctx)
    stored = only_case(uow)
    assert stored.case.severity is Severity.HIGH
    assert stored.policy == ctx.default_policy
    assert sent(uow).alerted() == [("resp-a", 1)]  # the spec's default: a balanced responder


@pytest.mark.usefixtures("team_x")
async def test_the_team_at_another_severity_follows_the_stored_default(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    default = stored_policy({"steps": [{"target": "coordinators", "timeout_seconds": 30}]})
    await configuration.save_default_policy(default, uow)
    await handle_checkins([checkin("c-1", "worker-1", phq9=CRITICAL_PHQ9)], uow, ctx)
    stored = only_case(uow)
    assert (stored.case.severity, stored.policy.name) == (Severity.CRITICAL, "default")
    assert sent(uow).alerted() == [("coord-1", 1)]


async def test_a_severity_policy_applies_to_every_team_and_a_team_policy_to_every_severity(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    critical = {
        "name": "critical",
        "severity": "critical",
        "steps": [{"target": "person:coord-1", "timeout_seconds": 60}],
    }
    team = {
        "name": "team-y",
        "team_id": "team-y",
        "steps": [{"target": "person:resp-b", "timeout_seconds": 60}],
    }
    await uow.directory.apply([person("worker-2", "team-y")])
    for body in (critical, team):
        await configuration.save_policy(stored_policy(body), uow)
    await handle_checkins([checkin("c-1", "worker-1", phq9=CRITICAL_PHQ9)], uow, ctx)
    await handle_checkins([checkin("c-2", "worker-2", team="team-y", phq9=CRITICAL_PHQ9)], uow, ctx)
    chosen = sorted((s.case.team_id, s.policy.name) for s in uow.tables.cases.values())
    assert chosen == [("team-x", "critical"), ("team-y", "team-y")]  # team beats severity
    assert sorted(sent(uow).alerted()) == [("coord-1", 1), ("resp-b", 1)]


async def test_an_old_rotation_target_routes_to_the_rotations_member_on_call(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    rotation = OnCallRotation(
        name="night",
        members=["resp-a", "resp-b"],
        shift_hours=24,
        starts_at=NOW - timedelta(days=1),
    )
    await uow.on_call.save_rotation(rotation)
    old = stored_policy({"steps": [{"target": "rotation:night", "timeout_seconds": 60}]})
    await configuration.save_default_policy(old, uow)
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    assert sent(uow).alerted() == [("resp-b", 1)]  # day 2 of the rotation


async def test_a_resting_person_on_call_is_covered_by_the_next_of_their_layer(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    day = schedule_from_rotation("day", ["resp-b", "resp-a"], 24, NOW - timedelta(hours=1))
    await uow.on_call.save_schedule(day)
    await configuration.save_default_policy(
        stored_policy({"steps": [{"target": "rotation:day", "timeout_seconds": 60}]}), uow
    )
    await uow.workload.rest("resp-b", NOW + timedelta(hours=4))
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    assert sent(uow).alerted() == [("resp-a", 1)]


async def test_notify_all_alerts_everyone_named_and_assigns_nobody(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    everyone = {
        "steps": [
            {
                "targets": [{"kind": "people", "people": ["resp-a", "resp-b"]}, "coordinators"],
                "timeout_seconds": 60,
            }
        ]
    }
    await configuration.save_default_policy(stored_policy(everyone), uow)
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-b", 1), ("coord-1", 1)]
    assert only_case(uow).case.responder_id is None


async def test_round_robin_alerts_one_person_per_alert_the_next_on_each_repeat(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    turns = {
        "steps": [
            {
                "targets": [{"kind": "people", "people": ["resp-b", "resp-a"]}, "coordinators"],
                "notify": "round_robin",
                "timeout_seconds": 60,
                "repeat": 4,
            }
        ]
    }
    await configuration.save_default_policy(stored_policy(turns), uow)
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    for _ in range(3):
        clock.advance(seconds=60)
        await fire_due_timers(uow, ctx, 10)
    assert sent(uow).alerted() == [("resp-b", 1), ("resp-a", 1), ("coord-1", 1), ("resp-b", 1)]
    assert only_case(uow).case.attempt == 4
    assert only_case(uow).case.responder_id == "resp-b"


async def test_a_round_robin_never_alerts_the_person_the_case_is_about(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    turns = {
        "steps": [
            {
                "targets": [{"kind": "people", "people": ["resp-a", "resp-b"]}],
                "notify": "round_robin",
                "timeout_seconds": 60,
                "repeat": 2,
            }
        ]
    }
    await configuration.save_default_policy(stored_policy(turns), uow)
    await handle_checkins([checkin("c-1", "resp-a", team="team-r", wants_contact=True)], uow, ctx)
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 10)
    assert sent(uow).alerted() == [("resp-b", 1), ("resp-b", 1)]


# ---- a rise in severity ----------------------------------------------------------------------

TEAM_CRITICAL = {
    "name": "team-x-critical",
    "team_id": "team-x",
    "severity": "critical",
    "steps": [{"targets": [{"kind": "people", "people": ["coord-1"]}], "timeout_seconds": 60}],
}


async def test_a_case_nobody_took_moves_to_the_policy_of_its_new_severity(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await configuration.save_policy(stored_policy(TEAM_CRITICAL), uow)
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    assert only_case(uow).policy.name == "default"  # high: no team policy
    clock.advance(seconds=30)
    await handle_checkins([checkin("c-2", "worker-1", at=clock.now, phq9=CRITICAL_PHQ9)], uow, ctx)
    stored = only_case(uow)
    assert (stored.case.severity, stored.policy.name) == (Severity.CRITICAL, "team-x-critical")
    assert (stored.case.step, stored.case.attempt, stored.case.responder_id) == (1, 1, "coord-1")
    # The first step of the new policy is the page the rise calls for: no other.
    assert sent(uow).alerted() == [("resp-a", 1), ("coord-1", 1)]
    (switched,) = [r for r in uow.tables.audit if r.action == "policy_switched"]
    assert switched.case_ids == (stored.case.id,)
    # The old step's timer does nothing any more; the new one moves the new policy on.
    clock.advance(seconds=60)
    await fire_due_timers(uow, ctx, 10)
    assert only_case(uow).case.step == 2
    assert sent(uow).alerted()[-1] == ("coord-1", 2)  # its coordinators step


async def test_a_case_someone_holds_keeps_its_policy_when_its_severity_rises(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await configuration.save_policy(stored_policy(TEAM_CRITICAL), uow)
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    case_id = only_case(uow).case.id
    await acknowledge(case_id, "resp-a", uow, ctx)
    clock.advance(seconds=30)
    await handle_checkins([checkin("c-2", "worker-1", at=clock.now, phq9=CRITICAL_PHQ9)], uow, ctx)
    stored = only_case(uow)
    assert (stored.case.severity, stored.policy.name) == (Severity.CRITICAL, "default")
    assert stored.case.responder_id == "resp-a"
    assert not [r for r in uow.tables.audit if r.action == "policy_switched"]
    assert "paged_critical" in {r.action for r in uow.tables.audit}  # the holder is paged


async def test_a_rise_that_chooses_the_same_policy_changes_nothing(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, clock: Clock
) -> None:
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    clock.advance(seconds=30)
    await handle_checkins([checkin("c-2", "worker-1", at=clock.now, phq9=CRITICAL_PHQ9)], uow, ctx)
    stored = only_case(uow)
    assert stored.policy.name == "default"
    assert not [r for r in uow.tables.audit if r.action == "policy_switched"]
    assert sent(uow).alerted() == [("resp-a", 1), ("resp-a", 1)]  # paged again at once


# ---- erasure ---------------------------------------------------------------------------------


async def test_an_erased_person_leaves_the_policies_and_case_copies_that_name_them(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    named = {
        "steps": [
            {
                "targets": [{"kind": "people", "people": ["resp-a", "resp-b"]}],
                "timeout_seconds": 60,
            },
            {"target": "person:resp-a", "timeout_seconds": 60},
        ]
    }
    await configuration.save_default_policy(stored_policy(named), uow)
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)

    request = ErasureRequested(id="e-1", person_id="resp-a", requested_at=NOW, source="hr")
    await erase_people([request], uow, ctx)

    expected = [
        (PeopleTarget(people=("resp-b",)),),
        (CoordinatorsTarget(),),  # left with nobody: the coordinators
        (CoordinatorsTarget(),),
    ]
    saved = await uow.on_call.policy()
    assert saved is not None and [s.targets for s in saved.steps] == expected
    assert [s.targets for s in only_case(uow).policy.steps] == expected
    assert "resp-a" not in repr(uow.tables.policies)


# ---- the coordinators' checks ----------------------------------------------------------------


async def test_a_policy_naming_an_unknown_schedule_or_person_is_refused_field_by_field(
    uow: FakeEscalationUnitOfWork,
) -> None:
    body = {
        "name": "team-x",
        "team_id": "team-x",
        "steps": [
            {"targets": [{"kind": "schedule", "schedule": "nowhere"}], "timeout_seconds": 60},
            {
                "targets": [{"kind": "people", "people": ["resp-a", "ghost"]}],
                "timeout_seconds": 60,
            },
        ],
    }
    with pytest.raises(configuration.PolicyRefusedError) as refused:
        await configuration.save_policy(stored_policy(body), uow, "coord-1")
    assert [e["loc"] for e in refused.value.errors] == [
        ["body", "steps", 0, "targets", 0, "schedule"],
        ["body", "steps", 1, "targets", 0, "people", 1],
    ]
    assert "ghost" not in str(refused.value)
    assert await uow.on_call.policies() == []
    assert not [r for r in uow.tables.audit if r.action == "policy_changed"]


@pytest.mark.usefixtures("team_x")
async def test_two_policies_for_one_team_and_severity_conflict_naming_the_other(
    uow: FakeEscalationUnitOfWork,
) -> None:
    again = stored_policy({**TEAM_HIGH, "name": "team-x-urgent"})
    with pytest.raises(PolicyConflictError, match="team-x-high") as clash:
        await configuration.save_policy(again, uow, "coord-1")
    assert clash.value.names == ["team-x-high", "team-x-urgent"]
    # Saving the same policy again replaces it.
    await configuration.save_policy(stored_policy(TEAM_HIGH), uow, "coord-1")
    assert [p.name for p in await uow.on_call.policies()] == ["team-x-high"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "default", "team_id": "team-x"}, "team_id"),
        ({"name": "default", "severity": "high"}, "severity"),
        ({"name": "everyone"}, "team_id"),
    ],
)
async def test_the_default_names_no_scope_and_every_other_policy_names_one(
    uow: FakeEscalationUnitOfWork, body: dict[str, Any], field: str
) -> None:
    steps = [{"target": "coordinators", "timeout_seconds": 60}]
    with pytest.raises(configuration.PolicyRefusedError) as refused:
        await configuration.save_policy(stored_policy({**body, "steps": steps}), uow)
    assert [e["loc"] for e in refused.value.errors] == [["body", field]]


@pytest.mark.usefixtures("team_x")
async def test_deleting_a_policy_is_audited_and_deleting_the_default_brings_back_the_specs(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    own = stored_policy({"steps": [{"target": "coordinators", "timeout_seconds": 30}]})
    await configuration.save_default_policy(own, uow, "coord-1", NOW)
    assert await configuration.policy_in_force(uow, ctx) == own
    listed = await configuration.policies(uow, ctx)
    assert [p.name for p in listed] == ["default", "team-x-high"]

    await configuration.delete_policy("default", uow, "coord-1", NOW)
    await configuration.delete_policy("team-x-high", uow, "coord-1", NOW)
    assert await configuration.policy_in_force(uow, ctx) == ctx.default_policy
    assert await configuration.policies(uow, ctx) == [ctx.default_policy]
    with pytest.raises(configuration.PolicyNotFoundError):
        await configuration.delete_policy("team-x-high", uow, "coord-1", NOW)
    with pytest.raises(configuration.PolicyNotFoundError):
        await configuration.policy_named("team-x-high", uow, ctx)
    audit = [(r.action, r.actor) for r in uow.tables.audit if r.action.startswith("policy")]
    assert audit == [
        ("policy_changed", "person:coord-1"),  # team_x's policy
        ("policy_changed", "person:coord-1"),
        ("policy_deleted", "person:coord-1"),
        ("policy_deleted", "person:coord-1"),
    ]


@pytest.mark.usefixtures("team_x")
async def test_a_case_keeps_its_copy_when_its_policy_changes_or_goes(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    before = only_case(uow).policy
    changed = {**TEAM_HIGH, "steps": [{"target": "coordinators", "timeout_seconds": 5}]}
    await configuration.save_policy(stored_policy(changed), uow)
    assert only_case(uow).policy == before
    await configuration.delete_policy("team-x-high", uow)
    assert only_case(uow).policy == before
    assert before.steps[0].targets == (ScheduleTarget(schedule="team-x-day"),)


async def test_an_away_person_on_call_is_covered_by_the_next_of_their_layer(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    day = schedule_from_rotation("day", ["resp-b", "resp-a"], 24, NOW - timedelta(hours=1))
    await uow.on_call.save_schedule(day)
    await configuration.save_default_policy(
        stored_policy({"steps": [{"target": "rotation:day", "timeout_seconds": 60}]}), uow
    )
    await uow.workload.set_away("resp-b", NOW + timedelta(hours=4))
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    assert sent(uow).alerted() == [("resp-a", 1)]


@pytest.mark.parametrize("away", ["resp-a", "resp-b"])
async def test_the_balanced_choice_skips_an_away_responder(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext, away: str
) -> None:
    await uow.workload.set_away(away, NOW + timedelta(hours=4))
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    (alerted, _), *_ = sent(uow).alerted()
    assert alerted == ({"resp-a", "resp-b"} - {away}).pop()


async def test_an_away_that_has_ended_no_longer_skips(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    day = schedule_from_rotation("day", ["resp-b", "resp-a"], 24, NOW - timedelta(hours=1))
    await uow.on_call.save_schedule(day)
    await configuration.save_default_policy(
        stored_policy({"steps": [{"target": "rotation:day", "timeout_seconds": 60}]}), uow
    )
    await uow.workload.set_away("resp-b", NOW - timedelta(minutes=1))
    await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    assert sent(uow).alerted() == [("resp-b", 1)]

"""Escalation policies per team and severity: targets, the coordinators' last step, choice, steps."""

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import Severity
from kinship_escalation.domain.schedules import (
    CoordinatorsTarget,
    EscalationPolicy,
    EscalationStep,
    Exhausted,
    NotifyMode,
    PeopleTarget,
    PolicyConflictError,
    RespondersTarget,
    ScheduleTarget,
    StepAttempt,
    check_policies,
    choose_policy,
    default_policy,
    next_step,
    parse_target,
    pick_recipients,
)


def policy(
    name: str, team_id: str | None = None, severity: Severity | None = None
) -> EscalationPolicy:
    return EscalationPolicy(
        name=name,
        team_id=team_id,
        severity=severity,
        steps=(
            EscalationStep(targets=(ScheduleTarget(schedule=f"{name}-rota"),), timeout_seconds=60),
        ),
    )


# ---- targets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("responders", RespondersTarget()),
        ("coordinators", CoordinatorsTarget()),
        ("rotation:night-shift", ScheduleTarget(schedule="night-shift")),
        ("person:p-42", PeopleTarget(people=("p-42",))),
    ],
)
def test_old_string_targets_parse_to_typed_targets(text: str, target: object) -> None:
    assert parse_target(text) == target


def test_unknown_string_target_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="'responders', 'coordinators'"):
        parse_target("everyone")


def test_a_stored_policy_in_the_old_form_still_loads() -> None:
    stored = {
        "name": "default",
        "steps": [
            {"target": "rotation:night", "timeout_seconds": 300, "repeat": 2},
            {"target": "person:p-1", "timeout_seconds": 300},
            {"target": "coordinators", "timeout_seconds": 300},
        ],
        "contact_timeout_seconds": 3600,
    }
    loaded = EscalationPolicy.model_validate(stored)
    assert [step.targets for step in loaded.steps] == [
        (ScheduleTarget(schedule="night"),),
        (PeopleTarget(people=("p-1",)),),
        (CoordinatorsTarget(),),
    ]
    assert loaded.steps[0].repeat == 2
    assert EscalationPolicy.model_validate_json(loaded.model_dump_json()) == loaded


def test_targets_are_a_tagged_union_in_json() -> None:
    step = EscalationStep.model_validate(
        {
            "targets": [
                {"kind": "schedule", "schedule": "day"},
                {"kind": "people", "people": ["a"]},
            ],
            "notify": "round_robin",
            "timeout_seconds": 120,
        }
    )
    assert step.targets == (ScheduleTarget(schedule="day"), PeopleTarget(people=("a",)))
    with pytest.raises(ValidationError, match="kind"):
        EscalationStep.model_validate({"targets": [{"schedule": "day"}], "timeout_seconds": 60})


@pytest.mark.parametrize(
    "step",
    [
        {"targets": [], "timeout_seconds": 60},
        {"targets": ["coordinators"], "timeout_seconds": 0},
        {"targets": ["coordinators"], "timeout_seconds": 60, "repeat": 6},
        {"targets": [{"kind": "people", "people": ["a", "a"]}], "timeout_seconds": 60},
        {"targets": [{"kind": "people", "people": []}], "timeout_seconds": 60},
        {"targets": ["coordinators"], "timeout_seconds": 60, "notify": "loudly"},
    ],
)
def test_invalid_steps_are_refused(step: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EscalationStep.model_validate(step)


# ---- nobody is left at the end ---------------------------------------------------------------


def test_a_policy_not_ending_with_coordinators_gets_them_appended() -> None:
    loaded = policy("support")
    assert len(loaded.steps) == 2
    assert loaded.steps[-1].targets == (CoordinatorsTarget(),)
    assert loaded.steps[-1].timeout_seconds == loaded.steps[0].timeout_seconds
    assert EscalationPolicy.model_validate(loaded.model_dump()) == loaded  # not appended twice


def test_a_policy_whose_last_step_reaches_coordinators_is_kept_as_given() -> None:
    last = EscalationStep(
        targets=(ScheduleTarget(schedule="day"), CoordinatorsTarget()), timeout_seconds=90
    )
    assert EscalationPolicy(steps=(last,)).steps == (last,)


def test_a_policy_has_at_most_ten_steps_besides_the_coordinators_step() -> None:
    step = EscalationStep(targets=(RespondersTarget(),), timeout_seconds=60)
    last = EscalationStep(targets=(CoordinatorsTarget(),), timeout_seconds=60)
    assert len(EscalationPolicy(steps=(step,) * 10).steps) == 11
    assert len(EscalationPolicy(steps=(*(step,) * 10, last)).steps) == 11
    with pytest.raises(ValidationError, match="at most 10 steps"):
        EscalationPolicy(steps=(step,) * 11)
    with pytest.raises(ValidationError, match="at most 10 steps"):
        EscalationPolicy(steps=(*(step,) * 11, last))


def test_the_default_policy_is_responder_backup_coordinators() -> None:
    default = default_policy(300, 3600)
    assert [step.targets for step in default.steps] == [
        (RespondersTarget(),),
        (RespondersTarget(),),
        (CoordinatorsTarget(),),
    ]


# ---- choosing a policy -----------------------------------------------------------------------


POLICIES = [
    policy("default"),
    policy("critical", severity=Severity.CRITICAL),
    policy("team-a", team_id="a"),
    policy("team-a-high", team_id="a", severity=Severity.HIGH),
]


@pytest.mark.parametrize(
    ("team_id", "severity", "chosen"),
    [
        ("a", Severity.HIGH, "team-a-high"),
        ("a", Severity.CRITICAL, "team-a"),
        ("a", Severity.MEDIUM, "team-a"),
        ("b", Severity.CRITICAL, "critical"),
        ("b", Severity.HIGH, "default"),
        (None, Severity.CRITICAL, "critical"),
        (None, Severity.MEDIUM, "default"),
    ],
)
def test_the_most_specific_policy_wins(
    team_id: str | None, severity: Severity, chosen: str
) -> None:
    found = choose_policy(POLICIES, team_id=team_id, severity=severity)
    assert found is not None and found.name == chosen


def test_no_applicable_policy_gives_none() -> None:
    assert choose_policy(POLICIES[1:2], team_id="b", severity=Severity.MEDIUM) is None


def test_two_policies_for_the_same_scope_conflict() -> None:
    clash = [*POLICIES, policy("team-a-too", team_id="a")]
    with pytest.raises(PolicyConflictError, match=r"\['team-a', 'team-a-too'\]"):
        check_policies(clash)
    with pytest.raises(PolicyConflictError):
        choose_policy(clash, team_id="a", severity=Severity.MEDIUM)
    check_policies(POLICIES)


def test_policy_names_are_distinct_in_a_set() -> None:
    with pytest.raises(ValueError, match="called 'default'"):
        check_policies([policy("default"), policy("default", team_id="x")])


# ---- progression -----------------------------------------------------------------------------


def test_next_step_repeats_then_moves_on_then_is_exhausted() -> None:
    steps = (
        EscalationStep(targets=(RespondersTarget(),), timeout_seconds=60, repeat=2),
        EscalationStep(targets=(CoordinatorsTarget(),), timeout_seconds=60),
    )
    chain = EscalationPolicy(steps=steps)
    assert next_step(chain, 1, 1) == StepAttempt(1, 2)
    assert next_step(chain, 1, 2) == StepAttempt(2, 1)
    assert next_step(chain, 2, 1) == Exhausted(last_step=2)
    assert next_step(chain, 1, 1) == (1, 2)  # a plain (step, attempt) tuple


@pytest.mark.parametrize(("step", "attempt"), [(0, 1), (3, 1), (1, 3), (2, 0)])
def test_next_step_refuses_a_position_outside_the_policy(step: int, attempt: int) -> None:
    chain = EscalationPolicy(
        steps=(EscalationStep(targets=(CoordinatorsTarget(),), timeout_seconds=1, repeat=2),) * 2
    )
    with pytest.raises(ValueError, match="outside"):
        next_step(chain, step, attempt)


def test_notify_all_alerts_everyone_once_and_round_robin_one_in_turn() -> None:
    everyone = EscalationStep(targets=(CoordinatorsTarget(),), timeout_seconds=60)
    one_by_one = everyone.model_copy(update={"notify": NotifyMode.ROUND_ROBIN})
    people = ["a", "b", "a", "c"]
    assert pick_recipients(everyone, people, turn=5) == ["a", "b", "c"]
    assert [pick_recipients(one_by_one, people, turn=t) for t in range(4)] == [
        ["a"],
        ["b"],
        ["c"],
        ["a"],
    ]
    assert pick_recipients(one_by_one, [], turn=0) == []

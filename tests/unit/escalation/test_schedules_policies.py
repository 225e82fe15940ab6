"""Escalation policies per team and severity: targets, the coordinators' last step, choice, steps."""

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import Severity
from kinship_escalation.domain import policies
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
from kinship_escalation.domain.schedules.escalation import NextAlert


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


def test_unknown_string_target_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="'responders', 'coordinators'"):
        parse_target("everyone")


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


# ---- the policy model: old forms, settings, progression -------------------------------------


def test_there_is_one_policy_model_whichever_path_imports_it() -> None:
    assert EscalationPolicy is policies.EscalationPolicy
    assert EscalationStep is policies.EscalationStep
    assert default_policy is policies.default_policy


def test_default_policy_is_responder_backup_then_coordinators() -> None:
    policy = default_policy(300, 3600)
    assert [(s.targets, s.timeout_seconds) for s in policy.steps] == [
        ((RespondersTarget(),), 300),
        ((RespondersTarget(),), 300),
        ((CoordinatorsTarget(),), 300),
    ]
    assert [step["targets"] for step in policy.model_dump(mode="json")["steps"]] == [
        [{"kind": "responders"}],
        [{"kind": "responders"}],
        [{"kind": "coordinators"}],
    ]


def test_policy_steps_repeat_at_most_five_times_and_targets_are_checked() -> None:
    with pytest.raises(ValidationError):
        EscalationStep.model_validate({"target": "responders", "timeout_seconds": 60, "repeat": 6})
    with pytest.raises(ValidationError):
        EscalationStep.model_validate({"target": "everyone", "timeout_seconds": 60})
    with pytest.raises(ValidationError):
        EscalationPolicy(steps=())


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("responders", RespondersTarget()),
        ("coordinators", CoordinatorsTarget()),
        ("rotation:night-shift", ScheduleTarget(schedule="night-shift")),
        ("person:resp-a", PeopleTarget(people=("resp-a",))),
        ("person:a:b", PeopleTarget(people=("a:b",))),
    ],
)
def test_old_text_targets_are_read_and_written_back_as_objects(text: str, target: object) -> None:
    step = EscalationStep.model_validate({"target": text, "timeout_seconds": 60})
    assert step.targets == (target,)
    assert "target" not in step.model_dump()
    assert EscalationStep.model_validate_json(step.model_dump_json()) == step


@pytest.mark.parametrize(
    "target",
    [
        "everyone",
        "responders:x",
        "rotation:",
        "rotation:Night",
        "person:",
        "person:has space",
        {"kind": "team", "name": "x"},
        {"kind": "schedule"},
    ],
)
def test_malformed_targets_are_refused(target: object) -> None:
    with pytest.raises(ValidationError):
        EscalationStep.model_validate({"target": target, "timeout_seconds": 60})
    with pytest.raises(ValidationError):
        EscalationStep.model_validate({"targets": [target], "timeout_seconds": 60})


def test_a_stored_policy_in_the_text_form_loads_with_the_settings_it_had() -> None:
    stored = (
        '{"name":"default","steps":[{"target":"rotation:weekday","timeout_seconds":300,'
        '"repeat":2},{"target":"person:coord-1","timeout_seconds":600,"repeat":1}],'
        '"contact_timeout_seconds":1800,"urgent_from":"critical",'
        '"unanswered_interval_seconds":120}'
    )
    policy = EscalationPolicy.model_validate_json(stored)
    assert [(step.targets, step.repeat) for step in policy.steps] == [
        ((ScheduleTarget(schedule="weekday"),), 2),
        ((PeopleTarget(people=("coord-1",)),), 1),
        ((CoordinatorsTarget(),), 1),  # nobody is left at the end
    ]
    assert (policy.team_id, policy.severity) == (None, None)
    assert policy.contact_timeout_seconds == 1800
    assert (policy.urgent_from, policy.unanswered_interval_seconds) == (Severity.CRITICAL, 120)
    assert EscalationPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_a_policy_stored_before_urgency_and_reminders_were_settings_gets_the_defaults() -> None:
    policy = EscalationPolicy.model_validate(
        {"steps": [{"target": "coordinators", "timeout_seconds": 60}]}
    )
    assert (policy.urgent_from, policy.unanswered_interval_seconds) == (Severity.HIGH, 900)


def test_an_old_policy_of_ten_steps_still_loads_with_its_coordinators_step() -> None:
    steps = [{"target": "responders", "timeout_seconds": 60}] * 10
    policy = EscalationPolicy.model_validate({"steps": steps})
    assert len(policy.steps) == 11 and policy.steps[-1].targets == (CoordinatorsTarget(),)
    assert EscalationPolicy.model_validate(policy.model_dump()) == policy


def test_high_severity_alerts_are_urgent_unless_the_policy_keeps_urgency_for_critical() -> None:
    assert THREE_STEPS.urgent(Severity.HIGH) and THREE_STEPS.urgent(Severity.CRITICAL)
    assert not THREE_STEPS.urgent(Severity.MEDIUM)
    critical_only = THREE_STEPS.model_copy(update={"urgent_from": Severity.CRITICAL})
    assert not critical_only.urgent(Severity.HIGH)
    assert critical_only.urgent(Severity.CRITICAL)
    with pytest.raises(ValidationError):
        EscalationPolicy.model_validate(
            {"steps": [{"target": "responders", "timeout_seconds": 1}], "urgent_from": "medium"}
        )


THREE_STEPS = EscalationPolicy.model_validate(
    {
        "steps": [
            {"target": "responders", "timeout_seconds": 60, "repeat": 2},
            {"target": "responders", "timeout_seconds": 60},
            {"target": "coordinators", "timeout_seconds": 60},
        ]
    }
)


def test_a_step_repeats_before_the_next_step_is_alerted() -> None:
    assert THREE_STEPS.after_timeout(1, 1) == NextAlert(1, 2)
    assert THREE_STEPS.after_timeout(1, 2) == NextAlert(2, 1)
    assert THREE_STEPS.after_timeout(2, 1) == NextAlert(3, 1)


def test_an_attempt_beyond_the_repeats_moves_on() -> None:
    # A rise to critical alerts the step once more than its repeats.
    assert THREE_STEPS.after_timeout(2, 2) == NextAlert(3, 1)
    assert THREE_STEPS.after_timeout(4, 1) == NextAlert(3, 1, unanswered=True)


def test_the_last_step_repeats_per_its_policy_then_the_case_is_unanswered() -> None:
    assert THREE_STEPS.after_timeout(3, 1) == NextAlert(3, 1, unanswered=True)
    one_step = EscalationPolicy.model_validate(
        {"steps": [{"target": "coordinators", "timeout_seconds": 60, "repeat": 3}]}
    )
    assert one_step.after_timeout(1, 1) == NextAlert(1, 2)
    assert one_step.after_timeout(1, 2) == NextAlert(1, 3)
    assert one_step.after_timeout(1, 3) == NextAlert(1, 3, unanswered=True)


def test_a_failed_delivery_moves_on_except_from_the_last_step() -> None:
    assert THREE_STEPS.after_failed_delivery(1) == 2
    assert THREE_STEPS.after_failed_delivery(2) == 3
    assert THREE_STEPS.after_failed_delivery(3) is None


def test_steps_beyond_the_last_are_the_last() -> None:
    assert THREE_STEPS.bounded(5) == 3
    assert THREE_STEPS.step(4).targets == (CoordinatorsTarget(),)
    assert THREE_STEPS.is_last(3) and not THREE_STEPS.is_last(2)


def test_an_empty_step_moves_on_except_from_the_last() -> None:
    assert THREE_STEPS.after_empty_step(1) == 2
    assert THREE_STEPS.after_empty_step(2) == 3
    assert THREE_STEPS.after_empty_step(3) is None


def test_a_failed_responder_escalates_to_the_next_step_or_the_last_again() -> None:
    assert THREE_STEPS.escalated(1) == 2
    assert THREE_STEPS.escalated(3) == 3
    assert THREE_STEPS.escalated(7) == 3


def test_again_alerts_the_same_step_once_more_even_beyond_its_repeats() -> None:
    assert THREE_STEPS.again(1, 1) == NextAlert(1, 2)
    assert THREE_STEPS.again(2, 1) == NextAlert(2, 2)  # step 2 repeats once: one more
    again = THREE_STEPS.again(2, 1)
    assert THREE_STEPS.after_timeout(again.step, again.attempt) == NextAlert(3, 1)

"""Escalation policies (the old text form, progression, erasure), on-call rotations, the
choice of responder. Per-team and per-severity choice: ``test_schedules_policies``."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import Severity
from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    EscalationPolicy,
    EscalationStep,
    NextAlert,
    NotifyMode,
    OnCallRotation,
    PeopleTarget,
    Responder,
    ResponderLoad,
    RespondersTarget,
    ScheduleTarget,
    choose_responder,
    default_policy,
)
from kinship_escalation.domain.schedules import escalation

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def test_there_is_one_policy_model_whichever_path_imports_it() -> None:
    assert EscalationPolicy is escalation.EscalationPolicy
    assert EscalationStep is escalation.EscalationStep
    assert default_policy is escalation.default_policy


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


def test_rotation_puts_the_member_on_call_first() -> None:
    rotation = OnCallRotation(name="night", members=["a", "b", "c"], shift_hours=24, starts_at=NOW)
    assert rotation.order_at(NOW) == ["a", "b", "c"]
    assert rotation.order_at(NOW + timedelta(hours=25)) == ["b", "c", "a"]
    assert rotation.order_at(NOW + timedelta(days=3)) == ["a", "b", "c"]


def test_an_erased_member_leaves_the_rotation_and_an_empty_rotation_goes() -> None:
    rotation = OnCallRotation(name="night", members=["a", "b"], starts_at=NOW)
    assert rotation.without("c") is rotation
    without_a = rotation.without("a")
    assert without_a is not None and without_a.members == ["b"]
    assert without_a.without("b") is None


def test_an_erased_person_leaves_people_targets_and_an_empty_step_alerts_coordinators() -> None:
    policy = EscalationPolicy.model_validate(
        {
            "steps": [
                {"target": "person:ann", "timeout_seconds": 60, "repeat": 2},
                {
                    "targets": [
                        {"kind": "people", "people": ["ann", "bob"]},
                        {"kind": "schedule", "schedule": "night"},
                    ],
                    "notify": "round_robin",
                    "timeout_seconds": 120,
                },
                {"target": "responders", "timeout_seconds": 60},
            ]
        }
    )
    assert policy.without_person("cat") is policy
    changed = policy.without_person("ann")
    assert [step.targets for step in changed.steps] == [
        (CoordinatorsTarget(),),
        (PeopleTarget(people=("bob",)), ScheduleTarget(schedule="night")),
        (RespondersTarget(),),
        (CoordinatorsTarget(),),
    ]
    assert (changed.steps[0].timeout_seconds, changed.steps[0].repeat) == (60, 2)
    assert changed.steps[1].notify is NotifyMode.ROUND_ROBIN
    assert "ann" not in changed.model_dump_json()
    assert not changed.names("ann") and changed.names("bob")
    assert changed.without_person("bob").steps[1].targets == (ScheduleTarget(schedule="night"),)


RESPONDERS = [
    Responder("ann", "team-a"),
    Responder("bob", "team-b"),
    Responder("cat", "team-b"),
]


def choose(**overrides: object) -> str | None:
    arguments: dict[str, object] = {
        "team_id": "team-x",
        "load": {},
        "already_alerted": set(),
        "now": NOW,
    }
    arguments.update(overrides)
    chosen = choose_responder(RESPONDERS, **arguments)  # type: ignore[arg-type]
    return chosen.person_id if chosen else None


def test_teammate_avoided_when_another_responder_is_available() -> None:
    assert choose(team_id="team-a") == "bob"
    assert choose(team_id="team-b") == "ann"


def test_teammate_chosen_when_nobody_else_is_left() -> None:
    assert choose(team_id="team-b", already_alerted={"ann"}) == "bob"


def test_least_loaded_responder_first() -> None:
    load = {"ann": ResponderLoad(open_cases=2), "bob": ResponderLoad(open_cases=1)}
    assert choose(load=load) == "cat"


def test_rest_after_a_critical_case() -> None:
    load = {"ann": ResponderLoad(resting_until=NOW + timedelta(hours=1))}
    assert choose(load=load) == "bob"
    assert choose(load=load, now=NOW + timedelta(hours=2)) == "ann"


def test_nobody_left_to_alert() -> None:
    assert choose(already_alerted={"ann", "bob", "cat"}) is None


def test_away_is_skipped_like_rest_and_ends_by_itself() -> None:
    load = {"ann": ResponderLoad(away_until=NOW + timedelta(hours=1))}
    assert choose(load=load) == "bob"
    assert choose(load=load, now=NOW + timedelta(hours=2)) == "ann"


def test_unavailable_until_is_the_later_of_rest_and_away() -> None:
    early, late = NOW + timedelta(hours=1), NOW + timedelta(hours=5)
    assert ResponderLoad().unavailable_until is None
    assert ResponderLoad(resting_until=early, away_until=late).unavailable_until == late
    assert ResponderLoad(resting_until=late, away_until=early).unavailable_until == late
    assert ResponderLoad(away_until=early).unavailable_until == early

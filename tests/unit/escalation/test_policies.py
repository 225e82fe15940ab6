"""Escalation policies (targets, progression), on-call rotations, the choice of responder."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    EscalationPolicy,
    NextAlert,
    OnCallRotation,
    PersonTarget,
    PolicyStep,
    Responder,
    ResponderLoad,
    RespondersTarget,
    RotationTarget,
    choose_responder,
    default_policy,
)

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def test_default_policy_is_responder_backup_then_coordinators() -> None:
    policy = default_policy(300, 3600)
    assert [(s.target, s.timeout_seconds) for s in policy.steps] == [
        (RespondersTarget(), 300),
        (RespondersTarget(), 300),
        (CoordinatorsTarget(), 300),
    ]
    assert [step["target"] for step in policy.model_dump()["steps"]] == [
        "responders",
        "responders",
        "coordinators",
    ]


def test_policy_steps_repeat_at_most_five_times_and_targets_are_checked() -> None:
    with pytest.raises(ValidationError):
        PolicyStep(target="responders", timeout_seconds=60, repeat=6)
    with pytest.raises(ValidationError):
        PolicyStep(target="everyone", timeout_seconds=60)
    with pytest.raises(ValidationError):
        EscalationPolicy(steps=[])


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("responders", RespondersTarget()),
        ("coordinators", CoordinatorsTarget()),
        ("rotation:night-shift", RotationTarget(name="night-shift")),
        ("person:resp-a", PersonTarget(person_id="resp-a")),
        ("person:a:b", PersonTarget(person_id="a:b")),
    ],
)
def test_targets_are_read_from_their_text_form_and_written_back_as_text(
    text: str, target: object
) -> None:
    step = PolicyStep.model_validate({"target": text, "timeout_seconds": 60})
    assert step.target == target
    assert step.model_dump()["target"] == text
    assert PolicyStep.model_validate_json(step.model_dump_json()) == step


def test_targets_are_also_read_as_objects_with_a_kind() -> None:
    step = PolicyStep.model_validate(
        {"target": {"kind": "rotation", "name": "night"}, "timeout_seconds": 60}
    )
    assert step.target == RotationTarget(name="night")
    assert step.model_dump()["target"] == "rotation:night"


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
        {"kind": "rotation"},
    ],
)
def test_malformed_targets_are_refused(target: object) -> None:
    with pytest.raises(ValidationError):
        PolicyStep.model_validate({"target": target, "timeout_seconds": 60})


def test_a_stored_policy_in_the_text_form_reads_back_unchanged() -> None:
    stored = (
        '{"name":"default","steps":[{"target":"rotation:weekday","timeout_seconds":300,'
        '"repeat":2},{"target":"person:coord-1","timeout_seconds":600,"repeat":1}],'
        '"contact_timeout_seconds":3600}'
    )
    policy = EscalationPolicy.model_validate_json(stored)
    assert [step.target for step in policy.steps] == [
        RotationTarget(name="weekday"),
        PersonTarget(person_id="coord-1"),
    ]
    assert policy.model_dump_json() == stored


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


def test_after_the_last_step_the_last_step_starts_a_fresh_round() -> None:
    assert THREE_STEPS.after_timeout(3, 1) == NextAlert(3, 1, fresh_round=True)
    one_step = EscalationPolicy.model_validate(
        {"steps": [{"target": "coordinators", "timeout_seconds": 60, "repeat": 3}]}
    )
    assert one_step.after_timeout(1, 2) == NextAlert(1, 3)
    assert one_step.after_timeout(1, 3) == NextAlert(1, 1, fresh_round=True)


def test_a_failed_delivery_moves_on_except_from_the_last_step() -> None:
    assert THREE_STEPS.after_failed_delivery(1) == 2
    assert THREE_STEPS.after_failed_delivery(2) == 3
    assert THREE_STEPS.after_failed_delivery(3) is None


def test_steps_beyond_the_last_are_the_last() -> None:
    assert THREE_STEPS.bounded(5) == 3
    assert THREE_STEPS.step(4).target == CoordinatorsTarget()
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


def test_an_erased_persons_steps_alert_the_coordinators_in_their_place() -> None:
    policy = EscalationPolicy.model_validate(
        {
            "steps": [
                {"target": "person:ann", "timeout_seconds": 60, "repeat": 2},
                {"target": "person:bob", "timeout_seconds": 60},
                {"target": "responders", "timeout_seconds": 60},
            ]
        }
    )
    assert policy.without_person("cat") is policy
    changed = policy.without_person("ann")
    assert [str(step.target) for step in changed.steps] == [
        "coordinators",
        "person:bob",
        "responders",
    ]
    assert (changed.steps[0].timeout_seconds, changed.steps[0].repeat) == (60, 2)
    assert "ann" not in changed.model_dump_json()


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

"""On-call rotations and the choice of responder (``domain/policies``). The policy model
itself (targets, old forms, choice per team and severity, progression): ``test_schedules_policies``."""

from datetime import UTC, datetime, timedelta

from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    EscalationPolicy,
    NotifyMode,
    OnCallRotation,
    PeopleTarget,
    Responder,
    ResponderLoad,
    RespondersTarget,
    ScheduleTarget,
    choose_responder,
)

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


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

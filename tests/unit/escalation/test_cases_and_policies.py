"""The case lifecycle, escalation policies and the choice of responder."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import CaseEventKind, CaseOutcome, CaseStatus, Severity
from kinship_escalation.domain.cases import Case, CaseTransitionError
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    PolicyStep,
    Responder,
    ResponderLoad,
    choose_responder,
    default_policy,
)
from kinship_escalation.domain.rules import Evidence

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def medium(rule: str = "sustained_decline", obs: str = "c1") -> Evidence:
    return Evidence(rule, Severity.MEDIUM, (obs,))


def critical(obs: str = "c2") -> Evidence:
    return Evidence("immediate_risk", Severity.CRITICAL, (obs,))


def test_opening_publishes_opened_with_rules_and_severity() -> None:
    case, events = Case.open("k1", "s1", "team", [medium()], NOW)
    assert [e.kind for e in events] == [CaseEventKind.OPENED]
    assert (events[0].id, events[0].sequence, events[0].severity) == ("k1:1", 1, Severity.MEDIUM)
    assert case.rules == ["sustained_decline"]


def test_severity_only_rises() -> None:
    case, _ = Case.open("k1", "s1", None, [critical()], NOW)
    events = case.add_evidence([medium(obs="c9")], NOW)
    assert case.severity is Severity.CRITICAL
    assert [e.kind for e in events] == [CaseEventKind.EVIDENCE_ADDED]


def test_same_evidence_twice_changes_nothing() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    assert case.add_evidence([medium()], NOW) == []
    assert case.sequence == 1


def test_full_lifecycle_in_order() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    kinds = []
    kinds += case.assign("r1", 1, 1, NOW)
    kinds += case.assign("r2", 2, 1, NOW)
    kinds += case.acknowledge("r2", NOW)
    kinds += case.contact("r2", NOW)
    kinds += case.resolve("r2", CaseOutcome.SUPPORTED, NOW)
    kinds += case.feedback(5, "person", NOW)
    assert [e.kind for e in kinds] == [
        CaseEventKind.ASSIGNED,
        CaseEventKind.ESCALATED,
        CaseEventKind.ACKNOWLEDGED,
        CaseEventKind.CONTACTED,
        CaseEventKind.RESOLVED,
        CaseEventKind.FEEDBACK_RECEIVED,
    ]
    assert [e.sequence for e in kinds] == [2, 3, 4, 5, 6, 7]
    assert case.status is CaseStatus.RESOLVED
    assert kinds[-1].feedback_score == 5


def test_only_the_assigned_responder_may_resolve() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    case.assign("r1", 1, 1, NOW)
    case.acknowledge("r1", NOW)
    with pytest.raises(CaseTransitionError, match="only the assigned responder"):
        case.resolve("r2", CaseOutcome.SUPPORTED, NOW)


def test_cannot_resolve_before_acknowledgement_or_acknowledge_twice() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    case.assign("r1", 1, 1, NOW)
    with pytest.raises(CaseTransitionError, match="acknowledge first"):
        case.resolve("r1", CaseOutcome.SUPPORTED, NOW)
    case.acknowledge("r1", NOW)
    with pytest.raises(CaseTransitionError, match="already acknowledged"):
        case.acknowledge("r1", NOW)


def test_hand_over_needs_a_new_acknowledgement() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    case.assign("r1", 1, 1, NOW)
    case.acknowledge("r1", NOW)
    events = case.hand_over("r1", "r3", NOW)
    assert events[0].kind is CaseEventKind.HANDED_OVER
    assert (case.responder_id, case.status) == ("r3", CaseStatus.ASSIGNED)


def test_contact_overdue_returns_the_case_to_awaiting() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    case.assign("r1", 1, 1, NOW)
    case.acknowledge("r1", NOW)
    case.contact_overdue()
    assert case.awaiting_acknowledgement
    assert case.assign("r2", 2, 1, NOW)[0].kind is CaseEventKind.ESCALATED


def test_case_events_carry_no_answers() -> None:
    _, events = Case.open("k1", "s1", None, [critical()], NOW)
    payload = events[0].model_dump()
    assert set(payload) >= {"case_id", "subject_id", "rules", "severity"}
    assert not {"mood", "who5", "phq9", "note", "person_id"} & set(payload)


def test_default_policy_is_responder_backup_then_coordinators() -> None:
    policy = default_policy(300, 3600)
    assert [(s.target, s.timeout_seconds) for s in policy.steps] == [
        ("responders", 300),
        ("responders", 300),
        ("coordinators", 300),
    ]


def test_policy_steps_repeat_at_most_five_times_and_targets_are_checked() -> None:
    with pytest.raises(ValidationError):
        PolicyStep(target="responders", timeout_seconds=60, repeat=6)
    with pytest.raises(ValidationError):
        PolicyStep(target="everyone", timeout_seconds=60)
    with pytest.raises(ValidationError):
        EscalationPolicy(steps=[])


def test_rotation_puts_the_member_on_call_first() -> None:
    rotation = OnCallRotation(name="night", members=["a", "b", "c"], shift_hours=24, starts_at=NOW)
    assert rotation.order_at(NOW) == ["a", "b", "c"]
    assert rotation.order_at(NOW + timedelta(hours=25)) == ["b", "c", "a"]
    assert rotation.order_at(NOW + timedelta(days=3)) == ["a", "b", "c"]


RESPONDERS = [
    Responder("ann", "s-ann", "team-a"),
    Responder("bob", "s-bob", "team-b"),
    Responder("cat", "s-cat", "team-b"),
]


def choose(**overrides: object) -> str | None:
    arguments: dict[str, object] = {
        "subject_id": "s-someone",
        "team_id": "team-x",
        "load": {},
        "already_alerted": set(),
        "now": NOW,
    }
    arguments.update(overrides)
    chosen = choose_responder(RESPONDERS, **arguments)  # type: ignore[arg-type]
    return chosen.person_id if chosen else None


def test_responder_is_never_assigned_their_own_case() -> None:
    assert choose(subject_id="s-ann") == "bob"


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


def test_ack_links_are_signed_per_alert() -> None:
    links = AckLinks(b"secret", "http://127.0.0.1:8002/")
    url = links.url("alert-1")
    assert url.startswith("http://127.0.0.1:8002/v1/alerts/alert-1/acknowledge?token=")
    token = url.rsplit("=", 1)[1]
    assert links.valid("alert-1", token)
    assert not links.valid("alert-2", token)
    assert not AckLinks(b"other", "http://x").valid("alert-1", token)


def test_resources_for_a_country_come_first_then_general_ones() -> None:
    from kinship_contracts.resources import ResourceKind
    from kinship_escalation.domain.resources import (
        DEFAULT_CATALOGUE,
        country_of_timezone,
        select,
    )

    table = "# comment\nGB\t+513030-0000731\tEurope/London\nUS\t+404251-0740023\tAmerica/New_York\n"
    assert country_of_timezone("Europe/London", table) == "GB"
    assert country_of_timezone("Mars/Olympus", table) is None
    crisis = select(DEFAULT_CATALOGUE, {ResourceKind.CRISIS}, "GB")
    assert crisis[0].name == "Samaritans"
    assert all(not r.countries or "GB" in r.countries for r in crisis)
    anywhere = select(DEFAULT_CATALOGUE, {ResourceKind.CRISIS}, None)
    assert all(not r.countries for r in anywhere)
    guides = select(DEFAULT_CATALOGUE, {ResourceKind.SELF_CARE}, "US")
    assert {r.kind for r in guides} == {ResourceKind.SELF_CARE}

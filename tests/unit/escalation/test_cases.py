"""The case lifecycle (the case aggregate) and the stored case's round of alerts."""

from datetime import UTC, datetime

import pytest

from kinship_contracts.cases import CaseEventKind, CaseOutcome, CaseStatus, Severity
from kinship_escalation.domain.cases import (
    Case,
    CaseTransitionError,
    NotAllowedError,
    StoredCase,
    erased_subject,
    is_erased,
)
from kinship_escalation.domain.policies import default_policy
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
    with pytest.raises(NotAllowedError, match="assigned responder can"):
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


def test_a_round_of_alerts_remembers_each_person_once_in_order() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    stored = StoredCase(case, default_policy(60, 60))
    stored.alert(["r1"])
    stored.alert(["r2", "r1"])
    assert stored.alerted == ["r1", "r2"]


def test_only_someone_alerted_or_the_responder_may_acknowledge() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    stored = StoredCase(case, default_policy(60, 60))
    stored.alert(["c1"])
    case.assign("r1", 1, 1, NOW)
    assert stored.may_acknowledge("c1") and stored.may_acknowledge("r1")
    assert not stored.may_acknowledge("someone-else")


def test_an_erased_responder_leaves_their_case_waiting_for_someone_new() -> None:
    case, _ = Case.open("k1", "s1", None, [medium()], NOW)
    case.assign("r1", 1, 1, NOW)
    assert case.responder_gone(NOW) == []  # only alerted: nothing to hand back
    assert (case.status, case.responder_id) == (CaseStatus.ASSIGNED, None)
    case.assign("r2", 2, 1, NOW)
    case.acknowledge("r2", NOW)
    (event,) = case.responder_gone(NOW)
    assert (event.kind, event.responder_id, event.status) == (
        CaseEventKind.HANDED_OVER,
        None,
        CaseStatus.ASSIGNED,
    )
    assert case.acknowledged_at is None and case.awaiting_acknowledgement


def test_forgetting_the_subject_closes_an_open_case_without_an_event_and_unlinks_it() -> None:
    case, _ = Case.open("k1", "s1", "team-1", [medium()], NOW)
    case.assign("r1", 1, 1, NOW)
    sequence = case.sequence
    stand_in = erased_subject()
    case.forget_subject(NOW, stand_in)
    assert (case.status, case.resolved_at, case.outcome) == (CaseStatus.RESOLVED, NOW, None)
    assert (case.subject_id, case.team_id, case.observation_ids) == (stand_in, None, [])
    assert is_erased(stand_in) and stand_in != erased_subject() and "s1" not in stand_in
    assert is_erased("erased") and not is_erased("s1") and not is_erased("erasedx")
    with pytest.raises(CaseTransitionError, match="erased"):
        case.reopen("r2", NOW)
    # Nor feedback, from either side: its event would carry the case's id to recognition,
    # where the case's facts are anonymised under random ids (review 4, M1).
    for side in ("responder", "person"):
        with pytest.raises(CaseTransitionError, match="erased"):
            case.feedback(4, side, NOW)
    assert case.sequence == sequence  # no transition: nobody is told
    assert case.rules == ["sustained_decline"] and case.responder_id == "r1"

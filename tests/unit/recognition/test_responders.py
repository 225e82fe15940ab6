"""Responders appreciated for cases supported and for thanks, and each case's facts kept,
over the in-memory unit of work."""

from datetime import UTC, datetime, timedelta

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.responders import record_case_events
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, FakeVault, case_event

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
OPENED = NOW - timedelta(hours=3)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)
RESOLVED, FEEDBACK = CaseEventKind.RESOLVED, CaseEventKind.FEEDBACK_RECEIVED
VAULT = FakeVault()


async def record(uow: FakeRecognitionUnitOfWork, *events: CaseEvent) -> None:
    async with uow:
        await record_case_events(list(events), uow, TOPICS, VAULT, NOW)


def resolved(case_id: str, responder: str = "resp-a") -> CaseEvent:
    return case_event(case_id, 6, RESOLVED, NOW, responder_id=responder, outcome="supported")


def thanks(case_id: str, score: int = 5, side: str = "person", **fields: str) -> CaseEvent:
    return case_event(case_id, 7, FEEDBACK, NOW, feedback_score=score, feedback_from=side, **fields)


def awards(uow: FakeRecognitionUnitOfWork) -> list[tuple[str, str | None, str]]:
    """(key, person, title) of each award given, in order."""
    return [(key, grant.person_id, grant.title) for key, grant in uow.awards.items()]


async def test_a_responders_first_resolved_case_is_appreciated_once_by_their_subject() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, resolved("case-1"), resolved("case-1"))
    await record(uow, resolved("case-1"))  # a replay
    assert awards(uow) == [("supported:resp-a:1", "resp-a", "Thank you for supporting a colleague")]
    (published,) = uow.published("awards")
    assert published["subject_id"] == VAULT.subject("resp-a") and "person_id" not in published
    assert "resp-a" not in published["id"] and "case-1" not in published["id"]
    (request,) = uow.published("requests")
    assert request["recipient"] == {"subject_id": VAULT.subject("resp-a")}


async def test_cases_supported_milestones_count_distinct_cases() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, *(resolved(f"case-{n}") for n in range(1, 7)))
    assert [award[0] for award in awards(uow)] == ["supported:resp-a:1", "supported:resp-a:5"]
    assert awards(uow)[1][2] == "5 colleagues supported"


async def test_thanks_from_the_person_supported_go_to_whoever_resolved_the_case() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, resolved("case-1", responder="resp-b"))
    await record(uow, thanks("case-1", responder_id="resp-a"), thanks("case-1"))
    assert awards(uow)[-1] == ("thanks:case-1", "resp-b", "Someone you supported says thank you")
    assert len(awards(uow)) == 2
    assert uow.published("requests")[-1]["recipient"] == {"subject_id": VAULT.subject("resp-b")}


async def test_thanks_for_an_unresolved_case_go_to_the_events_responder_or_nobody() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, thanks("case-1"))
    assert uow.awards == {}
    await record(uow, thanks("case-2", responder_id="resp-c"))
    assert awards(uow) == [("thanks:case-2", "resp-c", "Someone you supported says thank you")]


async def test_low_scores_and_the_responders_own_feedback_thank_no_one() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, resolved("case-1"))
    await record(uow, thanks("case-1", score=3), thanks("case-1", side="responder"))
    assert [award[0] for award in awards(uow)] == ["supported:resp-a:1"]


async def test_awards_never_name_the_person_supported() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, resolved("case-1"), thanks("case-1"))
    assert all(b"subject-w" not in (m.value or b"") for m in uow.outbox)
    assert "subject-w" not in VAULT.vault.values()  # nobody asked the vault about them


async def test_case_facts_keep_the_earliest_time_of_each_transition_and_the_outcome() -> None:
    uow = FakeRecognitionUnitOfWork()
    acknowledged = case_event(
        "case-1", 2, CaseEventKind.ACKNOWLEDGED, OPENED + timedelta(minutes=4)
    )
    late_duplicate = case_event(
        "case-1", 2, CaseEventKind.ACKNOWLEDGED, OPENED + timedelta(minutes=40)
    )
    await record(
        uow,
        case_event("case-1", 1, CaseEventKind.OPENED, OPENED, team_id="team-c"),
        late_duplicate,
        acknowledged,
        resolved("case-1"),
        thanks("case-1"),
    )
    fact = uow.case_facts["case-1"]
    assert fact.opened_at == OPENED
    assert fact.acknowledged_at == OPENED + timedelta(minutes=4)
    assert (fact.resolved_at, fact.outcome, fact.team_id) == (NOW, "supported", "team-c")

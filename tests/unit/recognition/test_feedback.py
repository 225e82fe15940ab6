"""Evaluation inputs: case feedback scores and pulse answers (latest answers win), over the
in-memory unit of work; and the pulse contract."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import CaseEventKind
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.subjects import Pseudonymiser
from kinship_recognition.handlers.feedback import record_case_feedback, record_pulse
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, Person, case_event, pulse

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
PSEUDONYMS = Pseudonymiser(b"p" * 32)
FEEDBACK = CaseEventKind.FEEDBACK_RECEIVED


async def answered(uow: FakeRecognitionUnitOfWork, *responses: PulseSubmitted) -> None:
    async with uow:
        await record_pulse(list(responses), uow, PSEUDONYMS)


def test_pulse_answers_are_one_to_five_and_at_least_one() -> None:
    assert pulse("p-1", "ann", NOW, programme_helps=5).answers.programme_helps == 5
    with pytest.raises(ValidationError, match="at least one"):
        pulse("p-1", "ann", NOW)
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        pulse("p-1", "ann", NOW, programme_helps=6)
    with pytest.raises(ValidationError, match="Extra inputs"):
        pulse("p-1", "ann", NOW, programme_help=4)


async def test_pulse_answers_are_kept_under_the_respondents_pseudonym_with_their_team() -> None:
    uow = FakeRecognitionUnitOfWork({"ann": Person("team-a")})
    await answered(uow, pulse("p-1", "ann", NOW, programme_helps=4))
    (((survey, respondent), row),) = uow.pulse_rows.items()
    assert (survey, respondent) == ("2026-11", PSEUDONYMS.subject_id("ann"))
    assert respondent != "ann" and row.team_id == "team-a"


async def test_a_persons_latest_pulse_answers_win_whatever_order_they_arrive_in() -> None:
    uow = FakeRecognitionUnitOfWork()
    first = pulse("p-1", "ann", NOW - timedelta(hours=2), programme_helps=2)
    latest = pulse("p-2", "ann", NOW, programme_helps=5)
    await answered(uow, first, latest, first)  # the earlier answers again, after the latest
    await answered(uow, pulse("p-3", "ann", NOW, survey="2026-12", programme_helps=1))
    rows = uow.pulse_rows
    assert rows["2026-11", PSEUDONYMS.subject_id("ann")].response_id == "p-2"
    assert rows["2026-11", PSEUDONYMS.subject_id("ann")].answers["programme_helps"] == 5
    assert len(rows) == 2  # another survey round is another answer


async def test_case_feedback_is_kept_once_per_side_and_other_transitions_are_ignored() -> None:
    uow = FakeRecognitionUnitOfWork()
    events = [
        case_event("case-1", 5, FEEDBACK, NOW, feedback_score=4, feedback_from="person"),
        case_event("case-1", 6, FEEDBACK, NOW, feedback_score=1, feedback_from="person"),
        case_event("case-1", 7, FEEDBACK, NOW, feedback_score=3, feedback_from="responder"),
        case_event("case-2", 1, CaseEventKind.OPENED, NOW),
    ]
    async with uow:
        await record_case_feedback(events, uow)
    assert {key: row.score for key, row in uow.feedback_rows.items()} == {
        ("case-1", "person"): 4,
        ("case-1", "responder"): 3,
    }
    assert uow.feedback_rows["case-1", "person"].subject_id == "subject-w"

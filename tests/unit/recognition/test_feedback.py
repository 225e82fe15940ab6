"""Evaluation inputs: case feedback scores and pulse answers (latest answers win), over the
in-memory unit of work; and the pulse contract."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import CaseEventKind
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.handlers.feedback import record_case_feedback, record_pulse
from kinship_runtime.vault import VaultUnavailableError
from tests.unit.fakes.recognition import (
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
    case_event,
    pulse,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
FEEDBACK = CaseEventKind.FEEDBACK_RECEIVED
VAULT = FakeVault()


async def answered(
    uow: FakeRecognitionUnitOfWork, *responses: PulseSubmitted, now: datetime = NOW
) -> None:
    async with uow:
        await record_pulse(list(responses), uow, VAULT, now)


def test_pulse_answers_are_one_to_five_and_at_least_one() -> None:
    assert pulse("p-1", "ann", NOW, programme_helps=5).answers.programme_helps == 5
    with pytest.raises(ValidationError, match="at least one"):
        pulse("p-1", "ann", NOW)
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        pulse("p-1", "ann", NOW, programme_helps=6)
    with pytest.raises(ValidationError, match="Extra inputs"):
        pulse("p-1", "ann", NOW, programme_help=4)


async def test_pulse_answers_are_kept_under_the_respondents_subject_id_with_their_team() -> None:
    uow, vault = FakeRecognitionUnitOfWork({"ann": Person("team-a")}), FakeVault()
    async with uow:
        await record_pulse([pulse("p-1", "ann", NOW, programme_helps=4)], uow, vault, NOW)
    (((survey, respondent), row),) = uow.pulse_rows.items()
    assert (survey, respondent) == ("2026-11", vault.subject("ann"))
    assert respondent != "ann" and row.team_id == "team-a" and row.recorded_at == NOW
    assert vault.calls == [["ann"]]


async def test_a_batch_of_pulse_answers_asks_the_vault_once() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    batch = [pulse(f"p-{n}", f"r{n}", NOW, programme_helps=3) for n in range(3)]
    async with uow:
        await record_pulse(batch, uow, vault, NOW)
    assert vault.calls == [["r0", "r1", "r2"]] and len(uow.pulse_rows) == 3


async def test_pulse_answers_wait_for_the_vault_rather_than_be_lost() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    vault.unavailable = True
    with pytest.raises(VaultUnavailableError):
        async with uow:
            await record_pulse([pulse("p-1", "ann", NOW, programme_helps=4)], uow, vault, NOW)
    assert uow.pulse_rows == {}


async def test_a_persons_latest_pulse_answers_win_whatever_order_they_arrive_in() -> None:
    uow = FakeRecognitionUnitOfWork()
    first = pulse("p-1", "ann", NOW - timedelta(hours=2), programme_helps=2)
    latest = pulse("p-2", "ann", NOW, programme_helps=5)
    await answered(uow, first, latest)
    await answered(uow, first)  # the earlier answers again, after the latest
    await answered(uow, pulse("p-3", "ann", NOW, survey="2026-12", programme_helps=1))
    rows = uow.pulse_rows
    assert rows["2026-11", VAULT.subject("ann")].response_id == "p-2"
    assert rows["2026-11", VAULT.subject("ann")].answers["programme_helps"] == 5
    assert len(rows) == 2  # another survey round is another answer


async def test_answers_of_a_closed_week_stand_a_later_change_is_not_taken() -> None:
    uow = FakeRecognitionUnitOfWork()
    last_week = NOW - timedelta(days=8)  # Tuesday of last week: closed since this Tuesday
    await answered(uow, pulse("p-1", "bea", last_week, programme_helps=2), now=last_week)
    await answered(uow, pulse("p-2", "bea", NOW, programme_helps=5))
    assert uow.pulse_rows["2026-11", VAULT.subject("bea")].response_id == "p-1"


async def test_case_feedback_is_kept_once_per_side_and_other_transitions_are_ignored() -> None:
    uow = FakeRecognitionUnitOfWork()
    events = [
        case_event("case-1", 5, FEEDBACK, NOW, feedback_score=4, feedback_from="person"),
        case_event("case-1", 6, FEEDBACK, NOW, feedback_score=1, feedback_from="person"),
        case_event("case-1", 7, FEEDBACK, NOW, feedback_score=3, feedback_from="responder"),
        case_event("case-2", 1, CaseEventKind.OPENED, NOW),
    ]
    async with uow:
        await record_case_feedback(events, uow, NOW)
    assert {key: row.score for key, row in uow.feedback_rows.items()} == {
        ("case-1", "person"): 4,
        ("case-1", "responder"): 3,
    }
    assert uow.feedback_rows["case-1", "person"].subject_id == "subject-w"

"""A person's own streak and data in the recognition service: the streak summary (pure) and
the handlers over the in-memory ports (the routes are tested in test_http.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from kinship_contracts.awards import AwardKind
from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.streaks import longest_streak, streak_summary
from kinship_recognition.handlers.me import my_records, my_streak
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, FakeVault, kudos

MONDAY = date(2026, 11, 2)


def weeks(*offsets: int) -> list[date]:
    return [MONDAY + timedelta(weeks=n) for n in offsets]


@pytest.mark.parametrize(
    ("offsets", "longest"),
    [((), 0), ((0,), 1), ((0, 1, 3, 4), 4), ((0, 1, 4, 5, 6), 3), ((5, 0, 1, 1), 2)],
)
def test_the_longest_run_forgives_one_missed_week(offsets: tuple[int, ...], longest: int) -> None:
    assert longest_streak(weeks(*offsets)) == longest


@pytest.mark.parametrize(
    ("today_offset", "current"),
    [(3, 4), (4, 4), (5, 4), (6, 0)],
    ids=["this-week", "last-week-missed", "one-week-missed", "two-weeks-missed"],
)
def test_the_current_streak_ends_once_two_weeks_in_a_row_pass(
    today_offset: int, current: int
) -> None:
    today = MONDAY + timedelta(weeks=today_offset, days=3)  # a Thursday
    summary = streak_summary(weeks(0, 1, 2, 3), today)
    assert summary.current == current
    assert summary.longest == 4 and summary.weeks == 4 and summary.last_week == weeks(3)[0]


def test_no_checkins_no_streak() -> None:
    summary = streak_summary([], MONDAY)
    assert (summary.current, summary.longest, summary.last_week, summary.weeks) == (0, 0, None, 0)


async def test_my_streak_reads_the_weeks_of_the_subject_the_vault_gives() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    mine, theirs = vault.subject("ann"), vault.subject("bob")
    for week in weeks(0, 1, 2):
        uow.check_in(mine, week)
    uow.check_in(theirs, weeks(5)[0])
    async with uow:
        summary = await my_streak("ann", uow, vault, MONDAY + timedelta(weeks=2, days=1))
    assert (summary.current, summary.longest) == (3, 3)
    assert vault.calls == [["ann"]]


async def test_my_records_hold_kudos_both_ways_and_awards_by_id_and_by_subject() -> None:
    uow, vault = FakeRecognitionUnitOfWork(), FakeVault()
    subject = vault.subject("ann")
    uow.check_in(subject, MONDAY)
    now = datetime(2026, 11, 24, tzinfo=UTC)
    async with uow:
        await uow.add_kudos(kudos("k-1", "ann", "bob", "Thanks Bob"), "Thanks Bob", now)
        await uow.add_kudos(kudos("k-2", "cat", "ann", "Thanks Ann"), "Thanks Ann", now)
        await uow.add_kudos(kudos("k-3", "cat", "bob", "Not Ann's"), "Not Ann's", now)
        await uow.add_award(
            Grant("kudos:k-2", AwardKind.KUDOS_RECEIVED, "A colleague...", person_id="ann")
        )
        await uow.add_award(
            Grant(f"streak:{subject}:4", AwardKind.CHECKIN_STREAK, "4 weeks", 4, subject_id=subject)
        )
        await uow.add_award(Grant("kudos:k-1", AwardKind.KUDOS_RECEIVED, "x", person_id="bob"))
    async with uow:
        records, summary = await my_records("ann", uow, vault, MONDAY)
    assert [k.id for k in records.kudos] == ["k-1", "k-2"]
    assert sorted(a.id for a in records.awards) == ["kudos:k-2", f"streak:{subject}:4"]
    assert records.checkin_weeks == [MONDAY] and summary.current == 1

"""Check-in streaks: weeks in the person's local time (the offset of the check-in), the
streak rule, and awards once, over the in-memory unit of work."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from kinship_contracts.checkins import CheckinRecorded
from kinship_recognition.domain.streaks import current_streak, streak_milestones, week_of
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.streaks import record_checkins
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, FakeVault, checkin_recorded

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)
SUNDAY_NIGHT = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
BERLIN = timezone(timedelta(hours=1))
NEW_YORK = timezone(timedelta(hours=-5))


def test_week_is_the_monday_of_the_local_time_the_offset_gives() -> None:
    assert week_of(SUNDAY_NIGHT) == date(2026, 11, 23)
    assert week_of(SUNDAY_NIGHT.astimezone(BERLIN)) == date(2026, 11, 30)  # Monday 00:30 there
    monday_early_utc = datetime(2026, 11, 30, 2, tzinfo=UTC)  # still Sunday in New York
    assert week_of(monday_early_utc.astimezone(NEW_YORK)) == date(2026, 11, 23)


MONDAY = date(2026, 11, 2)


def weeks(*offsets: int) -> list[date]:
    return [MONDAY + timedelta(weeks=n) for n in offsets]


@pytest.mark.parametrize(
    ("offsets", "streak"),
    [
        ((), 0),
        ((0,), 1),
        ((0, 1, 2, 3), 4),
        ((0, 1, 3, 4), 4),  # one missed week is forgiven
        ((0, 1, 4, 5), 2),  # two missed weeks break the run
        ((0, 0, 1), 2),  # two check-ins in one week count once
    ],
)
def test_current_streak(offsets: tuple[int, ...], streak: int) -> None:
    assert current_streak(weeks(*offsets)) == streak


def test_streak_milestones() -> None:
    assert streak_milestones(3) == []
    assert streak_milestones(4) == [4]
    assert streak_milestones(13) == [4, 12]


async def record(uow: FakeRecognitionUnitOfWork, *events: CheckinRecorded) -> None:
    async with uow:
        await record_checkins(list(events), uow, TOPICS, FakeVault(), NOW)


async def test_a_checkin_counts_for_the_week_of_its_own_local_time() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(
        uow,
        checkin_recorded("c-1", "s-berlin", SUNDAY_NIGHT.astimezone(BERLIN), team_id="team-x"),
        checkin_recorded("c-2", "s-london", SUNDAY_NIGHT),
    )
    assert sorted(uow.weeks) == [("s-berlin", date(2026, 11, 30)), ("s-london", date(2026, 11, 23))]
    berlin = uow.weeks["s-berlin", date(2026, 11, 30)]
    assert (berlin.team_id, berlin.recorded_at) == ("team-x", NOW)
    assert uow.weeks["s-london", date(2026, 11, 23)].team_id is None


def weekly(subject: str, count: int, prefix: str = "c") -> list[CheckinRecorded]:
    return [
        checkin_recorded(f"{prefix}-{n}", subject, NOW - timedelta(weeks=count - 1 - n))
        for n in range(count)
    ]


async def test_four_weekly_checkins_earn_the_streak_award_once_even_when_replayed() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, *weekly("s-eve", 3))
    assert uow.awards == {}
    await record(uow, *weekly("s-eve", 4))
    await record(uow, *weekly("s-eve", 4))  # a replay
    await record(uow, checkin_recorded("c-again", "s-eve", NOW))  # a second one this week
    (award,) = uow.published("awards")
    assert (award["id"], award["kind"], award["count"]) == ("streak:s-eve:4", "checkin_streak", 4)
    assert award["subject_id"] == "s-eve" and "person_id" not in award
    assert "mood" not in award
    (request,) = uow.published("requests")
    assert request["recipient"] == {"subject_id": "s-eve"}
    assert (uow.awards["streak:s-eve:4"].subject_id, uow.awards["streak:s-eve:4"].person_id) == (
        "s-eve",
        None,
    )


async def test_a_long_run_in_one_batch_earns_every_milestone_it_reached_once() -> None:
    uow = FakeRecognitionUnitOfWork()
    await record(uow, *weekly("s-long", 13))
    await record(uow, *weekly("s-long", 14, prefix="d"))
    assert [a["id"] for a in uow.published("awards")] == ["streak:s-long:4", "streak:s-long:12"]


async def test_two_missed_weeks_start_the_run_again() -> None:
    uow = FakeRecognitionUnitOfWork()
    old = [checkin_recorded(f"o-{n}", "s-gap", NOW - timedelta(weeks=10 + n)) for n in range(3)]
    await record(uow, *old, *weekly("s-gap", 3))
    assert uow.awards == {}

"""Team celebrations: only with at least five contributors (k ≥ 5), only the highest
milestone, once; participation milestones through the handler, over the in-memory unit of
work."""

from datetime import UTC, date, datetime

import pytest

from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.teams import participation_milestone, team_kudos_milestone
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.streaks import record_checkins
from kinship_recognition.handlers.teams import celebrate_participation
from tests.unit.fakes.recognition import (
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
    checkin_recorded,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WEEK = date(2026, 11, 23)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)


def test_team_kudos_are_celebrated_only_with_five_senders_and_only_the_highest_milestone() -> None:
    assert team_kudos_milestone(given=30, senders=4) is None
    assert team_kudos_milestone(given=9, senders=5) is None
    assert team_kudos_milestone(given=10, senders=5) == 10
    assert team_kudos_milestone(given=30, senders=5) == 25


@pytest.mark.parametrize(
    ("participants", "members", "expected"),
    [(4, 4, None), (5, 11, None), (5, 10, 50), (6, 8, 75), (9, 10, 90), (5, 0, None)],
)
def test_team_participation_milestones_need_five_people(
    participants: int, members: int, expected: int | None
) -> None:
    assert participation_milestone(participants, members) == expected


def team(name: str, size: int) -> dict[str, Person]:
    return {f"{name}-{n}": Person(name) for n in range(size)}


async def checked_in(
    uow: FakeRecognitionUnitOfWork, name: str, count: int, vault: FakeVault | None = None
) -> None:
    events = [
        checkin_recorded(f"c-{name}-{n}", f"s-{name}-{n}", NOW, team_id=name) for n in range(count)
    ]
    async with uow:
        await record_checkins(events, uow, TOPICS, vault or FakeVault(), NOW)


async def test_four_people_checking_in_earn_their_team_nothing() -> None:
    uow = FakeRecognitionUnitOfWork(team("four", 4))
    await checked_in(uow, "four", 4)  # 100 % of the team, but four people
    assert uow.published("awards") == []


async def test_five_people_checking_in_earn_their_team_one_celebration_once() -> None:
    uow, vault = FakeRecognitionUnitOfWork(team("six", 6)), FakeVault()
    await checked_in(uow, "six", 5, vault)  # 5 of 6: 83 %, the 75 % milestone
    await checked_in(uow, "six", 5, vault)  # a replay
    (award,) = uow.published("awards")
    assert (award["id"], award["team_id"], award["count"]) == (
        "team-participation:six:75",
        "six",
        75,
    )
    assert award["title"] == "75% of your team checked in in one week"
    members = sorted(vault.subject(member) for member in team("six", 6))
    assert sorted(r["recipient"]["subject_id"] for r in uow.published("requests")) == members


async def test_participation_counts_check_ins_naming_the_team_against_its_active_members() -> None:
    people = team("t", 5) | {"left": Person("t", active=False)}
    uow = FakeRecognitionUnitOfWork(people)
    given: list[Grant] = []
    async with uow:
        for n in range(4):
            uow.check_in(f"s-t-{n}", WEEK, "t")
        uow.check_in("s-other", WEEK, "another-team")
        await celebrate_participation("t", WEEK, uow, given)
    assert given == []  # four people named the team: too few
    async with uow:
        uow.check_in("s-t-4", WEEK, "t")
        await celebrate_participation("t", WEEK, uow, given)
    assert [grant.key for grant in given] == ["team-participation:t:90"]  # 5 of 5 active

"""Publishing awards and their celebration requests through the outbox."""

from datetime import UTC, datetime

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.handlers.awards import (
    AwardTopics,
    TeamMilestone,
    celebrate_team,
    publish_award,
)
from tests.unit.fakes.recognition import FakeRecognitionUnitOfWork, Person

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TOPICS = AwardTopics("awards", "requests")


def headers(uow: FakeRecognitionUnitOfWork, topic: str) -> list[dict[str, bytes]]:
    return [dict(m.headers) for m in uow.outbox if m.topic == topic]


async def test_a_persons_award_is_published_once_keyed_by_them_with_one_celebration() -> None:
    uow = FakeRecognitionUnitOfWork()
    award = Award(
        id="kudos:k-1",
        kind=AwardKind.KUDOS_RECEIVED,
        person_id="bob",
        title="A colleague sent you kudos",
        occurred_at=NOW,
    )
    async with uow:
        assert await publish_award(award, uow, TOPICS) is True
        assert await publish_award(award, uow, TOPICS) is False  # a replay
    assert [(m.topic, m.key, m.event_id) for m in uow.outbox] == [
        ("awards", b"bob", "kudos:k-1"),
        ("requests", b"bob", "celebration:kudos:k-1"),
    ]
    assert headers(uow, "awards")[0]["ce_type"] == RECOGNITION_AWARDS.event_type.encode()
    assert headers(uow, "requests")[0]["ce_type"] == NOTIFICATION_REQUESTS.event_type.encode()
    (request,) = uow.published("requests")
    assert request["template"] == "celebration" and request["created_at"].startswith("2026-11-25")


async def test_a_streak_award_names_the_subject_and_never_a_person() -> None:
    uow = FakeRecognitionUnitOfWork()
    award = Award(
        id="streak:subject-1:4",
        kind=AwardKind.CHECKIN_STREAK,
        subject_id="subject-1",
        title="4 weeks of check-ins",
        count=4,
        occurred_at=NOW,
    )
    async with uow:
        await publish_award(award, uow, TOPICS)
    assert [m.key for m in uow.outbox] == [b"subject-1", b"subject-1"]
    (request,) = uow.published("requests")
    assert request["recipient"] == {"subject_id": "subject-1"}


async def test_a_team_milestone_is_celebrated_once_with_each_active_member() -> None:
    people = {
        "t1": Person("team-t"),
        "t2": Person("team-t"),
        "gone": Person("team-t", active=False),
    }
    uow = FakeRecognitionUnitOfWork(people)
    milestone = TeamMilestone("team-t", "team-kudos:team-t:10", 10, "Ten thanks")
    async with uow:
        await celebrate_team(milestone, uow, TOPICS, NOW)
        await celebrate_team(milestone, uow, TOPICS, NOW)
    (award,) = uow.published("awards")
    assert (award["id"], award["team_id"], award["count"]) == ("team-kudos:team-t:10", "team-t", 10)
    assert [m.key for m in uow.outbox if m.topic == "awards"] == [b"team-t"]
    assert [(m.event_id, m.key) for m in uow.outbox if m.topic == "requests"] == [
        ("celebration:team-kudos:team-t:10:t1", b"t1"),
        ("celebration:team-kudos:team-t:10:t2", b"t2"),
    ]

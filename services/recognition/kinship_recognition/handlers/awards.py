"""Publishing awards: each once, with a celebration request for its recipient (or for each
member of a team), both through the outbox in the caller's transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.handlers.ports import RecognitionUnitOfWork
from kinship_runtime.outbox import OutboxMessage, event_message

SOURCE = "kinship/recognition"


@dataclass(frozen=True)
class AwardTopics:
    """Where awards and celebration requests are published (with the environment's prefix)."""

    awards: str
    requests: str


def _celebrations(
    award: Award, key: str, members: Sequence[str]
) -> list[tuple[str, str, Recipient]]:
    """(request id, key, recipient) of each celebration an award asks for."""
    if award.team_id is None:
        recipient = Recipient(person_id=award.person_id, subject_id=award.subject_id)
        return [(f"celebration:{award.id}", key, recipient)]
    return [
        (f"celebration:{award.id}:{member}", member, Recipient(person_id=member))
        for member in members
    ]


def _request_message(
    topic: str, request_id: str, key: str, recipient: Recipient, award: Award
) -> OutboxMessage:
    request = NotificationRequest(
        id=request_id,
        kind=MessageKind.CELEBRATION,
        recipient=recipient,
        template="celebration",
        params={"text": award.title},
        created_at=award.occurred_at,
    )
    return event_message(
        topic,
        key,
        request,
        event_id=request.id,
        event_type=NOTIFICATION_REQUESTS.event_type,
        source=SOURCE,
        time=award.occurred_at,
    )


async def publish_award(
    award: Award,
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    members: Sequence[str] = (),
) -> bool:
    """Publish an award once, and a celebration for its recipient (or each of ``members``
    for a team award).

    False when the award was given before: a replay celebrates nothing twice.
    """
    if not await uow.add_award(award):
        return False
    key = award.person_id or award.subject_id or award.team_id or award.id
    messages = [
        event_message(
            topics.awards,
            key,
            award,
            event_id=award.id,
            event_type=RECOGNITION_AWARDS.event_type,
            source=SOURCE,
            time=award.occurred_at,
        )
    ]
    messages += [
        _request_message(topics.requests, request_id, request_key, recipient, award)
        for request_id, request_key, recipient in _celebrations(award, key, members)
    ]
    await uow.publish(messages)
    return True


@dataclass(frozen=True)
class TeamMilestone:
    """A milestone a team reached together (k ≥ 5 already checked by the domain)."""

    team_id: str
    award_id: str
    count: int
    title: str


async def celebrate_team(
    milestone: TeamMilestone, uow: RecognitionUnitOfWork, topics: AwardTopics, now: datetime
) -> None:
    """A team award once, celebrated with each active member."""
    if await uow.is_awarded(milestone.award_id):
        return
    award = Award(
        id=milestone.award_id,
        kind=AwardKind.TEAM_MILESTONE,
        team_id=milestone.team_id,
        title=milestone.title,
        count=milestone.count,
        occurred_at=now,
    )
    await publish_award(award, uow, topics, await uow.team_members(milestone.team_id))

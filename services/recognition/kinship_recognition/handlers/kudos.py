"""Giving kudos: accepted once (no self-kudos, a daily limit, no markup), celebrated with the
recipient, counted towards their milestones and towards their sender's team's."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.kudos import KudosSubmitted
from kinship_recognition.domain.kudos import (
    KudosRefusal,
    clean_message,
    milestone_reached,
    refusal,
)
from kinship_recognition.domain.teams import team_kudos_milestone
from kinship_recognition.handlers.awards import (
    AwardTopics,
    TeamMilestone,
    celebrate_team,
    publish_award,
)
from kinship_recognition.handlers.ports import RecognitionUnitOfWork


@dataclass(frozen=True)
class KudosOutcome:
    """What happened to one submission."""

    id: str
    accepted: bool
    duplicate: bool = False
    refusal: KudosRefusal | None = None


async def give_kudos(
    kudos: KudosSubmitted,
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    *,
    daily_limit: int,
    now: datetime,
) -> KudosOutcome:
    """Accept kudos once and celebrate them, or say why they are refused.

    A refusal changes nothing: the caller answers it (HTTP) or dead-letters it (Kafka).
    """
    if await uow.is_known(kudos.id):
        return KudosOutcome(kudos.id, accepted=True, duplicate=True)
    sent_today = await uow.sent_since(kudos.from_person_id, now - timedelta(days=1))
    refused = refusal(kudos, sent_today, daily_limit)
    if refused is not None:
        return KudosOutcome(kudos.id, accepted=False, refusal=refused)
    if not await uow.add_kudos(kudos, clean_message(kudos.message), now):
        return KudosOutcome(kudos.id, accepted=True, duplicate=True)
    received = Award(
        id=f"kudos:{kudos.id}",
        kind=AwardKind.KUDOS_RECEIVED,
        person_id=kudos.to_person_id,
        title="A colleague sent you kudos",
        occurred_at=now,
    )
    await publish_award(received, uow, topics)
    await _celebrate_milestone(kudos.to_person_id, uow, topics, now)
    await _celebrate_team_kudos(kudos.from_person_id, uow, topics, now)
    return KudosOutcome(kudos.id, accepted=True)


async def _celebrate_milestone(
    person_id: str, uow: RecognitionUnitOfWork, topics: AwardTopics, now: datetime
) -> None:
    milestone = milestone_reached(await uow.received(person_id))
    if milestone is None:
        return
    award = Award(
        id=f"kudos-milestone:{person_id}:{milestone}",
        kind=AwardKind.KUDOS_MILESTONE,
        person_id=person_id,
        title=f"{milestone} kudos from colleagues",
        count=milestone,
        occurred_at=now,
    )
    await publish_award(award, uow, topics)


async def _celebrate_team_kudos(
    sender: str, uow: RecognitionUnitOfWork, topics: AwardTopics, now: datetime
) -> None:
    """The sender's team's highest kudos milestone, once, when five members contributed."""
    team_id = await uow.team_of_person(sender)
    if team_id is None:
        return
    milestone = team_kudos_milestone(*await uow.team_kudos(team_id))
    if milestone is None:
        return
    reached = TeamMilestone(
        team_id=team_id,
        award_id=f"team-kudos:{team_id}:{milestone}",
        count=milestone,
        title=f"Your team has thanked colleagues {milestone} times",
    )
    await celebrate_team(reached, uow, topics, now)

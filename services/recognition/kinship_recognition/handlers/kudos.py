"""Giving kudos: accepted once (no self-kudos, a daily limit, no markup), celebrated with the
recipient, counted towards their milestones and towards their sender's team's."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kinship_contracts.awards import AwardKind
from kinship_contracts.kudos import KudosSubmitted
from kinship_recognition.domain.awards import Grant
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
    give,
    publish_awards,
)
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.metrics import ERASED_SKIPPED
from kinship_runtime.vault import SubjectsAsOf, newest


@dataclass(frozen=True)
class KudosOutcome:
    """What happened to one submission."""

    id: str
    accepted: bool
    duplicate: bool = False
    refusal: KudosRefusal | None = None
    erased: bool = False
    """Skipped: the vault erased the recipient at or after the kudos were produced."""


async def give_kudos(
    submissions: Sequence[KudosSubmitted],
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    vault: SubjectLookup,
    *,
    daily_limit: int,
    now: datetime,
    produced_at: Mapping[str, datetime | None] | None = None,
) -> list[KudosOutcome]:
    """Accept each of ``submissions`` once and celebrate them, or say why they are refused.

    A refusal changes nothing: the caller answers it (HTTP) or dead-letters it (Kafka). The
    recipients are celebrated by the subject ids the vault gives them, in one call.

    With ``produced_at`` (by kudos id; from Kafka, None without a timestamp) the vault is
    asked first, with each recipient's newest record time: kudos to a person it erased at or
    after they were produced are skipped before anything is stored (``erased``; counted, not
    dead-lettered), even while this service's own erasure consumer lags, and the vault mints
    the erased person no new subject id. (Senders are not looked up in the vault: their
    kudos stored meanwhile go when this service's erasure of them runs.)
    """
    given: list[Grant] = []
    known: SubjectsAsOf | None = None
    skipped: set[str] = set()
    # Kudos already given are answered as duplicates without asking the vault: a replay
    # leaves no trace there either (its audit trail included).
    fresh = [kudos for kudos in submissions if not await uow.is_known(kudos.id)]
    if produced_at is not None and fresh:
        recipients = {kudos.id: [kudos.to_person_id] for kudos in fresh}
        known = await vault.subjects_as_of(
            sorted({kudos.to_person_id for kudos in fresh}),
            newest(produced_at, recipients),
            purpose="awards",
        )
        skipped = {
            kudos.id
            for kudos in fresh
            if kudos.to_person_id not in known.subjects
            or known.replayed(kudos.to_person_id, produced_at.get(kudos.id))
        }
        if skipped:
            ERASED_SKIPPED.add(len(skipped), {"consumer": "kudos"})
    outcomes = [
        KudosOutcome(kudos.id, accepted=False, erased=True)
        if kudos.id in skipped
        else await _give_one(kudos, uow, given, daily_limit, now)
        for kudos in submissions
    ]
    await publish_awards(given, uow, topics, vault, now, known=known)
    return outcomes


async def _give_one(
    kudos: KudosSubmitted,
    uow: RecognitionUnitOfWork,
    given: list[Grant],
    daily_limit: int,
    now: datetime,
) -> KudosOutcome:
    if await uow.is_known(kudos.id):
        return KudosOutcome(kudos.id, accepted=True, duplicate=True)
    sent_today = await uow.sent_since(kudos.from_person_id, now - timedelta(days=1))
    refused = refusal(kudos, sent_today, daily_limit)
    if refused is not None:
        return KudosOutcome(kudos.id, accepted=False, refusal=refused)
    if not await uow.add_kudos(kudos, clean_message(kudos.message), now):
        return KudosOutcome(kudos.id, accepted=True, duplicate=True)
    received = Grant(
        key=f"kudos:{kudos.id}",
        kind=AwardKind.KUDOS_RECEIVED,
        title="A colleague sent you kudos",
        person_id=kudos.to_person_id,
    )
    await give(received, uow, given)
    await _celebrate_milestone(kudos.to_person_id, uow, given)
    await _celebrate_team_kudos(kudos.from_person_id, uow, given)
    return KudosOutcome(kudos.id, accepted=True)


async def _celebrate_milestone(
    person_id: str, uow: RecognitionUnitOfWork, given: list[Grant]
) -> None:
    milestone = milestone_reached(await uow.received(person_id))
    if milestone is None:
        return
    grant = Grant(
        key=f"kudos-milestone:{person_id}:{milestone}",
        kind=AwardKind.KUDOS_MILESTONE,
        title=f"{milestone} kudos from colleagues",
        count=milestone,
        person_id=person_id,
    )
    await give(grant, uow, given)


async def _celebrate_team_kudos(
    sender: str, uow: RecognitionUnitOfWork, given: list[Grant]
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
        key=f"team-kudos:{team_id}:{milestone}",
        count=milestone,
        title=f"Your team has thanked colleagues {milestone} times",
    )
    await celebrate_team(reached, uow, given)

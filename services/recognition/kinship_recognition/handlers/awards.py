"""Giving and publishing awards.

An award is given once (its row, keyed by a deterministic ``key``, holds its one recipient:
a person, a subject or a team). The awards given in a unit of work are then published
together (``publish_awards``): each on ``recognition.awards`` with a celebration request for
its recipient (or for each active member of a team) on ``notifications.requests``, both
through the outbox in the caller's transaction.

Kinship topics name people by subject id only: the people celebrated are looked up in the
check-in service's vault in one call per unit of work, and the answers are not kept. An
award to a person is published under a fresh random id, because its key (a kudos id, a case
id, a person id) could be joined with other topics to link the person to their subject.
Every celebration request is signed, so the notifications service knows it comes from
Kinship.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.domain.awards import Grant
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup
from kinship_runtime.outbox import OutboxMessage, event_message, signed_request
from kinship_runtime.vault import SubjectsAsOf, newest

SOURCE = "kinship/recognition"


@dataclass(frozen=True)
class AwardTopics:
    """Where awards and celebration requests are published (with the environment's prefix),
    and the key that signs each request (``KINSHIP_REQUEST_SIGNING_KEY``)."""

    awards: str
    requests: str
    request_key: bytes


def new_award_id() -> str:
    """A fresh, meaningless id for an award to a person."""
    return f"award-{uuid.uuid4().hex}"


async def give(grant: Grant, uow: RecognitionUnitOfWork, given: list[Grant]) -> None:
    """Give an award once; a new one joins ``given``, to be published with the others."""
    if await uow.add_award(grant):
        given.append(grant)


def _request(topics: AwardTopics, request_id: str, recipient: str, award: Award) -> OutboxMessage:
    request = NotificationRequest(
        id=request_id,
        kind=MessageKind.CELEBRATION,
        recipient=Recipient(subject_id=recipient),
        template="celebration",
        params={"text": award.title},
        created_at=award.occurred_at,
    )
    message = event_message(
        topics.requests,
        recipient,
        request,
        event_id=request.id,
        event_type=NOTIFICATION_REQUESTS.event_type,
        source=SOURCE,
        time=award.occurred_at,
    )
    return signed_request(message, topics.request_key)


def _award_message(topics: AwardTopics, award: Award, key: str) -> OutboxMessage:
    return event_message(
        topics.awards,
        key,
        award,
        event_id=award.id,
        event_type=RECOGNITION_AWARDS.event_type,
        source=SOURCE,
        time=award.occurred_at,
    )


async def publish_awards(
    given: Sequence[Grant],
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    vault: SubjectLookup,
    now: datetime,
    new_id: Callable[[], str] = new_award_id,
    *,
    produced_at: Mapping[str, datetime | None] | None = None,
    known: SubjectsAsOf | None = None,
) -> set[str]:
    """Publish awards just given, each with its celebration requests; the keys of the awards
    to a person not published because the vault erased them after the record that earned it.

    Everyone celebrated (people given an award, the active members of a team) is looked up in
    the vault in one call; an unreachable vault rolls the unit of work back, to be retried.
    ``produced_at`` (by grant key) dates the grants that a Kafka record earned: the vault
    refuses a person erased at or after their newest one, and an award earned by a record
    produced at or before the person's erasure is not published (nor anyone minted a subject
    id for it). ``known``: what the vault answered the caller already (not asked again; the
    people it refused are not celebrated with their team either).
    """
    if not given:
        return set()
    dated = produced_at or {}
    known = known or SubjectsAsOf({})
    members = {
        grant.team_id: await uow.team_members(grant.team_id)
        for grant in given
        if grant.team_id is not None
    }
    people = {grant.person_id for grant in given if grant.person_id is not None}
    people |= {member for team in members.values() for member in team}
    people -= set(known.subjects) | known.refused
    answer = await _subjects(sorted(people), given, dated, vault)
    subjects = known.subjects | answer.subjects
    messages: list[OutboxMessage] = []
    skipped: set[str] = set()
    for grant in given:
        if grant.team_id is not None:
            award = _award(grant, grant.key, now, team_id=grant.team_id)
            messages.append(_award_message(topics, award, grant.team_id))
            recipients = sorted({subjects[m] for m in members[grant.team_id] if m in subjects})
            messages += [
                _request(topics, f"celebration:{award.id}:{subject}", subject, award)
                for subject in recipients
            ]
            continue
        if grant.subject_id is not None:
            subject: str | None = grant.subject_id
            award_id = grant.key  # names no one but the subject
        else:
            assert grant.person_id is not None
            at = dated.get(grant.key)
            if known.replayed(grant.person_id, at) or answer.replayed(grant.person_id, at):
                skipped.add(grant.key)
                continue
            subject = subjects.get(grant.person_id)
            award_id = new_id()
        if subject is None:
            continue  # the vault no longer knows them (erased meanwhile): nobody to celebrate
        award = _award(grant, award_id, now, subject_id=subject)
        messages.append(_award_message(topics, award, subject))
        messages.append(_request(topics, f"celebration:{award.id}", subject, award))
    await uow.publish(messages)
    return skipped


async def _subjects(
    people: list[str],
    given: Sequence[Grant],
    dated: Mapping[str, datetime | None],
    vault: SubjectLookup,
) -> SubjectsAsOf:
    """The vault's answer for ``people``, each dated by the newest record that earned them
    an award (as before, undated, when no grant is dated)."""
    if not people:
        return SubjectsAsOf({})
    asked = set(people)
    earned = {
        g.key: [g.person_id]
        for g in given
        if g.person_id is not None and g.person_id in asked and g.key in dated
    }
    times = newest(dated, earned)
    if not times:
        return SubjectsAsOf(await vault.subjects(people, purpose="awards"))
    return await vault.subjects_as_of(people, times, purpose="awards")


def _award(
    grant: Grant,
    award_id: str,
    now: datetime,
    *,
    subject_id: str | None = None,
    team_id: str | None = None,
) -> Award:
    return Award(
        id=award_id,
        kind=grant.kind,
        subject_id=subject_id,
        team_id=team_id,
        title=grant.title,
        count=grant.count,
        occurred_at=now,
    )


@dataclass(frozen=True)
class TeamMilestone:
    """A milestone a team reached together (k ≥ 5 already checked by the domain)."""

    team_id: str
    key: str
    count: int
    title: str


async def celebrate_team(
    milestone: TeamMilestone, uow: RecognitionUnitOfWork, given: list[Grant]
) -> None:
    """A team award once, to be celebrated with each active member."""
    if await uow.is_awarded(milestone.key):
        return
    grant = Grant(
        key=milestone.key,
        kind=AwardKind.TEAM_MILESTONE,
        title=milestone.title,
        count=milestone.count,
        team_id=milestone.team_id,
    )
    await give(grant, uow, given)

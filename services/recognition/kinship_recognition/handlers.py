"""The recognition service's use cases: each runs inside one unit of work.

Awards have deterministic ids (``kudos:<id>``, ``kudos-milestone:<person>:<n>``,
``streak:<subject>:<n>``), so replaying any stream from its start awards nothing twice.
Nothing here reads scores, cases or outcomes: a celebration must never reveal distress.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_contracts.topics import NOTIFICATION_REQUESTS, RECOGNITION_AWARDS
from kinship_recognition.adapters.postgres import RecognitionUnit
from kinship_recognition.domain.kudos import (
    THANKS_SCORE,
    KudosRefusal,
    clean_message,
    milestone_reached,
    refusal,
    supported_milestone,
)
from kinship_recognition.domain.streaks import current_streak, streak_milestones, week_of
from kinship_runtime.outbox import event_message

SOURCE = "kinship/recognition"


@dataclass(frozen=True)
class RecognitionContext:
    """What the use cases need besides the unit of work."""

    awards_topic: str
    requests_topic: str
    kudos_daily_limit: int
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class KudosOutcome:
    """What happened to one submission."""

    id: str
    accepted: bool
    duplicate: bool = False
    refusal: KudosRefusal | None = None


async def _award(unit: RecognitionUnit, ctx: RecognitionContext, award: Award) -> None:
    if not await unit.add_award(
        award.id, award.kind.value, award.person_id, award.subject_id, award.count
    ):
        return
    key = award.person_id or award.subject_id or award.id
    recipient = Recipient(person_id=award.person_id, subject_id=award.subject_id)
    request = NotificationRequest(
        id=f"celebration:{award.id}",
        kind=MessageKind.CELEBRATION,
        recipient=recipient,
        template="celebration",
        params={"text": award.title},
        created_at=award.occurred_at,
    )
    await unit.publish(
        [
            event_message(
                ctx.awards_topic,
                key,
                award,
                event_id=award.id,
                event_type=RECOGNITION_AWARDS.event_type,
                source=SOURCE,
                time=award.occurred_at,
            ),
            event_message(
                ctx.requests_topic,
                key,
                request,
                event_id=request.id,
                event_type=NOTIFICATION_REQUESTS.event_type,
                source=SOURCE,
                time=award.occurred_at,
            ),
        ]
    )


async def give_kudos(
    unit: RecognitionUnit, ctx: RecognitionContext, kudos: KudosSubmitted
) -> KudosOutcome:
    """Accept kudos once (no self-kudos, a daily limit, no markup) and celebrate them."""
    if await unit.is_known(kudos.id):
        return KudosOutcome(kudos.id, accepted=True, duplicate=True)
    now = ctx.clock()
    sent_today = await unit.sent_since(kudos.from_person_id, now - timedelta(days=1))
    refused = refusal(kudos, sent_today, ctx.kudos_daily_limit)
    if refused is not None:
        return KudosOutcome(kudos.id, accepted=False, refusal=refused)
    if not await unit.add_kudos(kudos, clean_message(kudos.message), now):
        return KudosOutcome(kudos.id, accepted=True, duplicate=True)
    await _award(
        unit,
        ctx,
        Award(
            id=f"kudos:{kudos.id}",
            kind=AwardKind.KUDOS_RECEIVED,
            person_id=kudos.to_person_id,
            title="A colleague sent you kudos",
            occurred_at=now,
        ),
    )
    milestone = milestone_reached(await unit.received(kudos.to_person_id))
    if milestone is not None:
        await _award(
            unit,
            ctx,
            Award(
                id=f"kudos-milestone:{kudos.to_person_id}:{milestone}",
                kind=AwardKind.KUDOS_MILESTONE,
                person_id=kudos.to_person_id,
                title=f"{milestone} kudos from colleagues",
                count=milestone,
                occurred_at=now,
            ),
        )
    return KudosOutcome(kudos.id, accepted=True)


async def record_checkins(
    unit: RecognitionUnit, ctx: RecognitionContext, events: Sequence[CheckinRecorded]
) -> None:
    """Count weeks with a check-in (in the person's zone) and award streak milestones.

    Only that a check-in happened is used: never its answers or scores.
    """
    for event in events:
        timezone = await unit.timezone_of_subject(event.subject_id) or "UTC"
        if not await unit.add_week(event.subject_id, week_of(event.occurred_at, timezone)):
            continue
        streak = current_streak(await unit.weeks(event.subject_id))
        for milestone in streak_milestones(streak):
            await _award(
                unit,
                ctx,
                Award(
                    id=f"streak:{event.subject_id}:{milestone}",
                    kind=AwardKind.CHECKIN_STREAK,
                    subject_id=event.subject_id,
                    title=f"{milestone} weeks of check-ins",
                    count=milestone,
                    occurred_at=ctx.clock(),
                ),
            )


async def record_case_events(
    unit: RecognitionUnit, ctx: RecognitionContext, events: Sequence[CaseEvent]
) -> None:
    """Appreciate responders: cases supported (milestones) and thanks from people supported.

    Only the responder is celebrated; the person supported is never named, and the outcome
    of a case is not used.
    """
    for event in events:
        if event.kind is CaseEventKind.RESOLVED and event.responder_id is not None:
            if not await unit.add_supported_case(
                event.case_id, event.responder_id, event.occurred_at
            ):
                continue
            supported = await unit.supported_by(event.responder_id)
            milestone = supported_milestone(supported)
            if milestone is not None:
                title = (
                    "Thank you for supporting a colleague"
                    if milestone == 1
                    else f"{milestone} colleagues supported"
                )
                await _award(
                    unit,
                    ctx,
                    Award(
                        id=f"supported:{event.responder_id}:{milestone}",
                        kind=AwardKind.RESPONDER_APPRECIATION,
                        person_id=event.responder_id,
                        title=title,
                        count=milestone,
                        occurred_at=ctx.clock(),
                    ),
                )
        elif (
            event.kind is CaseEventKind.FEEDBACK_RECEIVED
            and event.feedback_from == "person"
            and (event.feedback_score or 0) >= THANKS_SCORE
        ):
            responder = await unit.responder_of(event.case_id) or event.responder_id
            if responder is None:
                continue
            await _award(
                unit,
                ctx,
                Award(
                    id=f"thanks:{event.case_id}",
                    kind=AwardKind.RESPONDER_APPRECIATION,
                    person_id=responder,
                    title="Someone you supported says thank you",
                    occurred_at=ctx.clock(),
                ),
            )

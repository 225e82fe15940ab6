"""The recognition service's use cases: each runs inside one unit of work.

Awards have deterministic ids (``kudos:<id>``, ``kudos-milestone:<person>:<n>``,
``streak:<subject>:<n>``), so replaying any stream from its start awards nothing twice.
Nothing here reads scores, cases or outcomes: a celebration must never reveal distress.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.subjects import Pseudonymiser
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
from kinship_recognition.domain.reports import ProgrammeReport, Sources, Window, build_report
from kinship_recognition.domain.streaks import current_streak, streak_milestones, week_of
from kinship_recognition.domain.teams import participation_milestone, team_kudos_milestone
from kinship_runtime.outbox import event_message

SOURCE = "kinship/recognition"


@dataclass(frozen=True)
class RecognitionContext:
    """What the use cases need besides the unit of work."""

    awards_topic: str
    requests_topic: str
    kudos_daily_limit: int
    pseudonyms: Pseudonymiser
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class KudosOutcome:
    """What happened to one submission."""

    id: str
    accepted: bool
    duplicate: bool = False
    refusal: KudosRefusal | None = None


async def _award(
    unit: RecognitionUnit,
    ctx: RecognitionContext,
    award: Award,
    members: Sequence[str] = (),
) -> bool:
    """Publish an award once, and a celebration for its recipient (or each team member).

    False when the award was given before: a replay celebrates nothing twice.
    """
    if not await unit.add_award(
        award.id, award.kind.value, award.person_id, award.subject_id, award.team_id, award.count
    ):
        return False
    key = award.person_id or award.subject_id or award.team_id or award.id
    messages = [
        event_message(
            ctx.awards_topic,
            key,
            award,
            event_id=award.id,
            event_type=RECOGNITION_AWARDS.event_type,
            source=SOURCE,
            time=award.occurred_at,
        )
    ]
    if award.team_id is None:
        celebrations = [
            (
                f"celebration:{award.id}",
                key,
                Recipient(person_id=award.person_id, subject_id=award.subject_id),
            )
        ]
    else:
        celebrations = [
            (f"celebration:{award.id}:{member}", member, Recipient(person_id=member))
            for member in members
        ]
    for request_id, request_key, recipient in celebrations:
        request = NotificationRequest(
            id=request_id,
            kind=MessageKind.CELEBRATION,
            recipient=recipient,
            template="celebration",
            params={"text": award.title},
            created_at=award.occurred_at,
        )
        messages.append(
            event_message(
                ctx.requests_topic,
                request_key,
                request,
                event_id=request.id,
                event_type=NOTIFICATION_REQUESTS.event_type,
                source=SOURCE,
                time=award.occurred_at,
            )
        )
    await unit.publish(messages)
    return True


async def _celebrate_team(
    unit: RecognitionUnit,
    ctx: RecognitionContext,
    team_id: str,
    award_id: str,
    milestone: int,
    title: str,
) -> None:
    """A team award once, celebrated with each active member."""
    if await unit.is_awarded(award_id):
        return
    award = Award(
        id=award_id,
        kind=AwardKind.TEAM_MILESTONE,
        team_id=team_id,
        title=title,
        count=milestone,
        occurred_at=ctx.clock(),
    )
    await _award(unit, ctx, award, await unit.team_members(team_id))


async def _celebrate_team_kudos(
    unit: RecognitionUnit, ctx: RecognitionContext, sender: str
) -> None:
    team_id = await unit.team_of_person(sender)
    if team_id is None:
        return
    milestone = team_kudos_milestone(*await unit.team_kudos(team_id))
    if milestone is not None:
        title = f"Your team has thanked colleagues {milestone} times"
        await _celebrate_team(
            unit, ctx, team_id, f"team-kudos:{team_id}:{milestone}", milestone, title
        )


async def _celebrate_team_week(
    unit: RecognitionUnit, ctx: RecognitionContext, team_id: str, week: date
) -> None:
    milestone = participation_milestone(*await unit.team_week(team_id, week))
    if milestone is not None:
        title = f"{milestone}% of your team checked in in one week"
        await _celebrate_team(
            unit, ctx, team_id, f"team-participation:{team_id}:{milestone}", milestone, title
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
    await _celebrate_team_kudos(unit, ctx, kudos.from_person_id)
    return KudosOutcome(kudos.id, accepted=True)


async def record_checkins(
    unit: RecognitionUnit, ctx: RecognitionContext, events: Sequence[CheckinRecorded]
) -> None:
    """Count weeks with a check-in (in the person's zone) and award streak milestones.

    Only that a check-in happened is used: never its answers or scores. A batch costs a few
    statements whatever its size: the weeks are inserted together, and only subjects with a
    new week are looked at again.
    """
    subjects = sorted({event.subject_id for event in events})
    timezones = await unit.timezones_of(subjects)
    weeks = {
        (event.subject_id, week_of(event.occurred_at, timezones.get(event.subject_id, "UTC")))
        for event in events
    }
    new = await unit.add_weeks(sorted(weeks))
    if not new:
        return
    changed = sorted({subject for subject, _ in new})
    teams = await unit.teams_of_subjects(changed)
    for team_id, week in sorted({(teams[s], w) for s, w in new if s in teams}):
        await _celebrate_team_week(unit, ctx, team_id, week)
    history = await unit.weeks_of(changed)
    for subject_id in changed:
        for milestone in streak_milestones(current_streak(history.get(subject_id, []))):
            await _award(
                unit,
                ctx,
                Award(
                    id=f"streak:{subject_id}:{milestone}",
                    kind=AwardKind.CHECKIN_STREAK,
                    subject_id=subject_id,
                    title=f"{milestone} weeks of check-ins",
                    count=milestone,
                    occurred_at=ctx.clock(),
                ),
            )


async def record_case_events(
    unit: RecognitionUnit, ctx: RecognitionContext, events: Sequence[CaseEvent]
) -> None:
    """Keep each case's facts for programme reports, and appreciate responders: cases
    supported (milestones) and thanks from people supported.

    Only the responder is celebrated; the person supported is never named, and the outcome
    of a case is not used for any award.
    """
    for event in events:
        await unit.record_case_fact(event)
        if (
            event.kind is CaseEventKind.FEEDBACK_RECEIVED
            and event.feedback_from is not None
            and event.feedback_score is not None
        ):
            await unit.add_feedback(
                event.case_id,
                event.feedback_from,
                event.subject_id,
                event.feedback_score,
                event.occurred_at,
            )
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


async def record_pulse(
    unit: RecognitionUnit, ctx: RecognitionContext, responses: Sequence[PulseSubmitted]
) -> None:
    """Keep pulse answers under the respondent's pseudonym; their latest answers win."""
    for pulse in responses:
        await unit.add_pulse(pulse, ctx.pseudonyms.subject_id(pulse.person_id))


async def programme_report(
    unit: RecognitionUnit,
    ctx: RecognitionContext,
    weeks: int,
    team_id: str | None = None,
) -> ProgrammeReport:
    """The programme report for the last ``weeks`` weeks (this one included), k ≥ 5."""
    now = ctx.clock()
    window = Window.ending_with(now.date(), weeks)
    sources = Sources(
        window=window,
        members=await unit.members(team_id),
        participation=[
            *await unit.participation(window, team_id, by_week=True),
            *await unit.participation(window, team_id, by_week=False),
        ],
        cases=[*await unit.cases(window, by_week=True), *await unit.cases(window, by_week=False)],
        feedback=[
            *await unit.feedback(window, by_week=True),
            *await unit.feedback(window, by_week=False),
        ],
        pulse=[
            *await unit.pulse(window, team_id, by_week=True),
            *await unit.pulse(window, team_id, by_week=False),
        ],
    )
    return build_report(sources, team_id, generated_at=now)

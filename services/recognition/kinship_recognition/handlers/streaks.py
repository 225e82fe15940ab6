"""Check-in streaks: recorded check-ins become weeks (in the person's local time), weeks
become streak awards and team participation milestones.

Only that a check-in happened is used: never its answers or scores. Check-ins arrive by
subject id, and that is all this service knows of whose they are.
"""

from collections.abc import Sequence
from datetime import date, datetime

from kinship_contracts.awards import AwardKind
from kinship_contracts.checkins import CheckinRecorded
from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.streaks import current_streak, streak_milestones, week_of
from kinship_recognition.handlers.awards import AwardTopics, give, publish_awards
from kinship_recognition.handlers.ports import CheckinWeek, RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.handlers.teams import celebrate_participation


async def record_checkins(
    events: Sequence[CheckinRecorded],
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    vault: SubjectLookup,
    now: datetime,
) -> None:
    """Count weeks with a check-in and award streak and participation milestones.

    A batch costs a few statements whatever its size: the weeks are inserted together, and
    only subjects with a new week are looked at again. A week is the Monday to Sunday of the
    local time the check-in's ``occurred_at`` offset gives; a week counts for the team its
    first check-in named.
    """
    weeks: dict[tuple[str, date], CheckinWeek] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        checked_in = CheckinWeek(event.subject_id, week_of(event.occurred_at), event.team_id)
        weeks.setdefault((checked_in.subject_id, checked_in.week), checked_in)
    new = await uow.add_weeks([weeks[pair] for pair in sorted(weeks)], now)
    if not new:
        return
    given: list[Grant] = []
    team_weeks = {(team, w) for s, w in new if (team := weeks[s, w].team_id) is not None}
    for team_id, week in sorted(team_weeks):
        await celebrate_participation(team_id, week, uow, given)
    changed = sorted({subject for subject, _ in new})
    history = await uow.weeks_of(changed)
    for subject_id in changed:
        for milestone in streak_milestones(current_streak(history.get(subject_id, []))):
            grant = Grant(
                key=f"streak:{subject_id}:{milestone}",
                kind=AwardKind.CHECKIN_STREAK,
                title=f"{milestone} weeks of check-ins",
                count=milestone,
                subject_id=subject_id,
            )
            await give(grant, uow, given)
    await publish_awards(given, uow, topics, vault, now)

"""Check-in streaks: recorded check-ins become weeks (in the person's time zone), weeks
become streak awards and team participation milestones.

Only that a check-in happened is used: never its answers or scores.
"""

from collections.abc import Sequence
from datetime import datetime

from kinship_contracts.awards import Award, AwardKind
from kinship_contracts.checkins import CheckinRecorded
from kinship_recognition.domain.streaks import current_streak, streak_milestones, week_of
from kinship_recognition.handlers.awards import AwardTopics, publish_award
from kinship_recognition.handlers.ports import RecognitionUnitOfWork
from kinship_recognition.handlers.teams import celebrate_participation


async def record_checkins(
    events: Sequence[CheckinRecorded],
    uow: RecognitionUnitOfWork,
    topics: AwardTopics,
    now: datetime,
) -> None:
    """Count weeks with a check-in and award streak and participation milestones.

    A batch costs a few statements whatever its size: the weeks are inserted together, and
    only subjects with a new week are looked at again. A week is the person's local Monday
    to Sunday (UTC when the directory does not know them).
    """
    subjects = sorted({event.subject_id for event in events})
    timezones = await uow.timezones_of(subjects)
    weeks = {
        (event.subject_id, week_of(event.occurred_at, timezones.get(event.subject_id, "UTC")))
        for event in events
    }
    new = await uow.add_weeks(sorted(weeks))
    if not new:
        return
    changed = sorted({subject for subject, _ in new})
    teams = await uow.teams_of_subjects(changed)
    for team_id, week in sorted({(teams[s], w) for s, w in new if s in teams}):
        await celebrate_participation(team_id, week, uow, topics, now)
    history = await uow.weeks_of(changed)
    for subject_id in changed:
        for milestone in streak_milestones(current_streak(history.get(subject_id, []))):
            award = Award(
                id=f"streak:{subject_id}:{milestone}",
                kind=AwardKind.CHECKIN_STREAK,
                subject_id=subject_id,
                title=f"{milestone} weeks of check-ins",
                count=milestone,
                occurred_at=now,
            )
            await publish_award(award, uow, topics)

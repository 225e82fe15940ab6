"""Team participation: a week in which enough of a team's active members checked in is
celebrated with the whole team (only the highest milestone, once, and only with k ≥ 5)."""

from datetime import date

from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.teams import participation_milestone
from kinship_recognition.handlers.awards import TeamMilestone, celebrate_team
from kinship_recognition.handlers.ports import RecognitionUnitOfWork


async def celebrate_participation(
    team_id: str, week: date, uow: RecognitionUnitOfWork, given: list[Grant]
) -> None:
    """Celebrate the participation milestone a team reaches in ``week``, if any."""
    milestone = participation_milestone(*await uow.team_week(team_id, week))
    if milestone is None:
        return
    reached = TeamMilestone(
        team_id=team_id,
        key=f"team-participation:{team_id}:{milestone}",
        count=milestone,
        title=f"{milestone}% of your team checked in in one week",
    )
    await celebrate_team(reached, uow, given)

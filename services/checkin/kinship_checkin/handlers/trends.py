"""A team's wellbeing trend, as a manager may see it."""

from kinship_checkin.domain.trends import TeamTrend, team_trend
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_runtime.access import Actor


class NotYourTeamError(PermissionError):
    """Team trends are for that team's manager and for coordinators."""


async def team_trend_for(
    actor: Actor, team_id: str, uow: CheckinUnitOfWork, min_people: int, weeks: int = 12
) -> TeamTrend:
    """A team's weekly trend, with every group smaller than ``min_people`` suppressed: for the
    team's manager and for coordinators only."""
    if not actor.is_coordinator and (
        actor.person is None or team_id not in actor.person.managed_teams
    ):
        raise NotYourTeamError("team trends are for that team's manager and for coordinators")
    return team_trend(team_id, await uow.trend_cells(team_id, weeks), min_people)

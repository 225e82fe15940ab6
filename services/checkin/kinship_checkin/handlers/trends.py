"""A team's wellbeing trend, as a manager may see it."""

from kinship_checkin.domain.trends import TeamTrend, team_trend
from kinship_checkin.handlers.ports import CheckinUnitOfWork


async def team_trend_for(
    team_id: str, uow: CheckinUnitOfWork, min_people: int, weeks: int = 12
) -> TeamTrend:
    """A team's weekly trend, with every group smaller than ``min_people`` suppressed."""
    return team_trend(team_id, await uow.trend_cells(team_id, weeks), min_people)

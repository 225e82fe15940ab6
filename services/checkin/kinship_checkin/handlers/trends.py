"""A team's wellbeing trend, as a manager may see it.

Each closed week is released once, at its first reading (``domain.trends.release``), stored
(aggregates only: shown figures' counts and sums, or withheld, or quiet; no ids) and served
from the store ever after, as is each window's availability and whole-period people count.
Recomputed on every reading, a week read before and after a member's erasure (which deletes
their check-ins) gave that member's figures by subtraction; erasure leaves the stored weeks
alone, as they hold no personal data. A stored week is the week as first served: later
directory changes (people joining or leaving the team) do not rewrite it.
"""

from kinship_checkin.domain.trends import TeamTrend, release, served
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_runtime.access import Actor


class NotYourTeamError(PermissionError):
    """Team trends are for that team's manager and for coordinators."""


async def team_trend_for(
    actor: Actor, team_id: str, uow: CheckinUnitOfWork, min_people: int, weeks: int = 12
) -> TeamTrend:
    """A team's weekly trend, with every group smaller than ``min_people`` suppressed: for the
    team's manager and for coordinators only. Weeks and windows read before are served as
    stored; the others are decided from the check-ins and stored (in ``uow``'s transaction)."""
    if not actor.is_coordinator and (
        actor.person is None or team_id not in actor.person.managed_teams
    ):
        raise NotYourTeamError("team trends are for that team's manager and for coordinators")
    stored = await uow.released_trend(team_id, weeks)
    if not stored.complete:
        cells = await uow.trend_cells(team_id, weeks)
        decided = release(stored.mondays, stored.weeks, stored.window, cells, min_people)
        await uow.release_trend(team_id, decided.weeks, decided.window)
        # Read back: a concurrent first reading may have stored a week first; its copy wins.
        stored = await uow.released_trend(team_id, weeks)
    assert stored.window is not None and stored.complete, "released weeks were not stored"
    return served(team_id, stored.mondays, stored.weeks, stored.window, min_people)

"""The team manager's pages: the teams they manage, and each team's weekly trend.

The check-in service decides what a manager may see: only the teams the directory says they
manage, only closed weeks, and only groups of at least k people (k = 5 by default); a week
it hides arrives without figures. The console draws what it gets as an SVG on the server (no
script) with a table beside it as its text alternative, and says plainly when the trend is
withheld.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kinship_console.adapters.api import ApiError, NotAllowedError, TeamTrend
from kinship_console.domain.trend_chart import ChartWeek, trend_chart
from kinship_console.entrypoints.i18n import N_
from kinship_console.entrypoints.pages import BACK_HOME, ConsolePages

TREND_WEEKS = 12
TeamId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


@dataclass(frozen=True)
class TrendRow:
    """One line of the trend's table: a week with figures, withheld, or without check-ins."""

    week: ChartWeek
    people: int | None = None
    checkins: int | None = None
    who5_percent: float | None = None
    quiet: bool = False
    """No check-in from the team that week (the service sends no such week)."""


def trend_rows(trend: TeamTrend) -> list[TrendRow]:
    """The weeks of a trend, oldest first, with the weeks between them that had no check-in
    (so that the chart's spacing is true to time)."""
    rows: list[TrendRow] = []
    for week in sorted(trend.weeks, key=lambda item: item.week_start):
        if rows:
            gap = rows[-1].week.week_start + timedelta(weeks=1)
            while gap < week.week_start:
                rows.append(TrendRow(ChartWeek(gap, withheld=False), quiet=True))
                gap += timedelta(weeks=1)
        figures = week.figures
        if week.suppressed or figures is None:
            rows.append(TrendRow(ChartWeek(week.week_start, withheld=True)))
            continue
        rows.append(
            TrendRow(
                ChartWeek(
                    week.week_start,
                    withheld=False,
                    mood=figures.mood_mean,
                    stress=figures.stress_mean,
                    energy=figures.energy_mean,
                ),
                people=figures.people,
                checkins=figures.checkins,
                who5_percent=figures.who5_percent_mean,
            )
        )
    return rows


def week_end(start: date) -> date:
    return start + timedelta(days=6)


@dataclass
class ManagerPages:
    """The team manager's pages over the shared console."""

    console: ConsolePages

    async def teams(self, request: Request) -> Response:
        console = self.console
        console.person(request)
        try:
            me = await console.me(request, fresh=True)
        except ApiError as error:
            return console.problem_page(request, error, N_("Your teams could not be shown."))
        if not me.managed_teams:
            return console.state_page(
                request,
                403,
                N_("Not available to you"),
                N_(
                    "Team trends are for team managers, for the teams the directory says they "
                    "manage. If you think this is wrong, ask your coordinator."
                ),
                action=BACK_HOME,
            )
        if len(me.managed_teams) == 1:
            return RedirectResponse(f"/teams/{quote(me.managed_teams[0], safe='')}", 303)
        return console.pages.render(request, "teams.html", {"teams": me.managed_teams})

    async def team(self, request: Request, team_id: TeamId) -> HTMLResponse:
        console = self.console
        console.person(request)
        try:
            trend = await console.as_person(
                request, lambda token: console.api.team_trend(token, team_id, TREND_WEEKS)
            )
        except NotAllowedError as error:
            return console.problem_page(
                request, error, N_("Only the team's manager and coordinators read its trend.")
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("The team's trend could not be shown."))
        rows = trend_rows(trend) if trend.available else []
        shown = [row for row in rows if not row.week.withheld and not row.quiet]
        return console.pages.render(
            request,
            "team_trend.html",
            {
                "trend": trend,
                "rows": rows,
                "chart": trend_chart([row.week for row in rows]) if shown else None,
                "weeks_asked": TREND_WEEKS,
                "week_end": week_end,
            },
        )


def manager_routes(console: ConsolePages) -> APIRouter:
    """``/teams`` and ``/teams/{team_id}``."""
    pages = ManagerPages(console)
    router = APIRouter()
    router.add_api_route("/teams", pages.teams, methods=["GET"])
    router.add_api_route(
        "/teams/{team_id}", pages.team, methods=["GET"], response_class=HTMLResponse
    )
    return router

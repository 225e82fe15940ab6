"""HTTP API of the check-in service."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel

from kinship_checkin.domain.privacy import CheckinPrivacy
from kinship_checkin.domain.support import CrisisResources, SupportResource
from kinship_checkin.domain.trends import TrendFigures
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import Outcome, RecordingTopics, record_checkins
from kinship_checkin.handlers.trends import team_trend_for
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.checkins import CheckinSubmitted
from kinship_runtime.auth import Authenticated
from kinship_runtime.outbox import OutboxRelay


class CheckinAccepted(BaseModel):
    """The check-in is stored (or was already): 202 either way."""

    id: str
    status: Literal["accepted", "duplicate"]
    immediate_support: list[SupportResource] | None = None


class WeekFigures(BaseModel):
    """One week of a team trend; figures are null when fewer than k people contributed."""

    week_start: date
    suppressed: bool
    figures: TrendFigures | None


class TeamTrendResponse(BaseModel):
    """A team's aggregate trend; individual data is never shown."""

    team_id: str
    available: bool
    min_people: int
    message: str
    weeks: list[WeekFigures]
    overall: TrendFigures | None


def checkin_router() -> APIRouter:
    """Routes: ``POST /v1/checkins`` and ``GET /v1/teams/{team_id}/trends``."""
    router = APIRouter(prefix="/v1", tags=["checkins"], route_class=DishkaRoute)

    @router.post(
        "/checkins",
        status_code=status.HTTP_202_ACCEPTED,
        response_model_exclude_none=True,
        summary="Submit a check-in",
        responses={401: {"description": "No or unknown API key"}, 422: {"description": "Invalid"}},
    )
    async def submit_checkin(
        submission: CheckinSubmitted,
        _caller: Authenticated,
        uow: FromDishka[CheckinUnitOfWork],
        privacy: FromDishka[CheckinPrivacy],
        topics: FromDishka[RecordingTopics],
        crisis: FromDishka[CrisisResources],
        relay: FromDishka[OutboxRelay],
    ) -> CheckinAccepted:
        """Record a check-in once; the same id again changes nothing and answers 202 again.

        When the check-in shows immediate risk the response carries crisis resources at once.
        """
        async with uow:
            (result,) = await record_checkins([submission], uow, privacy, topics, datetime.now(UTC))
        relay.wake()
        return CheckinAccepted(
            id=result.id,
            status="accepted" if result.outcome is Outcome.RECORDED else "duplicate",
            immediate_support=list(crisis.resources) if result.immediate_support else None,
        )

    @router.get("/teams/{team_id}/trends", summary="A team's weekly wellbeing trend (k >= 5)")
    async def team_trends(
        team_id: Annotated[str, Path(min_length=1, max_length=200)],
        _caller: Authenticated,
        uow: FromDishka[CheckinUnitOfWork],
        settings: FromDishka[CheckinSettings],
        weeks: Annotated[int, Query(ge=1, le=52)] = 12,
    ) -> TeamTrendResponse:
        """Weekly aggregates, shown only for groups of at least k people (k = 5 by default)."""
        async with uow:
            trend = await team_trend_for(team_id, uow, settings.trends_min_people, weeks)
        k = trend.min_people
        return TeamTrendResponse(
            team_id=team_id,
            available=trend.available,
            min_people=k,
            message=(
                f"aggregates over at least {k} people; smaller groups are hidden"
                if trend.available
                else f"not enough responses: fewer than {k} people contributed in this period"
            ),
            weeks=[
                WeekFigures(
                    week_start=week.week_start,
                    suppressed=week.figures is None,
                    figures=week.figures,
                )
                for week in trend.weeks
            ],
            overall=trend.overall,
        )

    return router

"""HTTP API of the recognition service: kudos, pulse answers and programme reports."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel

from kinship_contracts.directory import Role
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.subjects import Pseudonymiser
from kinship_recognition.domain.kudos import KudosRefusal
from kinship_recognition.domain.reports import ProgrammeReport
from kinship_recognition.handlers import kudos as kudos_handlers
from kinship_recognition.handlers import reports as report_handlers
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.feedback import record_pulse
from kinship_recognition.handlers.ports import ChartFormat, ChartRenderer, RecognitionUnitOfWork
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.auth import Authenticated, Caller
from kinship_runtime.outbox import OutboxRelay

Weeks = Annotated[int, Query(ge=1, le=52, description="Weeks to report, this one included.")]
TeamId = Annotated[
    str | None, Query(max_length=128, description="One team instead of the organisation.")
]
MEDIA_TYPES: dict[ChartFormat, str] = {"svg": "image/svg+xml", "png": "image/png"}

_REFUSED_FIELD = {
    KudosRefusal.SELF_KUDOS: ("to_person_id", "kudos go to someone else"),
    KudosRefusal.EMPTY_MESSAGE: ("message", "the message is empty once markup is removed"),
}


class KudosAccepted(BaseModel):
    """The kudos were accepted (or had been before)."""

    id: str
    status: Literal["accepted", "duplicate"]


class PulseAccepted(BaseModel):
    """The answers were stored (a person's latest answers to a survey round count)."""

    id: str
    status: Literal["accepted"]


def _require_coordinator(caller: Caller) -> None:
    if not (caller.is_system or Role.COORDINATOR.value in caller.roles):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="coordinators only")


def _refused(refusal: KudosRefusal, daily_limit: int) -> HTTPException:
    """The answer to refused kudos: 429 over the daily limit, 422 with the field otherwise."""
    if refusal is KudosRefusal.DAILY_LIMIT:
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"at most {daily_limit} kudos a day; try tomorrow",
        )
    field, message = _REFUSED_FIELD[refusal]
    detail = [{"loc": ["body", field], "msg": message, "type": refusal.value}]
    return HTTPException(422, detail=detail)


def recognition_router() -> APIRouter:
    """Routes: ``POST /v1/kudos``, ``POST /v1/pulse`` and the programme report and chart."""
    router = APIRouter(route_class=DishkaRoute)

    @router.post("/v1/kudos", status_code=202, response_model=KudosAccepted, tags=["kudos"])
    async def give_kudos(
        kudos: KudosSubmitted,
        caller: Authenticated,
        uow: FromDishka[RecognitionUnitOfWork],
        topics: FromDishka[AwardTopics],
        settings: FromDishka[RecognitionSettings],
        relay: FromDishka[OutboxRelay],
    ) -> KudosAccepted:
        """Kudos to a colleague: the same id again is accepted with no second effect."""
        if caller.person_id is not None and caller.person_id != kudos.from_person_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="send kudos as yourself")
        limit = settings.kudos_daily_limit
        async with uow:
            outcome = await kudos_handlers.give_kudos(
                kudos, uow, topics, daily_limit=limit, now=datetime.now(UTC)
            )
        relay.wake()
        if outcome.refusal is not None:
            raise _refused(outcome.refusal, limit)
        return KudosAccepted(id=kudos.id, status="duplicate" if outcome.duplicate else "accepted")

    @router.post("/v1/pulse", status_code=202, response_model=PulseAccepted, tags=["evaluation"])
    async def answer_pulse(
        pulse: PulseSubmitted,
        caller: Authenticated,
        uow: FromDishka[RecognitionUnitOfWork],
        pseudonyms: FromDishka[Pseudonymiser],
    ) -> PulseAccepted:
        """Answers to a programme pulse survey (the same body as ``programme.pulse.submitted``)."""
        if caller.person_id is not None and caller.person_id != pulse.person_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="answer as yourself")
        async with uow:
            await record_pulse([pulse], uow, pseudonyms)
        return PulseAccepted(id=pulse.id, status="accepted")

    @router.get("/v1/reports/programme", response_model=ProgrammeReport, tags=["evaluation"])
    async def programme_report(
        caller: Authenticated,
        uow: FromDishka[RecognitionUnitOfWork],
        weeks: Weeks = 12,
        team_id: TeamId = None,
    ) -> ProgrammeReport:
        """Participation, time to acknowledge, outcomes and satisfaction by week (coordinators).

        Every group shown has at least five people; the rest is listed under ``withheld``.
        """
        _require_coordinator(caller)
        async with uow:
            return await report_handlers.programme_report(uow, weeks, team_id, datetime.now(UTC))

    @router.get(
        "/v1/reports/programme/chart.{fmt}",
        tags=["evaluation"],
        response_class=Response,
        responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
    )
    async def programme_chart(
        fmt: ChartFormat,
        caller: Authenticated,
        uow: FromDishka[RecognitionUnitOfWork],
        chart: FromDishka[ChartRenderer],
        weeks: Weeks = 12,
        team_id: TeamId = None,
    ) -> Response:
        """The report's weekly trends as an SVG or PNG chart (coordinators)."""
        _require_coordinator(caller)
        async with uow:
            report = await report_handlers.programme_report(uow, weeks, team_id, datetime.now(UTC))
        drawn = await report_handlers.programme_chart(report, chart, fmt)
        return Response(drawn, media_type=MEDIA_TYPES[fmt])

    return router

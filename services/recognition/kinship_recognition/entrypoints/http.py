"""HTTP API of the recognition service."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel

from kinship_contracts.directory import Role
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition import handlers
from kinship_recognition.adapters.chart import MEDIA_TYPES, ChartFormat, render
from kinship_recognition.bootstrap import RecognitionService
from kinship_recognition.domain.kudos import KudosRefusal
from kinship_recognition.domain.reports import ProgrammeReport
from kinship_runtime.auth import Caller

Weeks = Annotated[int, Query(ge=1, le=52, description="Weeks to report, this one included.")]
TeamId = Annotated[
    str | None, Query(max_length=128, description="One team instead of the organisation.")
]


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


def recognition_router(service: RecognitionService) -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    authenticated = Depends(service.authenticator.dependency())

    @router.post("/v1/kudos", status_code=202, response_model=KudosAccepted, tags=["kudos"])
    async def give_kudos(
        kudos: KudosSubmitted, caller: Annotated[Caller, authenticated]
    ) -> KudosAccepted:
        """Kudos to a colleague: the same id again is accepted with no second effect."""
        if caller.person_id is not None and caller.person_id != kudos.from_person_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="send kudos as yourself")
        async with service.store.unit() as unit:
            outcome = await handlers.give_kudos(unit, service.context, kudos)
        service.relay.wake()
        if outcome.refusal is KudosRefusal.DAILY_LIMIT:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"at most {service.settings.kudos_daily_limit} kudos a day; try tomorrow",
            )
        if outcome.refusal is not None:
            field = "to_person_id" if outcome.refusal is KudosRefusal.SELF_KUDOS else "message"
            message = {
                KudosRefusal.SELF_KUDOS: "kudos go to someone else",
                KudosRefusal.EMPTY_MESSAGE: "the message is empty once markup is removed",
            }[outcome.refusal]
            detail = [{"loc": ["body", field], "msg": message, "type": outcome.refusal.value}]
            raise HTTPException(422, detail=detail)
        return KudosAccepted(id=kudos.id, status="duplicate" if outcome.duplicate else "accepted")

    @router.post("/v1/pulse", status_code=202, response_model=PulseAccepted, tags=["evaluation"])
    async def answer_pulse(
        pulse: PulseSubmitted, caller: Annotated[Caller, authenticated]
    ) -> PulseAccepted:
        """Answers to a programme pulse survey (the same body as ``programme.pulse.submitted``)."""
        if caller.person_id is not None and caller.person_id != pulse.person_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="answer as yourself")
        async with service.store.unit() as unit:
            await handlers.record_pulse(unit, service.context, [pulse])
        return PulseAccepted(id=pulse.id, status="accepted")

    async def report(weeks: int, team_id: str | None) -> ProgrammeReport:
        async with service.store.unit() as unit:
            return await handlers.programme_report(unit, service.context, weeks, team_id)

    @router.get("/v1/reports/programme", response_model=ProgrammeReport, tags=["evaluation"])
    async def programme_report(
        caller: Annotated[Caller, authenticated], weeks: Weeks = 12, team_id: TeamId = None
    ) -> ProgrammeReport:
        """Participation, time to acknowledge, outcomes and satisfaction by week (coordinators).

        Every group shown has at least five people; the rest is listed under ``withheld``.
        """
        _require_coordinator(caller)
        return await report(weeks, team_id)

    @router.get(
        "/v1/reports/programme/chart.{fmt}",
        tags=["evaluation"],
        response_class=Response,
        responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
    )
    async def programme_chart(
        fmt: ChartFormat,
        caller: Annotated[Caller, authenticated],
        weeks: Weeks = 12,
        team_id: TeamId = None,
    ) -> Response:
        """The report's weekly trends as an SVG or PNG chart (coordinators)."""
        _require_coordinator(caller)
        drawn = await asyncio.to_thread(render, await report(weeks, team_id), fmt)
        return Response(drawn, media_type=MEDIA_TYPES[fmt])

    return router

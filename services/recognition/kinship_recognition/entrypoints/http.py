"""HTTP API of the recognition service: kudos, pulse answers and programme reports.

Every route states who may call it (``kinship_runtime.access``), the least each needs:

- ``POST /v1/kudos``: a calling system with ``kudos:submit``, or any signed-in person, only
  as themself (``from_person_id``); rate limited.
- ``POST /v1/pulse``: a calling system with ``pulse:submit``, or any signed-in person, only
  as themself (``person_id``); rate limited.
- ``GET /v1/me/streak`` and ``GET /v1/me/data``: any signed-in person, about themself only
  (never a key).
- ``GET /v1/reports/programme`` and its chart: coordinators (a role the directory gives, never
  a token claim), or a calling system with ``reports:read`` (aggregates only, k ≥ 5).
"""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict

from kinship_contracts.directory import Role
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.domain.kudos import KudosRefusal
from kinship_recognition.domain.records import KudosRecord
from kinship_recognition.domain.reports import ProgrammeReport
from kinship_recognition.domain.streaks import StreakSummary
from kinship_recognition.handlers import kudos as kudos_handlers
from kinship_recognition.handlers import reports as report_handlers
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.feedback import record_pulse
from kinship_recognition.handlers.me import my_records, my_streak
from kinship_recognition.handlers.ports import (
    ChartFormat,
    ChartRenderer,
    RecognitionUnitOfWork,
    SubjectLookup,
)
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.access import OWN_DATA, Actor, allow
from kinship_runtime.identity import Scope
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.vault import VaultUnavailableError

SubmitKudos = Annotated[
    Actor, Depends(allow(scopes=[Scope.KUDOS_SUBMIT], everyone=True, rate_limited=True))
]
SubmitPulse = Annotated[
    Actor, Depends(allow(scopes=[Scope.PULSE_SUBMIT], everyone=True, rate_limited=True))
]
# Every call asks the check-in service's vault: limited per person (own bucket).
PersonOnly = Annotated[Actor, Depends(allow(everyone=True, rate_limited=True, bucket=OWN_DATA))]
ReadReports = Annotated[
    Actor, Depends(allow(scopes=[Scope.REPORTS_READ], roles=[Role.COORDINATOR]))
]

Weeks = Annotated[int, Query(ge=1, le=52, description="Closed weeks to report.")]
TeamId = Annotated[
    str | None, Query(max_length=128, description="One team instead of the organisation.")
]
MEDIA_TYPES: dict[ChartFormat, str] = {"svg": "image/svg+xml", "png": "image/png"}
VAULT_RETRY_SECONDS = 5

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


def _vault_away() -> HTTPException:
    """503: the check-in service's vault did not answer; nothing was stored."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail="the check-in service is unavailable; nothing was stored, try again shortly",
        headers={"Retry-After": str(VAULT_RETRY_SECONDS)},
    )


_routes = APIRouter(route_class=DishkaRoute)


@_routes.post("/v1/kudos", status_code=202, response_model=KudosAccepted, tags=["kudos"])
async def give_kudos(
    kudos: KudosSubmitted,
    actor: SubmitKudos,
    uow: FromDishka[RecognitionUnitOfWork],
    topics: FromDishka[AwardTopics],
    vault: FromDishka[SubjectLookup],
    settings: FromDishka[RecognitionSettings],
    relay: FromDishka[OutboxRelay],
) -> KudosAccepted:
    """Kudos to a colleague: the same id again is accepted with no second effect.

    People send kudos only as themselves; calling systems need ``kudos:submit``.
    """
    actor.require_self(kudos.from_person_id, "send kudos")
    limit = settings.kudos_daily_limit
    try:
        async with uow:
            (outcome,) = await kudos_handlers.give_kudos(
                [kudos], uow, topics, vault, daily_limit=limit, now=datetime.now(UTC)
            )
    except VaultUnavailableError:
        raise _vault_away() from None
    relay.wake()
    if outcome.refusal is not None:
        raise _refused(outcome.refusal, limit)
    return KudosAccepted(id=kudos.id, status="duplicate" if outcome.duplicate else "accepted")


@_routes.post("/v1/pulse", status_code=202, response_model=PulseAccepted, tags=["evaluation"])
async def answer_pulse(
    pulse: PulseSubmitted,
    actor: SubmitPulse,
    uow: FromDishka[RecognitionUnitOfWork],
    vault: FromDishka[SubjectLookup],
) -> PulseAccepted:
    """Answers to a programme pulse survey (the same body as ``programme.pulse.submitted``).

    People answer only as themselves; calling systems need ``pulse:submit``.
    """
    actor.require_self(pulse.person_id, "answer pulse surveys")
    try:
        async with uow:
            await record_pulse([pulse], uow, vault, datetime.now(UTC))
    except VaultUnavailableError:
        raise _vault_away() from None
    return PulseAccepted(id=pulse.id, status="accepted")


@_routes.get("/v1/reports/programme", response_model=ProgrammeReport, tags=["evaluation"])
async def programme_report(
    _actor: ReadReports,
    uow: FromDishka[RecognitionUnitOfWork],
    weeks: Weeks = 12,
    team_id: TeamId = None,
) -> ProgrammeReport:
    """Participation, time to acknowledge, outcomes and satisfaction by closed week
    (coordinators, or systems with ``reports:read``).

    Every group shown has at least five people, and no hidden group can be worked out by
    subtraction; the rest is listed under ``withheld``.
    """
    async with uow:
        return await report_handlers.programme_report(uow, weeks, team_id, datetime.now(UTC))


@_routes.get(
    "/v1/reports/programme/chart.{fmt}",
    tags=["evaluation"],
    response_class=Response,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
)
async def programme_chart(
    fmt: ChartFormat,
    _actor: ReadReports,
    uow: FromDishka[RecognitionUnitOfWork],
    chart: FromDishka[ChartRenderer],
    weeks: Weeks = 12,
    team_id: TeamId = None,
) -> Response:
    """The report's weekly trends as an SVG or PNG chart (coordinators, or systems with
    ``reports:read``)."""
    async with uow:
        report = await report_handlers.programme_report(uow, weeks, team_id, datetime.now(UTC))
    drawn = await report_handlers.programme_chart(report, chart, fmt)
    return Response(drawn, media_type=MEDIA_TYPES[fmt])


PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class StreakView(BaseModel):
    """Your weekly check-in streak: a week counts with one check-in (Monday to Sunday, your
    local time); one missed week is forgiven, two in a row end the run."""

    current_weeks: int
    longest_weeks: int
    last_week: date | None
    weeks_with_checkin: int

    @classmethod
    def of(cls, summary: StreakSummary) -> "StreakView":
        """The view of a summary."""
        return cls(
            current_weeks=summary.current,
            longest_weeks=summary.longest,
            last_week=summary.last_week,
            weeks_with_checkin=summary.weeks,
        )


class _Record(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class KudosView(_Record):
    """Kudos you sent or received, with their text."""

    id: str
    from_person_id: str
    to_person_id: str
    message: str
    occurred_at: datetime
    received_at: datetime


class AwardView(_Record):
    """An award addressed to you."""

    id: str
    kind: str
    count: int | None
    awarded_at: datetime | None


class PulseView(_Record):
    """Your answers to a pulse survey round."""

    survey_id: str
    answered_at: datetime
    answers: dict[str, int | None]


class CaseFactView(_Record):
    """The facts kept of a case about you (times and outcome)."""

    case_id: str
    severity: str
    opened_at: datetime | None
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None


class FeedbackView(_Record):
    """A feedback score on a case about you."""

    case_id: str
    given_by: str
    score: int
    given_at: datetime


class MyRecognitionData(BaseModel):
    """Everything the recognition service keeps about you."""

    service: Literal["recognition"] = "recognition"
    person_id: str
    kudos_sent: list[KudosView]
    kudos_received: list[KudosView]
    streak: StreakView
    checkin_weeks: list[date]
    awards: list[AwardView]
    pulse_answers: list[PulseView]
    cases: list[CaseFactView]
    case_feedback: list[FeedbackView]
    cases_supported: list[str]


@_routes.get("/v1/me/streak", response_model=StreakView, tags=["kudos"])
async def streak(
    actor: PersonOnly,
    response: Response,
    uow: FromDishka[RecognitionUnitOfWork],
    vault: FromDishka[SubjectLookup],
) -> StreakView:
    """Your current and longest weekly check-in streak (people only, about themselves)."""
    response.headers.update(PRIVATE)
    assert actor.person_id is not None  # the policy admits people only
    try:
        async with uow:
            summary = await my_streak(actor.person_id, uow, vault, datetime.now(UTC).date())
    except VaultUnavailableError:
        raise _vault_away() from None
    return StreakView.of(summary)


@_routes.get("/v1/me/data", response_model=MyRecognitionData, tags=["privacy"])
async def my_data(
    actor: PersonOnly,
    response: Response,
    uow: FromDishka[RecognitionUnitOfWork],
    vault: FromDishka[SubjectLookup],
) -> MyRecognitionData:
    """Everything this service keeps about you: kudos you sent and received, your
    check-in weeks and streak, awards addressed to you, your pulse answers, the facts and
    feedback of cases about you, the cases you supported (people only, themselves)."""
    response.headers.update(PRIVATE)
    me = actor.person_id
    assert me is not None
    try:
        async with uow:
            records, summary = await my_records(me, uow, vault, datetime.now(UTC).date())
    except VaultUnavailableError:
        raise _vault_away() from None

    def kudos(items: list[KudosRecord]) -> list[KudosView]:
        return [KudosView.model_validate(item) for item in items]

    return MyRecognitionData(
        person_id=me,
        kudos_sent=kudos([k for k in records.kudos if k.from_person_id == me]),
        kudos_received=kudos([k for k in records.kudos if k.to_person_id == me]),
        streak=StreakView.of(summary),
        checkin_weeks=records.checkin_weeks,
        awards=[AwardView.model_validate(item) for item in records.awards],
        pulse_answers=[PulseView.model_validate(item) for item in records.pulse],
        cases=[CaseFactView.model_validate(item) for item in records.cases],
        case_feedback=[FeedbackView.model_validate(item) for item in records.feedback],
        cases_supported=records.cases_supported,
    )


def recognition_router() -> APIRouter:
    """Routes: ``POST /v1/kudos``, ``POST /v1/pulse`` and the programme report and chart."""
    return _routes

"""HTTP API of on-call schedules: schedules and overrides for coordinators, who is on call
for staff, calendar feeds at secret URLs, and the on-call load report.

Who may call what: schedules, overrides and the load report are for coordinators;
``/v1/oncall/now`` for peer responders and coordinators; a calendar feed is asked for by any
signed-in person (their own shifts, or a schedule they coordinate or take part in) and read
without signing in, at a URL whose token is its only proof (calendar apps cannot sign in).
Answers carry person ids only: never names, never anything about a case.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from kinship_contracts.directory import Role
from kinship_escalation.domain.cases import NotAllowedError
from kinship_escalation.domain.schedules import (
    FairShareReport,
    OnCallLoad,
    Override,
    Schedule,
    ShiftSource,
)
from kinship_escalation.domain.schedules.model import Name
from kinship_escalation.handlers import away, schedules
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork, FeedKind
from kinship_escalation.handlers.schedules import (
    FeedNotFoundError,
    InvalidScheduleChangeError,
    OverrideNotFoundError,
    ScheduleInUseError,
    ScheduleNotFoundError,
)
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.access import Actor, allow

Uow = FromDishka[EscalationUnitOfWork]
Context = FromDishka[EscalationContext]
Settings = FromDishka[EscalationSettings]

Coordinators = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR]))]
Staff = Annotated[Actor, Depends(allow(roles=[Role.PEER_RESPONDER, Role.COORDINATOR]))]
"""Peer responders and coordinators: the people who take or arrange on-call turns."""
People = Annotated[Actor, Depends(allow(everyone=True))]
"""Any signed-in person (row-level: their own feeds); never a key."""

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
"""Headers of answers that carry a feed's secret URL, or are fetched by one."""
CALENDAR = "text/calendar; charset=utf-8"

oncall_routes = APIRouter(route_class=DishkaRoute, tags=["on-call"])


def _person(actor: Actor) -> str:
    """The signed-in person (every route here admits people only)."""
    assert actor.person_id is not None
    return actor.person_id


@contextmanager
def _answers(headers: dict[str, str] | None = None) -> Iterator[None]:
    """Handler errors as HTTP answers: missing → 404, not allowed → 403, a policy still
    targeting the schedule → 409, a change or period that cannot be → 422."""
    try:
        yield
    except (ScheduleNotFoundError, OverrideNotFoundError, FeedNotFoundError) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error), headers) from error
    except NotAllowedError as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error), headers) from error
    except ScheduleInUseError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error), headers) from error
    except InvalidScheduleChangeError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error), headers) from error
    except away.InvalidAwayError as error:
        raise RequestValidationError(
            [{"loc": ("body", "until"), "msg": str(error), "type": "value_error"}]
        ) from error


# ---- schedules and overrides (coordinators) ---------------------------------------------------


def _schedule_body(name: str, body: dict[str, Any]) -> Schedule:
    """The schedule a PUT body describes; its name, when given, must be the path's."""
    if body.get("name", name) != name:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "name"),
                    "msg": f"the body names another schedule than the path ({name!r}): "
                    "leave 'name' out or make it the same",
                    "type": "value_error",
                }
            ]
        )
    try:
        return Schedule.model_validate({**body, "name": name})
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("body", *detail["loc"])} for detail in error.errors()]
        ) from error


@oncall_routes.put("/v1/schedules/{name}", response_model=Schedule)
async def put_schedule(
    name: str,
    body: Annotated[
        dict[str, Any],
        Body(description="A schedule (docs/oncall.md); 'name' may be left out: the path's."),
    ],
    actor: Coordinators,
    uow: Uow,
    ctx: Context,
) -> Schedule:
    """Create or replace an on-call schedule: layers, overrides, swaps, holidays in a named
    time zone (coordinators; audited)."""
    schedule = _schedule_body(name, body)
    with _answers():
        async with uow:
            return await schedules.save_schedule(schedule, uow, _person(actor), ctx.clock())


@oncall_routes.get("/v1/schedules", response_model=list[Schedule])
async def get_schedules(_actor: Coordinators, uow: Uow) -> list[Schedule]:
    """Every stored schedule, by name (coordinators; rotations are at ``/v1/rotations``)."""
    async with uow:
        return await schedules.list_schedules(uow)


@oncall_routes.get("/v1/schedules/{name}", response_model=Schedule)
async def get_schedule(name: str, _actor: Coordinators, uow: Uow) -> Schedule:
    """One stored schedule (coordinators)."""
    with _answers():
        async with uow:
            return await schedules.get_schedule(name, uow)


@oncall_routes.delete("/v1/schedules/{name}", status_code=204)
async def delete_schedule(name: str, actor: Coordinators, uow: Uow, ctx: Context) -> Response:
    """Remove a schedule (coordinators; audited); 409 while a stored escalation policy
    targets it."""
    with _answers():
        async with uow:
            await schedules.delete_schedule(name, uow, _person(actor), ctx.clock())
    return Response(status_code=204)


class OverrideView(BaseModel):
    """An override with its id (for ``DELETE .../overrides/{id}``)."""

    id: str
    person_id: str
    start: datetime
    end: datetime
    layer: str | None

    @classmethod
    def of(cls, stored: schedules.StoredOverride) -> Self:
        """The view of a stored override."""
        return cls(id=stored.id, **stored.override.model_dump())


@oncall_routes.get("/v1/schedules/{name}/overrides", response_model=list[OverrideView])
async def get_overrides(name: str, _actor: Coordinators, uow: Uow) -> list[OverrideView]:
    """A schedule's overrides with their ids, in order: where they overlap, the last wins."""
    with _answers():
        async with uow:
            found = await schedules.list_overrides(name, uow)
    return [OverrideView.of(stored) for stored in found]


@oncall_routes.post("/v1/schedules/{name}/overrides", response_model=OverrideView, status_code=201)
async def post_override(
    name: str, override: Override, actor: Coordinators, uow: Uow, ctx: Context
) -> OverrideView:
    """Put someone on call for a window, over the whole schedule or in place of one layer's
    responder (coordinators; audited). It wins where it overlaps earlier overrides; the same
    override posted again is kept once, with the same id."""
    with _answers():
        async with uow:
            stored = await schedules.add_override(name, override, uow, _person(actor), ctx.clock())
    return OverrideView.of(stored)


@oncall_routes.delete("/v1/schedules/{name}/overrides/{override_id}", status_code=204)
async def delete_override(
    name: str, override_id: str, actor: Coordinators, uow: Uow, ctx: Context
) -> Response:
    """Remove an override (coordinators; audited)."""
    with _answers():
        async with uow:
            await schedules.remove_override(name, override_id, uow, _person(actor), ctx.clock())
    return Response(status_code=204)


# ---- who is on call (staff) -------------------------------------------------------------------


class OnCallShiftView(BaseModel):
    """Who answers now, from which layer and why, and until when."""

    person_id: str
    layer: str | None = Field(description="None: a schedule-wide override.")
    source: ShiftSource = Field(
        description="rotation, swap, override, or rest_cover (covering a resting participant)."
    )
    until: datetime = Field(description="When this shift ends.")


class ScheduleNowView(BaseModel):
    """One schedule (or rotation) at the instant asked about."""

    schedule: str
    kind: Literal["schedule", "rotation"]
    time_zone: str
    on_call: OnCallShiftView | None = Field(description="None: nobody is on call.")
    order: list[str] = Field(description="Whom escalation tries, in order.")
    resting: list[str] = Field(
        description="Participants resting after a critical case: skipped, the next answers."
    )
    away: list[str] = Field(
        default_factory=list,
        description="Participants who said they are away: skipped, the next answers.",
    )
    next_handoff: datetime | None = Field(description="When the responder next changes.")
    next_on_call: list[str] = Field(description="Who is on call from the next hand-off.")

    @classmethod
    def of(cls, now: schedules.ScheduleNow) -> Self:
        """The view of one schedule's answer."""
        shift = now.current
        return cls(
            schedule=now.schedule.name,
            kind=now.kind,
            time_zone=now.schedule.time_zone,
            on_call=OnCallShiftView(
                person_id=shift.person_id, layer=shift.layer, source=shift.source, until=shift.end
            )
            if shift is not None
            else None,
            order=now.order,
            resting=now.resting,
            away=now.away,
            next_handoff=now.next_handoff,
            next_on_call=now.next_on_call,
        )


class OnCallNowView(BaseModel):
    """Every schedule and rotation at one instant."""

    at: datetime
    schedules: list[ScheduleNowView]


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Instants the read routes answer about: schedules are computed on the wall clock, and a
year like 1 or 9999 has no room for a shift around it (422, never a 500)."""


def _within(value: datetime | None, name: str) -> None:
    if value is not None and not EARLIEST <= value < LATEST:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "ask about an instant between 1970 and 2200",
                    "type": "value_error",
                }
            ]
        )


@oncall_routes.get("/v1/oncall/now", response_model=OnCallNowView)
async def oncall_now(
    actor: Staff,
    uow: Uow,
    ctx: Context,
    at: Annotated[
        AwareDatetime | None,
        Query(description="Any instant, RFC 3339 with an offset (default: now)."),
    ] = None,
) -> OnCallNowView:
    """Who is on call in every schedule and rotation, who is next and when the hand-off is
    (peer responders and coordinators). People resting after a critical case are skipped;
    who is resting is shown to coordinators, and to each person about themself only (rest
    follows a critical case: colleagues need not know who just had one). People away are
    skipped too, and listed under ``away`` by the same rule."""
    _within(at, "at")
    now = ctx.clock()
    instant = at or now
    async with uow:
        found = await schedules.on_call_now(uow, instant, now)
    views = [ScheduleNowView.of(s) for s in found]
    if not actor.is_coordinator:
        me = _person(actor)
        views = [
            v.model_copy(
                update={
                    "resting": [p for p in v.resting if p == me],
                    "away": [p for p in v.away if p == me],
                }
            )
            for v in views
        ]
    return OnCallNowView(at=instant, schedules=views)


# ---- away (staff, about themselves) -----------------------------------------------------------


class AwayView(BaseModel):
    """Until when you are away (None: you are not)."""

    away_until: datetime | None


class AwayRequest(BaseModel):
    """Away until a time: in the future, at most 90 days ahead."""

    model_config = ConfigDict(extra="forbid")

    until: AwareDatetime = Field(description="RFC 3339 with an offset.")


@oncall_routes.get("/v1/me/away", response_model=AwayView)
async def get_away(actor: Staff, uow: Uow, ctx: Context) -> AwayView:
    """Until when you said you are away (``null``: you are not, or it has ended)."""
    with _answers():
        async with uow:
            until = await away.away_until(_person(actor), uow, ctx.clock())
    return AwayView(away_until=until)


@oncall_routes.put("/v1/me/away", response_model=AwayView)
async def put_away(body: AwayRequest, actor: Staff, uow: Uow, ctx: Context) -> AwayView:
    """Say you are away until a time (peer responders and coordinators; audited): until then
    you are not alerted, like someone resting after a critical case (the next one answers),
    and it ends by itself. 422 for a time not in the future or more than 90 days ahead."""
    with _answers():
        async with uow:
            until = await away.set_away(_person(actor), body.until, uow, ctx.clock())
    return AwayView(away_until=until)


@oncall_routes.delete("/v1/me/away", status_code=204)
async def delete_away(actor: Staff, uow: Uow, ctx: Context) -> Response:
    """Say you are back now (audited when you were away)."""
    with _answers():
        async with uow:
            await away.end_away(_person(actor), uow, ctx.clock())
    return Response(status_code=204)


# ---- responder wellbeing (coordinators) -------------------------------------------------------


class LoadView(BaseModel):
    """On-call load per person and each schedule's fair shares over a period."""

    start: datetime
    end: datetime
    people: list[OnCallLoad]
    schedules: dict[str, FairShareReport]


@oncall_routes.get("/v1/oncall/load", response_model=LoadView)
async def oncall_load(
    _actor: Coordinators,
    uow: Uow,
    ctx: Context,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="Default: 28 days before 'to'.")
    ] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="Default: now.")] = None,
) -> LoadView:
    """Per person: time on call, at night, pages, night pages and cases; per schedule: each
    participant's share of the covered time (coordinators). At most 366 days at a time."""
    _within(start, "from")
    _within(end, "to")
    end = end or ctx.clock()
    start = start or end - timedelta(days=28)
    with _answers():
        async with uow:
            report = await schedules.load_report(start, end, uow)
    return LoadView(
        start=report.start,
        end=report.end,
        people=report.people,
        schedules=dict(report.schedules),
    )


# ---- calendar feeds ---------------------------------------------------------------------------


class FeedRequest(BaseModel):
    """The feed of one schedule, or of a person's own shifts ("me")."""

    model_config = ConfigDict(extra="forbid")

    schedule: Name | None = None
    person: str | None = Field(default=None, description="'me' (or your own person id).")

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.schedule is None) == (self.person is None):
            raise ValueError("give either 'schedule' or 'person' (\"me\")")
        return self


class FeedView(BaseModel):
    """A feed's secret URL: subscribe to it in a calendar app; keep it like a password."""

    url: str
    kind: FeedKind
    subject: str


class FeedListItem(BaseModel):
    """A feed you have (its URL is shown only when it is issued)."""

    kind: FeedKind
    subject: str
    created_at: datetime


@oncall_routes.post("/v1/calendar-feeds", response_model=FeedView, status_code=201)
async def post_calendar_feed(
    body: FeedRequest,
    actor: People,
    response: Response,
    uow: Uow,
    ctx: Context,
    settings: Settings,
) -> FeedView:
    """A new secret iCalendar URL for a schedule (coordinators and its participants) or for
    your own shifts; the URL you had for the same feed stops working (rotation). Audited."""
    response.headers.update(PRIVATE)
    me = _person(actor)
    kind: FeedKind = "schedule" if body.schedule is not None else "person"
    subject = body.schedule if body.schedule is not None else body.person
    subject = me if subject == "me" else subject
    assert subject is not None
    with _answers(PRIVATE):
        async with uow:
            token = await schedules.mint_feed(
                kind, subject, me, actor.is_coordinator, uow, ctx.clock()
            )
    url = f"{settings.public_url.rstrip('/')}/v1/calendar/{token}.ics"
    return FeedView(url=url, kind=kind, subject=subject)


@oncall_routes.get("/v1/calendar-feeds", response_model=list[FeedListItem])
async def get_calendar_feeds(actor: People, uow: Uow) -> list[FeedListItem]:
    """The calendar feeds you have (never their URLs: rotate one to get a new URL)."""
    async with uow:
        found = await schedules.feeds_of(_person(actor), uow)
    return [FeedListItem(kind=f.kind, subject=f.subject, created_at=f.created_at) for f in found]


@oncall_routes.delete("/v1/calendar-feeds/{kind}/{subject}", status_code=204)
async def delete_calendar_feed(
    kind: FeedKind, subject: str, actor: People, uow: Uow, ctx: Context
) -> Response:
    """Stop your feed of a schedule (``schedule/<name>``) or of your shifts (``person/me``);
    its URL answers 404 from now on. Audited."""
    me = _person(actor)
    with _answers():
        async with uow:
            await schedules.revoke_feed(
                kind, me if subject == "me" else subject, me, uow, ctx.clock()
            )
    return Response(status_code=204)


@oncall_routes.get(
    "/v1/calendar/{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "An iCalendar feed."}},
)
async def calendar_feed(token: str, uow: Uow, ctx: Context) -> Response:
    """An iCalendar (RFC 5545) feed of on-call shifts, four weeks back and three months
    ahead, in UTC. Public: the token in the URL is its proof, and the access log shows the
    route template, never the token. 404 for a token replaced, revoked or never issued."""
    with _answers(PRIVATE):
        async with uow:
            document = await schedules.render_feed(token, uow, ctx.clock())
    return Response(content=document, media_type=CALENDAR, headers=PRIVATE)

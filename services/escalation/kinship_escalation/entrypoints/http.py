"""HTTP API of the escalation service: responders' actions, coordinators' tools, metrics.

Every route states who may call it (``kinship_runtime.access``): cases are for people only
(peer responders and coordinators, as the directory says; a calling system's key never
reads or acts on a case), rotations and policies for coordinators, programme metrics for
coordinators and keys with ``reports:read``, feedback for any signed-in person (row-level:
the case's subject or its responder). The acknowledgement links are the one public part:
their token is their proof.

Each route enters a unit of work, calls one handler and wakes the outbox relay after the
commit. Handler errors become HTTP answers in ``_answers``: no case → 404, not allowed →
403, an expired link → 410, not in the state for it → 409, the vault away → 503.
"""

import html
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.cases import CaseOutcome, CaseStatus, Severity
from kinship_contracts.directory import Role
from kinship_escalation.domain.cases import (
    CaseNotFoundError,
    CaseTransitionError,
    LinkExpiredError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_escalation.handlers import cases, configuration, feedback, programme, reveal
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.access import Actor, allow
from kinship_runtime.identity import Scope
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.vault import VaultUnavailableError

T = TypeVar("T")

Uow = FromDishka[EscalationUnitOfWork]
Context = FromDishka[EscalationContext]
Relay = FromDishka[OutboxRelay]

CaseWorkers = Annotated[Actor, Depends(allow(roles=[Role.PEER_RESPONDER, Role.COORDINATOR]))]
"""Peer responders and coordinators (row-level: their cases, or all for coordinators)."""
Coordinators = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR]))]
ProgrammeReaders = Annotated[
    Actor, Depends(allow(scopes=[Scope.REPORTS_READ], roles=[Role.COORDINATOR]))
]
FeedbackGivers = Annotated[Actor, Depends(allow(everyone=True, rate_limited=True))]
"""Any signed-in person (row-level: the case's subject or its responder); never a key."""

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
"""Headers of every answer that carries or reveals something about one case."""
RETRY_AFTER_SECONDS = "5"


class CaseView(BaseModel):
    """What a responder sees of a case: no answers, no notes, no diagnosis."""

    case_id: str
    status: CaseStatus
    severity: Severity
    rules: list[str]
    step: int
    responder_id: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    resolved_at: datetime | None
    outcome: CaseOutcome | None

    @classmethod
    def of(cls, stored: StoredCase) -> "CaseView":
        """The view of a stored case."""
        case = stored.case
        return cls(
            case_id=case.id,
            status=case.status,
            severity=case.severity,
            rules=case.rules,
            step=case.step,
            responder_id=case.responder_id,
            opened_at=case.opened_at,
            acknowledged_at=case.acknowledged_at,
            contacted_at=case.contacted_at,
            resolved_at=case.resolved_at,
            outcome=case.outcome,
        )


class Resolution(BaseModel):
    """How the case ended."""

    model_config = ConfigDict(extra="forbid")

    outcome: CaseOutcome


class Handover(BaseModel):
    """Hand the case to another responder."""

    model_config = ConfigDict(extra="forbid")

    to_person_id: str = Field(min_length=1, max_length=200)


class Feedback(BaseModel):
    """Feedback after a case, by the signed-in person: the person it was about
    (``given_by: person``) or its responder (``given_by: responder``)."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    given_by: Literal["person", "responder"]


class RevealGrantView(BaseModel):
    """A short-lived grant to present to the check-in service's ``POST /v1/reveal``."""

    case_id: str
    grant: str
    expires_at: datetime


def _person(actor: Actor) -> str:
    """The signed-in person (the route's policy admits people only)."""
    assert actor.person_id is not None
    return actor.person_id


_routes = APIRouter(route_class=DishkaRoute)
"""Every route: each a thin call of one handler."""


@contextmanager
def _answers(headers: dict[str, str] | None = None) -> Iterator[None]:
    """Handler errors as HTTP answers."""
    try:
        yield
    except CaseNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error), headers) from error
    except LinkExpiredError as error:
        raise HTTPException(status.HTTP_410_GONE, str(error), headers) from error
    except NotAllowedError as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(error), headers) from error
    except CaseTransitionError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error), headers) from error
    except VaultUnavailableError as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the check-in service did not answer; try again shortly",
            {**(headers or {}), "Retry-After": RETRY_AFTER_SECONDS},
        ) from error


async def _run(
    uow: EscalationUnitOfWork,
    relay: OutboxRelay,
    use_case: Callable[[], Awaitable[T]],
    headers: dict[str, str] | None = None,
) -> T:
    """Run a use case in the unit of work (handler errors as HTTP answers); once it has
    committed, wake the outbox relay for what it published."""
    with _answers(headers):
        async with uow:
            result = await use_case()
    relay.wake()
    return result


# ---- responders' actions ----------------------------------------------------------------------


@_routes.post("/v1/cases/{case_id}/acknowledge", tags=["cases"], response_model=CaseView)
async def acknowledge(
    case_id: str, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """Someone alerted for the case takes it; further escalation stops."""
    by = _person(actor)
    stored = await _run(uow, relay, lambda: cases.acknowledge(case_id, by, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/contact", tags=["cases"], response_model=CaseView)
async def contact(
    case_id: str, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """The assigned responder reached the person (the first-contact time is measured)."""
    by = _person(actor)
    stored = await _run(uow, relay, lambda: cases.record_contact(case_id, by, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/handover", tags=["cases"], response_model=CaseView)
async def handover(
    case_id: str, body: Handover, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """The assigned responder hands the case to another responder, who is alerted."""
    by = _person(actor)
    stored = await _run(
        uow, relay, lambda: cases.hand_over(case_id, by, body.to_person_id, uow, ctx)
    )
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/resolve", tags=["cases"], response_model=CaseView)
async def resolve(
    case_id: str, body: Resolution, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """The assigned responder closes the case with its outcome; feedback is requested and a
    follow-up scheduled."""
    by = _person(actor)
    stored = await _run(uow, relay, lambda: cases.resolve(case_id, by, body.outcome, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/reveal-grant", tags=["cases"], response_model=RevealGrantView)
async def reveal_grant(
    case_id: str, actor: CaseWorkers, response: Response, uow: Uow, ctx: Context, relay: Relay
) -> RevealGrantView:
    """For the assigned responder of an acknowledged case: a grant (5 minutes) with which the
    check-in service's ``POST /v1/reveal`` tells them who the person is. Audited."""
    response.headers.update(PRIVATE)
    by = _person(actor)
    issued = await _run(uow, relay, lambda: reveal.grant_reveal(case_id, by, uow, ctx), PRIVATE)
    return RevealGrantView(case_id=issued.case_id, grant=issued.token, expires_at=issued.expires_at)


@_routes.post("/v1/cases/{case_id}/feedback", tags=["cases"], status_code=202, name="feedback")
async def give_feedback(
    case_id: str, body: Feedback, actor: FeedbackGivers, uow: Uow, ctx: Context, relay: Relay
) -> dict[str, bool]:
    """Feedback after resolution, once per side (a repeat is accepted and ignored): from the
    person the case was about, or from its responder."""
    by = _person(actor)
    recorded = await _run(
        uow,
        relay,
        lambda: feedback.give_feedback(case_id, body.given_by, body.score, by, uow, ctx),
    )
    return {"recorded": recorded}


# ---- the acknowledgement link: public, its token is the proof --------------------------------


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(title: str, body: str, code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Kinship: {html.escape(title)}</title>"
        f"<main><h1>{html.escape(title)}</h1>{body}</main></html>",
        status_code=code,
        headers=PRIVATE,
    )


_REFUSALS = {
    status.HTTP_403_FORBIDDEN: "This link cannot be used",
    status.HTTP_404_NOT_FOUND: "This alert is unknown",
    status.HTTP_409_CONFLICT: "This case cannot be taken now",
    status.HTTP_410_GONE: "This link has expired",
}


def _refusal(error: HTTPException, request: Request) -> Response:
    """A refused link: a clear page for a browser, the usual JSON otherwise."""
    if not _wants_html(request):
        headers = {**PRIVATE, **(error.headers or {})}
        return JSONResponse({"detail": error.detail}, error.status_code, headers)
    title = _REFUSALS.get(error.status_code, "Please try again")
    return _page(title, f"<p>{html.escape(str(error.detail))}</p>", error.status_code)


Token = Annotated[str, Query(min_length=1, max_length=200)]


@_routes.get("/v1/alerts/{alert_id}/acknowledge", tags=["cases"], response_class=HTMLResponse)
async def acknowledgement_page(
    alert_id: str, token: Token, request: Request, uow: Uow, ctx: Context
) -> Response:
    """A page with one button: link scanners that follow links never acknowledge."""
    try:
        with _answers():
            async with uow:
                await cases.usable_link(alert_id, token, uow, ctx)
    except HTTPException as error:
        return _refusal(error, request)
    action = html.escape(f"/v1/alerts/{alert_id}/acknowledge?token={token}")
    return _page(
        "Kinship alert",
        f'<form method="post" action="{action}"><button>I take this case</button></form>',
    )


@_routes.post("/v1/alerts/{alert_id}/acknowledge", tags=["cases"], response_model=CaseView)
async def acknowledge_by_link(
    alert_id: str, token: Token, request: Request, uow: Uow, ctx: Context, relay: Relay
) -> Response:
    """Acknowledge through the alert's one-time link (no other credentials)."""
    try:
        stored = await _run(
            uow, relay, lambda: cases.acknowledge_by_link(alert_id, token, uow, ctx)
        )
    except HTTPException as error:
        return _refusal(error, request)
    if _wants_html(request):
        return _page("You have taken this case", "<p>Open your case list to continue.</p>")
    return JSONResponse(CaseView.of(stored).model_dump(mode="json"), headers=PRIVATE)


# ---- reading cases ----------------------------------------------------------------------------


@_routes.get("/v1/cases", tags=["cases"], response_model=list[CaseView])
async def list_cases(
    actor: CaseWorkers,
    uow: Uow,
    relay: Relay,
    assigned_to: Annotated[str | None, Query(pattern="^me$")] = None,
    open_only: bool = True,
) -> list[CaseView]:
    """Cases the caller may see: responders their own; coordinators all (or their own with
    ``assigned_to=me``). One audit record names the cases returned."""
    me = _person(actor)
    responder = me if assigned_to == "me" or not actor.is_coordinator else None
    stored = await _run(uow, relay, lambda: cases.list_cases(responder, open_only, me, uow))
    return [CaseView.of(item) for item in stored]


@_routes.get("/v1/cases/{case_id}", tags=["cases"], response_model=CaseView)
async def get_case(case_id: str, actor: CaseWorkers, uow: Uow, relay: Relay) -> CaseView:
    """One case, for its responder or a coordinator. The read is audited."""
    me, coordinator = _person(actor), actor.is_coordinator
    stored = await _run(uow, relay, lambda: cases.read_case(case_id, me, coordinator, uow))
    return CaseView.of(stored)


# ---- coordinators' configuration and measures -------------------------------------------------


@_routes.put("/v1/rotations/{name}", tags=["on-call"], response_model=OnCallRotation)
async def put_rotation(
    name: str, rotation: OnCallRotation, _actor: Coordinators, uow: Uow
) -> OnCallRotation:
    """Create or replace an on-call rotation (coordinators)."""
    if rotation.name != name:
        raise HTTPException(422, detail="name mismatch")
    async with uow:
        return await configuration.save_rotation(rotation, uow)


@_routes.get("/v1/rotations", tags=["on-call"], response_model=list[OnCallRotation])
async def get_rotations(_actor: Coordinators, uow: Uow) -> list[OnCallRotation]:
    """Every rotation (coordinators)."""
    async with uow:
        return await configuration.rotations(uow)


@_routes.put("/v1/policies/default", tags=["on-call"], response_model=EscalationPolicy)
async def put_policy(policy: EscalationPolicy, _actor: Coordinators, uow: Uow) -> EscalationPolicy:
    """Replace the escalation policy new cases follow (coordinators)."""
    async with uow:
        return await configuration.save_default_policy(policy, uow)


@_routes.get("/v1/policies/default", tags=["on-call"], response_model=EscalationPolicy)
async def get_policy(_actor: Coordinators, uow: Uow, ctx: Context) -> EscalationPolicy:
    """The escalation policy in force (the spec's default until one is stored)."""
    async with uow:
        return await configuration.policy_in_force(uow, ctx)


@_routes.get("/v1/metrics/programme", tags=["metrics"])
async def programme_metrics(_actor: ProgrammeReaders, uow: Uow) -> dict[str, Any]:
    """Programme measures over all cases; no individual data (coordinators, and systems
    with ``reports:read``)."""
    async with uow:
        return await programme.programme_metrics(uow)


def escalation_router() -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    router.include_router(_routes)
    return router

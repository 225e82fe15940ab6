"""HTTP API of the escalation service: responders' actions, coordinators' tools, metrics.

Each route authenticates the caller, enters a unit of work, calls one handler and wakes the
outbox relay after the commit. Handler errors become HTTP answers in ``_answers``: no case →
404, not allowed → 403, not in the state for it → 409.
"""

import html
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.cases import CaseOutcome, CaseStatus, Severity
from kinship_escalation.domain.cases import (
    CaseNotFoundError,
    CaseTransitionError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_escalation.handlers import cases, configuration, feedback, programme
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.auth import Authenticated, Caller
from kinship_runtime.outbox import OutboxRelay

COORDINATOR = "coordinator"

T = TypeVar("T")

Uow = FromDishka[EscalationUnitOfWork]
Context = FromDishka[EscalationContext]
Relay = FromDishka[OutboxRelay]


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


class ActingAs(BaseModel):
    """A calling system (API key) names the responder it acts for; people act as themselves."""

    model_config = ConfigDict(extra="forbid")

    person_id: str | None = Field(
        default=None, description="Only for systems: the responder this action is for."
    )


class Resolution(ActingAs):
    """How the case ended."""

    outcome: CaseOutcome


class Handover(ActingAs):
    """Hand the case to another responder."""

    to_person_id: str = Field(min_length=1, max_length=200)


class Feedback(BaseModel):
    """Feedback after a case."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    given_by: Literal["person", "responder"]


def _actor(caller: Caller, body: ActingAs | None) -> str:
    if caller.person_id is not None:
        return caller.person_id
    if body is None or body.person_id is None:
        raise HTTPException(
            422,
            detail=[
                {
                    "loc": ["body", "person_id"],
                    "msg": "a system must name the responder",
                    "type": "missing",
                }
            ],
        )
    return body.person_id


def _is_coordinator(caller: Caller) -> bool:
    return caller.is_system or COORDINATOR in caller.roles


def _reader(caller: Caller) -> str:
    return caller.person_id or caller.name


def _require_coordinator(caller: Caller) -> None:
    if not _is_coordinator(caller):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="coordinators only")


_routes = APIRouter(route_class=DishkaRoute)
"""Every route: each a thin call of one handler."""


@contextmanager
def _answers() -> Iterator[None]:
    """Handler errors as HTTP answers."""
    try:
        yield
    except CaseNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from error
    except NotAllowedError as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(error)) from error
    except CaseTransitionError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error


async def _run(
    uow: EscalationUnitOfWork, relay: OutboxRelay, use_case: Callable[[], Awaitable[T]]
) -> T:
    """Run a use case in the unit of work (handler errors as HTTP answers); once it has
    committed, wake the outbox relay for what it published."""
    with _answers():
        async with uow:
            result = await use_case()
    relay.wake()
    return result


# ---- responders' actions ----------------------------------------------------------------------


@_routes.post("/v1/cases/{case_id}/acknowledge", tags=["cases"], response_model=CaseView)
async def acknowledge(
    case_id: str,
    caller: Authenticated,
    uow: Uow,
    ctx: Context,
    relay: Relay,
    body: ActingAs | None = None,
) -> CaseView:
    """The alerted responder takes the case; further escalation stops."""
    by = _actor(caller, body)
    stored = await _run(uow, relay, lambda: cases.acknowledge(case_id, by, uow, ctx))
    return CaseView.of(stored)


@_routes.get("/v1/alerts/{alert_id}/acknowledge", tags=["cases"], response_class=HTMLResponse)
async def acknowledgement_page(alert_id: str, token: str, ctx: Context) -> HTMLResponse:
    """A page with one button: link scanners that follow links never acknowledge."""
    if not ctx.links.valid(alert_id, token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="invalid link")
    action = html.escape(f"/v1/alerts/{alert_id}/acknowledge?token={token}")
    return HTMLResponse(
        "<!doctype html><title>Kinship alert</title><form method=post action="
        f'"{action}"><button>I take this case</button></form>'
    )


@_routes.post("/v1/alerts/{alert_id}/acknowledge", tags=["cases"], response_model=CaseView)
async def acknowledge_by_link(
    alert_id: str, token: str, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """Acknowledge through the alert's one-time signed link (no other credentials)."""
    stored = await _run(uow, relay, lambda: cases.acknowledge_by_link(alert_id, token, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/contact", tags=["cases"], response_model=CaseView)
async def contact(
    case_id: str,
    caller: Authenticated,
    uow: Uow,
    ctx: Context,
    relay: Relay,
    body: ActingAs | None = None,
) -> CaseView:
    """The responder reached the person (the first-contact time is measured)."""
    by = _actor(caller, body)
    stored = await _run(uow, relay, lambda: cases.record_contact(case_id, by, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/handover", tags=["cases"], response_model=CaseView)
async def handover(
    case_id: str, body: Handover, caller: Authenticated, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """Hand the case to another responder, who is alerted."""
    by = _actor(caller, body)
    stored = await _run(
        uow, relay, lambda: cases.hand_over(case_id, by, body.to_person_id, uow, ctx)
    )
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/resolve", tags=["cases"], response_model=CaseView)
async def resolve(
    case_id: str, body: Resolution, caller: Authenticated, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """Close the case with its outcome; feedback is requested and a follow-up scheduled."""
    by = _actor(caller, body)
    stored = await _run(uow, relay, lambda: cases.resolve(case_id, by, body.outcome, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/feedback", tags=["cases"], status_code=202, name="feedback")
async def give_feedback(
    case_id: str, body: Feedback, caller: Authenticated, uow: Uow, ctx: Context, relay: Relay
) -> dict[str, bool]:
    """Feedback after resolution (once per side; a repeat is accepted and ignored)."""
    actor = _reader(caller)
    recorded = await _run(
        uow,
        relay,
        lambda: feedback.give_feedback(case_id, body.given_by, body.score, actor, uow, ctx),
    )
    return {"recorded": recorded}


# ---- reading cases ----------------------------------------------------------------------------


@_routes.get("/v1/cases", tags=["cases"], response_model=list[CaseView])
async def list_cases(
    caller: Authenticated,
    uow: Uow,
    relay: Relay,
    assigned_to: Annotated[str | None, Query(pattern="^me$")] = None,
    open_only: bool = True,
) -> list[CaseView]:
    """Cases the caller may see: responders their own; coordinators all. Reads are audited."""
    mine = assigned_to == "me" or not _is_coordinator(caller)
    if mine and caller.person_id is None:
        raise HTTPException(
            422,
            detail="assigned_to=me needs a person's JWT, not a system API key",
        )
    responder = caller.person_id if mine else None
    reader = _reader(caller)
    stored = await _run(uow, relay, lambda: cases.list_cases(responder, open_only, reader, uow))
    return [CaseView.of(item) for item in stored]


@_routes.get("/v1/cases/{case_id}", tags=["cases"], response_model=CaseView)
async def get_case(case_id: str, caller: Authenticated, uow: Uow, relay: Relay) -> CaseView:
    """One case, for its responder or a coordinator. The read is audited."""
    stored = await _run(
        uow, relay, lambda: cases.read_case(case_id, _reader(caller), _is_coordinator(caller), uow)
    )
    return CaseView.of(stored)


# ---- coordinators' configuration and measures -------------------------------------------------


@_routes.put("/v1/rotations/{name}", tags=["on-call"], response_model=OnCallRotation)
async def put_rotation(
    name: str, rotation: OnCallRotation, caller: Authenticated, uow: Uow
) -> OnCallRotation:
    """Create or replace an on-call rotation (coordinators)."""
    _require_coordinator(caller)
    if rotation.name != name:
        raise HTTPException(422, detail="name mismatch")
    async with uow:
        return await configuration.save_rotation(rotation, uow)


@_routes.get("/v1/rotations", tags=["on-call"], response_model=list[OnCallRotation])
async def get_rotations(caller: Authenticated, uow: Uow) -> list[OnCallRotation]:
    """Every rotation (coordinators)."""
    _require_coordinator(caller)
    async with uow:
        return await configuration.rotations(uow)


@_routes.put("/v1/policies/default", tags=["on-call"], response_model=EscalationPolicy)
async def put_policy(policy: EscalationPolicy, caller: Authenticated, uow: Uow) -> EscalationPolicy:
    """Replace the escalation policy new cases follow (coordinators)."""
    _require_coordinator(caller)
    async with uow:
        return await configuration.save_default_policy(policy, uow)


@_routes.get("/v1/policies/default", tags=["on-call"], response_model=EscalationPolicy)
async def get_policy(caller: Authenticated, uow: Uow, ctx: Context) -> EscalationPolicy:
    """The escalation policy in force (the spec's default until one is stored)."""
    _require_coordinator(caller)
    async with uow:
        return await configuration.policy_in_force(uow, ctx)


@_routes.get("/v1/metrics/programme", tags=["metrics"])
async def programme_metrics(caller: Authenticated, uow: Uow) -> dict[str, Any]:
    """Programme measures over all cases; no individual data (coordinators)."""
    _require_coordinator(caller)
    async with uow:
        return await programme.programme_metrics(uow)


def escalation_router() -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    router.include_router(_routes)
    return router

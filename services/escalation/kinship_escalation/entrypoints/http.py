"""HTTP API of the escalation service: responders' actions, coordinators' tools, metrics."""

import html
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from kinship_contracts.cases import CaseOutcome, CaseStatus, Severity
from kinship_escalation import handlers
from kinship_escalation.adapters.postgres import EscalationUnit, StoredCase
from kinship_escalation.bootstrap import EscalationService
from kinship_escalation.domain.cases import CaseTransitionError
from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_runtime.auth import Caller

T = TypeVar("T")

COORDINATOR = "coordinator"


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


def escalation_router(service: EscalationService) -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    authenticated = Depends(service.authenticator.dependency())
    ctx = service.context

    @asynccontextmanager
    async def unit() -> AsyncIterator[EscalationUnit]:
        async with service.store.unit() as work:
            yield work
        service.relay.wake()

    async def act(operation: Callable[[EscalationUnit], Awaitable[T]]) -> T:
        try:
            async with unit() as work:
                return await operation(work)
        except handlers.CaseNotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from error
        except handlers.NotAllowedError as error:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(error)) from error
        except CaseTransitionError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error

    def require_coordinator(caller: Caller) -> None:
        if not _is_coordinator(caller):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="coordinators only")

    @router.post("/v1/cases/{case_id}/acknowledge", tags=["cases"], response_model=CaseView)
    async def acknowledge(
        case_id: str, caller: Annotated[Caller, authenticated], body: ActingAs | None = None
    ) -> CaseView:
        """The alerted responder takes the case; further escalation stops."""
        by = _actor(caller, body)
        return CaseView.of(await act(lambda u: handlers.acknowledge(u, ctx, case_id, by)))

    @router.get("/v1/alerts/{alert_id}/acknowledge", tags=["cases"], response_class=HTMLResponse)
    async def acknowledgement_page(alert_id: str, token: str) -> HTMLResponse:
        """A page with one button: link scanners that follow links never acknowledge."""
        if not ctx.links.valid(alert_id, token):
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="invalid link")
        action = html.escape(f"/v1/alerts/{alert_id}/acknowledge?token={token}")
        return HTMLResponse(
            "<!doctype html><title>Kinship alert</title><form method=post action="
            f'"{action}"><button>I take this case</button></form>'
        )

    @router.post("/v1/alerts/{alert_id}/acknowledge", tags=["cases"], response_model=CaseView)
    async def acknowledge_by_link(alert_id: str, token: str) -> CaseView:
        """Acknowledge through the alert's one-time signed link (no other credentials)."""
        stored = await act(lambda u: handlers.acknowledge_by_link(u, ctx, alert_id, token))
        return CaseView.of(stored)

    @router.post("/v1/cases/{case_id}/contact", tags=["cases"], response_model=CaseView)
    async def contact(
        case_id: str, caller: Annotated[Caller, authenticated], body: ActingAs | None = None
    ) -> CaseView:
        """The responder reached the person (the first-contact time is measured)."""
        by = _actor(caller, body)
        return CaseView.of(await act(lambda u: handlers.record_contact(u, ctx, case_id, by)))

    @router.post("/v1/cases/{case_id}/handover", tags=["cases"], response_model=CaseView)
    async def handover(
        case_id: str, body: Handover, caller: Annotated[Caller, authenticated]
    ) -> CaseView:
        """Hand the case to another responder, who is alerted."""
        by = _actor(caller, body)
        stored = await act(lambda u: handlers.hand_over(u, ctx, case_id, by, body.to_person_id))
        return CaseView.of(stored)

    @router.post("/v1/cases/{case_id}/resolve", tags=["cases"], response_model=CaseView)
    async def resolve(
        case_id: str, body: Resolution, caller: Annotated[Caller, authenticated]
    ) -> CaseView:
        """Close the case with its outcome; feedback is requested and a follow-up scheduled."""
        by = _actor(caller, body)
        return CaseView.of(await act(lambda u: handlers.resolve(u, ctx, case_id, by, body.outcome)))

    @router.post("/v1/cases/{case_id}/feedback", tags=["cases"], status_code=202)
    async def feedback(
        case_id: str, body: Feedback, caller: Annotated[Caller, authenticated]
    ) -> dict[str, bool]:
        """Feedback after resolution (once per side; a repeat is accepted and ignored)."""
        actor = caller.person_id or caller.name
        stored = await act(
            lambda u: handlers.give_feedback(u, ctx, case_id, body.given_by, body.score, actor)
        )
        return {"recorded": stored}

    @router.get("/v1/cases", tags=["cases"], response_model=list[CaseView])
    async def list_cases(
        caller: Annotated[Caller, authenticated],
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
        async with unit() as work:
            stored = await work.cases_for(caller.person_id if mine else None, open_only)
            for item in stored:
                await work.audit(item.case.id, "read", caller.person_id or caller.name)
        return [CaseView.of(item) for item in stored]

    @router.get("/v1/cases/{case_id}", tags=["cases"], response_model=CaseView)
    async def get_case(case_id: str, caller: Annotated[Caller, authenticated]) -> CaseView:
        """One case, for its responder or a coordinator. The read is audited."""
        async with unit() as work:
            stored = await work.case(case_id)
            if stored is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no case {case_id}")
            allowed = _is_coordinator(caller) or caller.person_id == stored.case.responder_id
            if not allowed:
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail="not your case")
            await work.audit(case_id, "read", caller.person_id or caller.name)
        return CaseView.of(stored)

    @router.put("/v1/rotations/{name}", tags=["on-call"], response_model=OnCallRotation)
    async def put_rotation(
        name: str, rotation: OnCallRotation, caller: Annotated[Caller, authenticated]
    ) -> OnCallRotation:
        """Create or replace an on-call rotation (coordinators)."""
        require_coordinator(caller)
        if rotation.name != name:
            raise HTTPException(422, detail="name mismatch")
        async with unit() as work:
            await work.save_rotation(rotation)
        return rotation

    @router.get("/v1/rotations", tags=["on-call"], response_model=list[OnCallRotation])
    async def get_rotations(caller: Annotated[Caller, authenticated]) -> list[OnCallRotation]:
        """Every rotation (coordinators)."""
        require_coordinator(caller)
        async with unit() as work:
            return await work.rotations()

    @router.put("/v1/policies/default", tags=["on-call"], response_model=EscalationPolicy)
    async def put_policy(
        policy: EscalationPolicy, caller: Annotated[Caller, authenticated]
    ) -> EscalationPolicy:
        """Replace the escalation policy new cases follow (coordinators)."""
        require_coordinator(caller)
        policy = policy.model_copy(update={"name": "default"})
        async with unit() as work:
            await work.save_policy(policy)
        return policy

    @router.get("/v1/policies/default", tags=["on-call"], response_model=EscalationPolicy)
    async def get_policy(caller: Annotated[Caller, authenticated]) -> EscalationPolicy:
        """The escalation policy in force (the spec's default until one is stored)."""
        require_coordinator(caller)
        async with unit() as work:
            return await work.policy() or ctx.default_policy

    @router.get("/v1/metrics/programme", tags=["metrics"])
    async def programme_metrics(caller: Annotated[Caller, authenticated]) -> dict[str, Any]:
        """Programme measures over all cases; no individual data (coordinators)."""
        require_coordinator(caller)
        async with unit() as work:
            return await work.programme_metrics(min_cases=5)

    return router

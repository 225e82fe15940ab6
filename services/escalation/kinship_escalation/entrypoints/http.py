"""HTTP API of the escalation service: responders' actions and coordinators' tools.

Every route states who may call it (``kinship_runtime.access``): cases are for people only
(peer responders and coordinators, as the directory says; a calling system's key never
reads or acts on a case), rotations and policies for coordinators, feedback for any
signed-in person (row-level: the case's subject or its responder), programme measures for
coordinators and keys with ``reports:read`` — by closed week only, each cell k >= 5 people
or withheld, no totals (``domain.programme``): no live aggregate that could be read before
and after one more case or feedback. The acknowledgement links are the one public part:
their token is their proof, and so are the consent links a person asked whether a peer may
reach out follows (``/v1/consent/...``).

Each route enters a unit of work, calls one handler and wakes the outbox relay after the
commit. Handler errors become HTTP answers in ``_answers``: no case → 404, not allowed →
403, an expired link → 410, not in the state for it (or a question answered) → 409, details
that cannot be right → 422, the vault away → 503.
"""

import dataclasses
import html
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi import Path as FastAPIPath
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kinship_contracts.base import FreeText
from kinship_contracts.cases import CaseOutcome, CaseStatus, Severity
from kinship_contracts.directory import Role
from kinship_contracts.links import ConsentAnswer
from kinship_escalation.domain.cases import (
    AuditFilter,
    CaseNotFoundError,
    CaseTransitionError,
    LinkExpiredError,
    NotAllowedError,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    Consent,
    ContactChannel,
    HandoverReason,
    InvalidActionError,
    NoteKind,
    ReopenReason,
)
from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_escalation.domain.programme import DEFAULT_WEEKS, MAX_WEEKS, ProgrammeMeasures
from kinship_escalation.domain.schedules.escalation import PolicyConflictError
from kinship_escalation.domain.timers import CaseDeadlines
from kinship_escalation.entrypoints.oncall_http import oncall_routes
from kinship_escalation.entrypoints.signals_http import signal_routes
from kinship_escalation.entrypoints.slack_http import slack_routes
from kinship_escalation.handlers import (
    audit,
    cases,
    casework,
    configuration,
    feedback,
    outreach,
    programme,
    reveal,
    view,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.notes import NotesUnavailableError
from kinship_escalation.handlers.outreach import ConsentClosedError
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.handlers.subject_records import SubjectRecords, subject_data
from kinship_runtime.access import OWN_DATA, Actor, allow
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
"""Coordinators, and calling systems with ``reports:read`` (closed-week aggregates only)."""
Weeks = Annotated[
    int, Query(ge=1, le=MAX_WEEKS, description="Closed weeks to report, newest last.")
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


class CaseDeadlinesMixin(BaseModel):
    """When a case's current wait ends (read views only)."""

    ack_due_at: datetime | None = Field(
        default=None,
        description="While the current step is unacknowledged: when its acknowledgement "
        "timeout fires (the case escalates).",
    )
    contact_due_at: datetime | None = Field(
        default=None,
        description="Acknowledged, no first contact yet: when the contact timeout fires.",
    )


class CaseListItem(CaseView, CaseDeadlinesMixin):
    """A case in a list: the case view and its deadlines."""

    @classmethod
    def of_listed(cls, stored: StoredCase, due: CaseDeadlines) -> "CaseListItem":
        """The list view of a stored case with its deadlines."""
        return cls(
            **CaseView.of(stored).model_dump(),
            ack_due_at=due.ack_due_at,
            contact_due_at=due.contact_due_at,
        )


class ThresholdView(BaseModel):
    """A threshold a rule applied, with its number and its source."""

    setting: str
    condition: str
    source: str


class ObservationView(BaseModel):
    """Something a rule rests on: a check-in (by its place in the case, ``checkin-1``…) or a
    load signal (by kind only), when, and the scores that mattered (never item answers or
    notes)."""

    at: datetime
    checkin_id: str | None
    signal_kind: str | None
    scores: dict[str, int | float | bool | str]


class RuleView(BaseModel):
    """A rule that fired: what a responder is told, the severity it asked for, its cited
    thresholds, what it rests on, and when it first and last fired."""

    rule: str
    reason: str
    severity: Severity | None = Field(description="Null: not recorded for this case.")
    thresholds: list[ThresholdView]
    checkin_ids: list[str]
    observations: list[ObservationView]
    first_fired_at: datetime | None
    last_fired_at: datetime | None


class CheckinFacts(BaseModel):
    """A check-in the case rests on: when, and its scores (never item answers or notes)."""

    checkin_id: str
    at: datetime
    scores: dict[str, int | bool]


class ExplanationView(BaseModel):
    """Why the case is open."""

    rules_version: str | None = Field(
        description="The detection rules version that judged it (null: not recorded)."
    )
    rules: list[RuleView]
    checkins: list[CheckinFacts]


class TimelineItem(BaseModel):
    """An event or audit record of the case: what, who (staff, a part of the service, or
    'subject' for the person), when."""

    at: datetime | None
    action: str
    actor: str
    sequence: int | None


class CaseDetailView(CaseView, CaseDeadlinesMixin):
    """The responder's case view: the case, why it is open, whether a peer may reach out,
    how it is being worked, and its timeline. No personal data."""

    consent: Consent = Field(
        description="'welcome', 'asked' (waiting for the person's answer), 'yes', 'no', "
        "'self_referral' or 'immediate_risk'."
    )
    consent_expires_at: datetime | None
    reveal_allowed: bool = Field(
        description="Whether the assigned responder, once acknowledged, may learn who the "
        "person is (consent, a self-referral, or immediate risk)."
    )
    note_may_be_shown: bool = Field(
        description="Whether the person shared the note of the triggering check-in (a reveal "
        "then shows it)."
    )
    contact_channel: ContactChannel | None
    follow_up_at: datetime | None
    safety_plan_recorded: bool
    notes: int = Field(description="How many private notes the case has (read them apart).")
    explanation: ExplanationView
    timeline: list[TimelineItem]

    @classmethod
    def of_detail(cls, detail: view.CaseDetail) -> "CaseDetailView":
        """The view of a case's detail. Check-ins are named by their place in the case
        (``checkin-1`` the earliest), never by the id the sending system chose: such an id
        may name the person (``slackbot-U0123-…``), and this view comes before consent."""
        work, explanation = detail.work, detail.explanation
        order = sorted(explanation.checkins, key=lambda c: (c.at, c.id))
        labels = {c.id: f"checkin-{n}" for n, c in enumerate(order, start=1)}

        def label(checkin_id: str) -> str:
            return labels.setdefault(checkin_id, f"checkin-{len(labels) + 1}")

        return cls(
            **CaseView.of(detail.stored).model_dump(),
            ack_due_at=detail.deadlines.ack_due_at,
            contact_due_at=detail.deadlines.contact_due_at,
            consent=work.consent,
            consent_expires_at=work.consent_expires_at,
            reveal_allowed=work.consent.allows_outreach,
            note_may_be_shown=detail.note_may_be_shown,
            contact_channel=work.contact_channel,
            follow_up_at=work.follow_up_at,
            safety_plan_recorded=detail.safety_plan_recorded,
            notes=detail.notes,
            explanation=ExplanationView(
                rules_version=explanation.rules_version,
                rules=[
                    RuleView(
                        rule=rule.rule,
                        reason=rule.reason,
                        severity=rule.severity,
                        thresholds=[ThresholdView(**t.__dict__) for t in rule.thresholds],
                        checkin_ids=[label(i) for i in rule.checkin_ids],
                        observations=[
                            ObservationView(
                                at=o.at,
                                checkin_id=label(o.checkin_id) if o.checkin_id else None,
                                signal_kind=o.signal_kind,
                                scores=o.scores,
                            )
                            for o in rule.observations
                        ],
                        first_fired_at=rule.first_fired_at,
                        last_fired_at=rule.last_fired_at,
                    )
                    for rule in explanation.rules
                ],
                checkins=[
                    CheckinFacts(checkin_id=label(c.id), at=c.at, scores=c.scores)
                    for c in explanation.checkins
                ],
            ),
            timeline=[TimelineItem(**entry.__dict__) for entry in detail.timeline],
        )


class Contact(BaseModel):
    """First contact: how and when (now when not given)."""

    model_config = ConfigDict(extra="forbid")

    channel: ContactChannel | None = None
    at: AwareDatetime | None = None


class NoteBody(BaseModel):
    """A private note (encrypted at rest; never on an event or in a log)."""

    model_config = ConfigDict(extra="forbid")

    text: FreeText = Field(min_length=1, max_length=4000)


class NoteView(BaseModel):
    """A private note, for the case's responders only (whoever holds it, or took it before)."""

    note_id: str
    kind: NoteKind
    author: str
    written_at: datetime
    text: str


class SafetyPlanBody(BaseModel):
    """A critical case's safety plan (encrypted at rest)."""

    model_config = ConfigDict(extra="forbid")

    who_to_call: FreeText = Field(min_length=1, max_length=2000)
    what_helps: FreeText = Field(min_length=1, max_length=2000)


class SafetyPlanView(SafetyPlanBody):
    """The latest safety plan, and who wrote it when."""

    author: str
    written_at: datetime


class NotesView(BaseModel):
    """A case's private notes and safety plan."""

    notes: list[NoteView]
    safety_plan: SafetyPlanView | None


class FollowUpPlan(BaseModel):
    """When the responder will follow up (a reminder comes then)."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime


class Reopening(BaseModel):
    """Why a resolved case is opened again; ``note`` is kept encrypted."""

    model_config = ConfigDict(extra="forbid")

    reason: ReopenReason
    note: FreeText | None = Field(default=None, max_length=4000)


class Resolution(BaseModel):
    """How the case ended."""

    model_config = ConfigDict(extra="forbid")

    outcome: CaseOutcome


class Handover(BaseModel):
    """Hand the case to a named responder, or back to the rotation (no ``to_person_id``),
    with a coded reason; ``note`` is kept encrypted."""

    model_config = ConfigDict(extra="forbid")

    to_person_id: str | None = Field(default=None, min_length=1, max_length=200)
    reason: HandoverReason
    note: FreeText | None = Field(default=None, max_length=4000)


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
    except (CaseTransitionError, ConsentClosedError) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error), headers) from error
    except InvalidActionError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error), headers) from error
    except NotesUnavailableError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error), headers) from error
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
    case_id: str,
    actor: CaseWorkers,
    uow: Uow,
    ctx: Context,
    relay: Relay,
    body: Contact | None = None,
) -> CaseView:
    """The assigned responder reached the person: how (``channel``) and when (``at``, now by
    default). The first-contact time is measured. Only once a peer may reach out."""
    by, given = _person(actor), body or Contact()
    stored = await _run(
        uow,
        relay,
        lambda: cases.record_contact(case_id, by, uow, ctx, given.channel, given.at),
    )
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/handover", tags=["cases"], response_model=CaseView)
async def handover(
    case_id: str, body: Handover, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """The assigned responder hands the case to a named responder (who is alerted), or back
    to the rotation (its policy starts again), with a coded reason."""
    by = _person(actor)
    stored = await _run(
        uow,
        relay,
        lambda: cases.hand_over(case_id, by, body.to_person_id, uow, ctx, body.reason, body.note),
    )
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/notes", tags=["cases"], status_code=201)
async def add_note(
    case_id: str, body: NoteBody, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> dict[str, str]:
    """The assigned responder writes a private note (encrypted; its text is on no event)."""
    by = _person(actor)
    note_id = await _run(uow, relay, lambda: casework.add_note(case_id, by, body.text, uow, ctx))
    return {"note_id": note_id}


@_routes.get("/v1/cases/{case_id}/notes", tags=["cases"], response_model=NotesView)
async def read_notes(
    case_id: str, actor: CaseWorkers, response: Response, uow: Uow, ctx: Context, relay: Relay
) -> NotesView:
    """A case's private notes and safety plan: for the case's responders only (whoever holds
    it, or took it before and handed it on). The read is audited."""
    response.headers.update(PRIVATE)
    me = _person(actor)
    found = await _run(uow, relay, lambda: casework.read_notes(case_id, me, uow, ctx), PRIVATE)
    plan = found.safety_plan
    return NotesView(
        notes=[
            NoteView(
                note_id=n.id, kind=n.kind, author=n.author, written_at=n.written_at, text=n.text
            )
            for n in found.notes
        ],
        safety_plan=SafetyPlanView(**plan.__dict__) if plan else None,
    )


@_routes.put("/v1/cases/{case_id}/safety-plan", tags=["cases"], status_code=204)
async def safety_plan(
    case_id: str, body: SafetyPlanBody, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> None:
    """The assigned responder writes a critical case's safety plan (who to call, what helps;
    encrypted)."""
    by = _person(actor)
    await _run(
        uow,
        relay,
        lambda: casework.write_safety_plan(
            case_id, by, body.who_to_call, body.what_helps, uow, ctx
        ),
    )


@_routes.post("/v1/cases/{case_id}/follow-up", tags=["cases"], response_model=CaseView)
async def follow_up(
    case_id: str, body: FollowUpPlan, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """The assigned responder plans a follow-up: a reminder comes at ``at``."""
    by = _person(actor)
    stored = await _run(uow, relay, lambda: casework.plan_follow_up(case_id, by, body.at, uow, ctx))
    return CaseView.of(stored)


@_routes.post("/v1/cases/{case_id}/reopen", tags=["cases"], response_model=CaseView)
async def reopen(
    case_id: str, body: Reopening, actor: CaseWorkers, uow: Uow, ctx: Context, relay: Relay
) -> CaseView:
    """The case's last responder (or a coordinator, who then holds it) opens a resolved case
    again, within the re-opening window, with a coded reason."""
    by, coordinator = _person(actor), actor.is_coordinator
    stored = await _run(
        uow,
        relay,
        lambda: casework.reopen(case_id, by, coordinator, body.reason, body.note, uow, ctx),
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


# ---- the consent links: public, their token is the proof --------------------------------------

_CONSENT_REFUSALS = {
    status.HTTP_403_FORBIDDEN: "This link cannot be used",
    status.HTTP_404_NOT_FOUND: "This question is unknown",
    status.HTTP_409_CONFLICT: "This question was answered already",
    status.HTTP_410_GONE: "This link has expired",
}


def _consent_refusal(error: HTTPException, request: Request) -> Response:
    if not _wants_html(request):
        headers = {**PRIVATE, **(error.headers or {})}
        return JSONResponse({"detail": error.detail}, error.status_code, headers)
    title = _CONSENT_REFUSALS.get(error.status_code, "Please try again")
    return _page(title, f"<p>{html.escape(str(error.detail))}</p>", error.status_code)


_ANSWER_BUTTONS = {
    ConsentAnswer.YES: "Yes, please reach out",
    ConsentAnswer.NO: "No, thank you",
}


@_routes.get("/v1/consent/{consent_id}/{answer}", tags=["consent"], response_class=HTMLResponse)
async def consent_page(
    consent_id: str,
    answer: ConsentAnswer,
    token: Token,
    request: Request,
    uow: Uow,
    ctx: Context,
) -> Response:
    """The page a consent link opens: the question with two buttons. Nothing is recorded
    until the person presses one (a mail scanner that follows links never answers)."""
    try:
        with _answers():
            async with uow:
                await outreach.open_question(consent_id, answer, token, uow, ctx)
    except HTTPException as error:
        return _consent_refusal(error, request)
    other, other_token = ctx.links.other_answer_token(consent_id, answer, token)
    buttons = "".join(
        f'<form method="post" action="{html.escape(action)}">'
        f"<button>{_ANSWER_BUTTONS[choice]}</button></form>"
        for choice, action in (
            (answer, f"/v1/consent/{consent_id}/{answer.value}?token={token}"),
            (other, f"/v1/consent/{consent_id}/{other.value}?token={other_token}"),
        )
    )
    return _page(
        "May a peer supporter reach out to you?",
        "<p>A trained peer supporter from your organisation would like to reach out to you. "
        "Nobody has been told who you are. Either answer is fine.</p>" + buttons,
    )


_ANSWERED = {
    Consent.YES: ("Thank you", "<p>A peer supporter will reach out to you soon.</p>"),
    Consent.NO: (
        "Thank you for letting us know",
        "<p>Nobody will reach out about this. You can ask for contact at any time with your "
        "next check-in.</p>",
    ),
}


@_routes.post("/v1/consent/{consent_id}/{answer}", tags=["consent"])
async def answer_consent(
    consent_id: str,
    answer: ConsentAnswer,
    token: Token,
    request: Request,
    uow: Uow,
    ctx: Context,
    relay: Relay,
) -> Response:
    """The person's answer, through the question's one-time link (no other credentials)."""
    try:
        consent = await _run(
            uow, relay, lambda: outreach.answer_consent(consent_id, answer, token, uow, ctx)
        )
    except HTTPException as error:
        return _consent_refusal(error, request)
    if _wants_html(request):
        return _page(*_ANSWERED[consent])
    return JSONResponse({"consent": consent.value}, headers=PRIVATE)


# ---- reading cases ----------------------------------------------------------------------------


@_routes.get("/v1/cases", tags=["cases"], response_model=list[CaseListItem])
async def list_cases(
    actor: CaseWorkers,
    uow: Uow,
    relay: Relay,
    assigned_to: Annotated[str | None, Query(pattern="^me$")] = None,
    open_only: bool = True,
) -> list[CaseListItem]:
    """Cases the caller may see: responders their own; coordinators all (or their own with
    ``assigned_to=me``). One audit record names the cases returned."""
    me = _person(actor)
    responder = me if assigned_to == "me" or not actor.is_coordinator else None
    found = await _run(
        uow, relay, lambda: cases.list_cases_with_deadlines(responder, open_only, me, uow)
    )
    return [CaseListItem.of_listed(item, due) for item, due in found]


@_routes.get("/v1/cases/{case_id}", tags=["cases"], response_model=CaseDetailView)
async def get_case(
    case_id: str, actor: CaseWorkers, response: Response, uow: Uow, ctx: Context, relay: Relay
) -> CaseDetailView:
    """One case, explained, for its responder or a coordinator. The read is audited."""
    response.headers.update(PRIVATE)
    me, coordinator = _person(actor), actor.is_coordinator
    detail = await _run(
        uow, relay, lambda: view.view_case(case_id, me, coordinator, uow, ctx), PRIVATE
    )
    return CaseDetailView.of_detail(detail)


# ---- coordinators' configuration and measures -------------------------------------------------


@_routes.put("/v1/rotations/{name}", tags=["on-call"], response_model=OnCallRotation)
async def put_rotation(
    name: str, rotation: OnCallRotation, actor: Coordinators, uow: Uow, ctx: Context
) -> OnCallRotation:
    """Create or replace an on-call rotation (coordinators; audited)."""
    if rotation.name != name:
        raise HTTPException(422, detail="name mismatch")
    async with uow:
        return await configuration.save_rotation(rotation, uow, _person(actor), ctx.clock())


@_routes.get("/v1/rotations", tags=["on-call"], response_model=list[OnCallRotation])
async def get_rotations(_actor: Coordinators, uow: Uow) -> list[OnCallRotation]:
    """Every rotation (coordinators)."""
    async with uow:
        return await configuration.rotations(uow)


PolicyName = Annotated[str, FastAPIPath(pattern=r"^[a-z0-9_-]{1,64}$")]


@_routes.get("/v1/policies", tags=["on-call"], response_model=list[EscalationPolicy])
async def get_policies(_actor: Coordinators, uow: Uow, ctx: Context) -> list[EscalationPolicy]:
    """Every escalation policy by name, the default in force among them (coordinators)."""
    async with uow:
        return await configuration.policies(uow, ctx)


@_routes.get("/v1/policies/{name}", tags=["on-call"], response_model=EscalationPolicy)
async def get_policy(
    name: PolicyName, _actor: Coordinators, uow: Uow, ctx: Context
) -> EscalationPolicy:
    """A policy; ``default`` is the default in force (the spec's until one is stored)."""
    async with uow:
        with _policy_answers():
            return await configuration.policy_named(name, uow, ctx)


@_routes.put("/v1/policies/{name}", tags=["on-call"], response_model=EscalationPolicy)
async def put_policy(
    name: PolicyName, policy: EscalationPolicy, actor: Coordinators, uow: Uow, ctx: Context
) -> EscalationPolicy:
    """Create or replace a policy for a team, a severity or both, or (``default``) the one
    for every other case (coordinators; audited). Cases already open keep theirs. 422 with
    field errors for an unknown schedule or person; 409 when another policy has the same
    team and severity."""
    if "name" in policy.model_fields_set and policy.name != name:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["body", "name"], "msg": "differs from the path", "type": "value_error"}],
        )
    async with uow:
        with _policy_answers():
            named = policy.model_copy(update={"name": name})
            return await configuration.save_policy(named, uow, _person(actor), ctx.clock())


@_routes.delete("/v1/policies/{name}", tags=["on-call"], status_code=204)
async def delete_policy(name: PolicyName, actor: Coordinators, uow: Uow, ctx: Context) -> None:
    """Remove a policy (coordinators; audited); cases it applied to fall to the next most
    specific one, and deleting ``default`` brings back the spec's default. Cases already open
    keep their copy."""
    async with uow:
        with _policy_answers():
            await configuration.delete_policy(name, uow, _person(actor), ctx.clock())


@contextmanager
def _policy_answers() -> Iterator[None]:
    try:
        yield
    except configuration.PolicyNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except configuration.PolicyRefusedError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, error.errors) from error
    except PolicyConflictError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error


@_routes.get("/v1/metrics/programme", response_model=ProgrammeMeasures, tags=["metrics"])
async def programme_metrics(
    _actor: ProgrammeReaders,
    uow: Uow,
    ctx: Context,
    response: Response,
    weeks: Weeks = DEFAULT_WEEKS,
) -> ProgrammeMeasures:
    """Programme measures by closed ISO week (UTC): cases opened, acknowledged, time to
    acknowledge and to first contact, outcomes, feedback per side. Each cell rests on at
    least five people or reads ``"withheld"``; the week in progress is never shown and no
    total is given, so no reading can be subtracted from another (coordinators, and systems
    with ``reports:read``)."""
    response.headers.update(PRIVATE)
    async with uow:
        return await programme.programme_report(uow, weeks, ctx.clock())


class AuditEntryView(BaseModel):
    """One audit record: when, what, who, about which case (a list read: how many cases)."""

    seq: int
    at: datetime | None
    action: str
    actor: str
    case_id: str | None
    cases: int


class AuditPageView(BaseModel):
    """A page of the audit log, newest first; ``older`` is the next page's ``before``."""

    entries: list[AuditEntryView]
    older: int | None


@_routes.get("/v1/audit", tags=["audit"], response_model=AuditPageView)
async def get_audit(
    actor: Coordinators,
    response: Response,
    uow: Uow,
    ctx: Context,
    relay: Relay,
    case_id: Annotated[str | None, Query(max_length=200)] = None,
    by: Annotated[str | None, Query(alias="actor", max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 50,
) -> AuditPageView:
    """The audit trail, newest first, filtered by case, actor and action (coordinators
    only, never a key). The read is audited: one record per page."""
    response.headers.update(PRIVATE)
    query = AuditFilter(case_id or None, by or None, action or None, before)
    page = await _run(
        uow, relay, lambda: audit.read_audit(query, limit, _person(actor), uow, ctx), PRIVATE
    )
    return AuditPageView(
        entries=[AuditEntryView(**dataclasses.asdict(entry)) for entry in page.entries],
        older=page.older,
    )


def escalation_router() -> APIRouter:
    """The service's routes."""
    router = APIRouter()
    router.include_router(_routes)
    router.include_router(subject_data_routes())
    router.include_router(oncall_routes)  # schedules, on call now, feeds (oncall_http.py)
    router.include_router(slack_routes())  # answering alerts from Slack and email
    router.include_router(signal_routes)  # signals from other systems (signals_http.py)
    return router


# ---- a person's own data: registered apart (handlers/subject_records.py) ----------------------

# Every call asks the check-in service's vault: limited per person (own bucket).
PersonOnly = Annotated[Actor, Depends(allow(everyone=True, rate_limited=True, bucket=OWN_DATA))]
"""Any signed-in person, about themself only; never a key."""


class CaseEntryView(BaseModel):
    """One entry of your case's history: what happened, when, and who (``you``, ``staff``,
    or the part of Kinship that acted)."""

    at: datetime
    action: str
    by: str


class SubjectCaseView(BaseModel):
    """A case about you: why it opened (the rules that fired), how it went, how it ended."""

    case_id: str
    status: str
    severity: str
    rules: list[str]
    opened_at: datetime
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None
    history: list[CaseEntryView]
    feedback: dict[str, int]


class MyObservationView(BaseModel):
    """What detection keeps of one of your check-ins (scores, never notes)."""

    id: str
    at: datetime
    mood: int | None
    stress: int | None
    energy: int | None
    who5_raw: int | None
    phq9_total: int | None
    phq2_total: int | None
    item9_positive: bool
    wants_contact: bool


class MyEscalationData(BaseModel):
    """Everything the escalation service holds about you (never a responder's notes)."""

    service: Literal["escalation"] = "escalation"
    person_id: str
    cases: list[SubjectCaseView]
    observations: list[MyObservationView]


_subject_data = APIRouter(route_class=DishkaRoute)


@_subject_data.get("/v1/me/data", tags=["privacy"], response_model=MyEscalationData)
async def my_data(
    actor: PersonOnly,
    response: Response,
    ctx: Context,
    records: FromDishka[SubjectRecords],
) -> MyEscalationData:
    """Everything this service holds about you: the cases about you with their history
    and feedback, and the check-in observations detection keeps. Never a responder's
    private notes, never a staff member's id. People only, about themselves."""
    response.headers.update(PRIVATE)
    me = _person(actor)
    with _answers(PRIVATE):
        held = await subject_data(me, ctx.vault, records)
    return MyEscalationData(
        person_id=me,
        cases=[
            SubjectCaseView(
                case_id=case.case_id,
                status=case.status,
                severity=case.severity,
                rules=case.rules,
                opened_at=case.opened_at,
                acknowledged_at=case.acknowledged_at,
                contacted_at=case.contacted_at,
                resolved_at=case.resolved_at,
                outcome=case.outcome,
                history=[CaseEntryView(at=e.at, action=e.action, by=e.actor) for e in case.history],
                feedback=case.feedback,
            )
            for case in held.cases
        ],
        observations=[MyObservationView(**dataclasses.asdict(item)) for item in held.observations],
    )


def subject_data_routes() -> APIRouter:
    """``GET /v1/me/data``: the signed-in person's own copy."""
    return _subject_data

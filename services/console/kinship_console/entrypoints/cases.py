"""The responder's case page: why the case opened, its timeline, and the work on it.

``/cases/{id}`` shows the escalation service's explained view of one case (rules, cited
thresholds, the check-ins' dates and scores, the rules version, the timeline) and the forms
for what the signed-in person may do now: acknowledge; reveal who the person is (when
consent or immediate risk allows: a grant from the escalation service, presented to the
check-in service, shown once in the answer and never kept); record first contact; write and
read private notes; a safety plan on critical cases; plan a follow-up; hand over; resolve.
Every form posts (CSRF-checked), then redirects back to the page with a short confirmation
(post/redirect/get); a form the page can check itself comes back with the error by its
field. The services decide every permission; their refusals become clear page states.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from kinship_console.adapters.api import ApiError, ConflictError, NotAllowedError, RejectedError
from kinship_console.adapters.cases_api import CaseDetail, CaseNotes, CasesApi, RevealedPerson
from kinship_console.domain.casework import (
    CHANNELS,
    FOLLOW_UPS,
    HANDOVER_REASONS,
    OUTCOMES,
    CaseFacts,
    Parsed,
    case_actions,
    parse_contact,
    parse_follow_up,
    parse_handover,
    parse_note,
    parse_outcome,
    parse_safety_plan,
)
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.pages import ConsolePages
from kinship_console.entrypoints.sessions import session_state

FLASH_KEY = "case_flash"
CaseId = Annotated[str, Path(min_length=1, max_length=200)]

SEVERITIES = {"critical": N_("Critical"), "high": N_("High"), "medium": N_("Medium")}
STATUSES = {
    "opened": N_("Opened"),
    "assigned": N_("Assigned"),
    "acknowledged": N_("Acknowledged"),
    "contacted": N_("Contacted"),
    "resolved": N_("Resolved"),
}
CHANNEL_NAMES = {
    "phone": N_("Phone"),
    "chat": N_("Chat"),
    "video": N_("Video call"),
    "in_person": N_("In person"),
    "email": N_("Email"),
    "other": N_("Other"),
    "slack_user_id": N_("Slack user ID"),  # shown by a reveal, never a contact's channel
}
REASON_NAMES = {
    "unavailable": N_("I am not available"),
    "workload": N_("My workload is too high"),
    "expertise": N_("It needs other expertise"),
    "conflict_of_interest": N_("Conflict of interest (I know the person)"),
    "person_asked": N_("The person asked for someone else"),
    "other": N_("Other reason"),
}
OUTCOME_NAMES = {
    "supported": N_("Supported: we talked and they are getting support"),
    "referred_professional": N_("Referred to professional help"),
    "referred_emergency": N_("Referred to emergency services"),
    "no_contact": N_("No contact could be made"),
    "declined": N_("The person declined support"),
}
FOLLOW_UP_NAMES = {
    "1d": N_("Tomorrow"),
    "3d": N_("In 3 days"),
    "1w": N_("In a week"),
    "2w": N_("In 2 weeks"),
    "4w": N_("In 4 weeks"),
}
RULE_NAMES = {
    "immediate_risk": N_("Immediate risk"),
    "self_referral": N_("Asked for someone to reach out"),
    "poor_wellbeing": N_("Poor wellbeing"),
    "sustained_decline": N_("Sustained decline in mood"),
    "sustained_load": N_("Sustained load"),
    "withdrawal": N_("Withdrawal after a low period"),
    "team_cluster": N_("Several people in one team"),
    "critical_incident": N_("Critical incident"),
}
RULE_REASONS = {
    "immediate_risk": N_("Immediate risk: the person may be unsafe. Reach out now."),
    "self_referral": N_("The person asked a peer responder to reach out."),
    "poor_wellbeing": N_("Questionnaire scores suggest poor wellbeing."),
    "sustained_decline": N_("Mood has been low or falling for a while: a peer check-in is due."),
    "withdrawal": N_("Expected check-ins were missed after a low period."),
}
SCORE_NAMES = {
    "mood": N_("Mood (1\u20135)"),
    "stress": N_("Stress (1\u20135)"),
    "energy": N_("Energy (1\u20135)"),
    "who5_raw": N_("WHO-5 (0\u201325)"),
    "phq9_total": N_("PHQ-9 (0\u201327)"),
    "phq2_total": N_("PHQ-2 (0\u20136)"),
    "phq9_item9_positive": N_("PHQ-9 item 9 answered positive"),
    "wants_contact": N_("Asked for someone to reach out"),
}
CONSENT_TEXTS = {
    "welcome": N_("The person welcomes a peer reaching out."),
    "asked": N_("The person was asked whether a peer may reach out; no answer yet."),
    "yes": N_("The person said yes: a peer may reach out."),
    "no": N_("The person said no. Nobody reaches out about this case."),
    "self_referral": N_("The person asked for someone to reach out."),
    "immediate_risk": N_("Immediate risk: a peer reaches out whatever the person's preference."),
}
ACTIONS = {
    "opened": N_("Case opened"),
    "evidence_added": N_("New evidence added"),
    "assigned": N_("Responder alerted"),
    "escalated": N_("Escalated to the next step"),
    "acknowledged": N_("Acknowledged"),
    "contacted": N_("First contact recorded"),
    "handed_over": N_("Handed over"),
    "resolved": N_("Resolved"),
    "feedback_received": N_("Feedback received"),
    "follow_up_due": N_("Follow-up due"),
    "consent_requested": N_("Person asked whether a peer may reach out"),
    "consent_given": N_("Person said yes"),
    "consent_declined": N_("Person said no"),
    "consent_expired": N_("Person did not answer in time"),
    "revealed": N_("Reveal granted"),
    "note_added": N_("Private note written"),
    "notes_read": N_("Private notes read"),
    "safety_plan_updated": N_("Safety plan written"),
    "follow_up_scheduled": N_("Follow-up planned"),
    "follow_up_reminded": N_("Follow-up reminder sent"),
    "reopened": N_("Re-opened"),
    "unanswered": N_("Unanswered: coordinators paged"),
    "paged_critical": N_("Rose to critical: paged at once"),
    "read": N_("Case read"),
    "list": N_("Shown in a case list"),
    "screen_skipped": N_("Screening skipped"),
    "erased": N_("Erased"),
}
FLASHES = {
    "acknowledged": N_("You have taken this case. Nobody else is being alerted for it."),
    "contact": N_("First contact recorded."),
    "note": N_("Your note was saved."),
    "safety_plan": N_("The safety plan was saved."),
    "follow_up": N_("Your follow-up is planned. A reminder will come then."),
    "resolve": N_("The case is resolved. Thank you."),
}
FORM_ERRORS = {
    "choose_channel": N_("Choose how you made contact."),
    "note_empty": N_("Write the note before saving it."),
    "plan_empty": N_("Fill in both parts of the safety plan."),
    "too_long": N_("This is too long."),
    "invalid_text": N_("This contains a character that cannot be stored."),
    "person_missing": N_("Enter the Kinship id of the responder to hand over to."),
    "person_invalid": N_("A Kinship id has no spaces and at most 200 characters."),
    "choose_handover": N_("Choose whom to hand the case to."),
    "choose_reason": N_("Choose a reason."),
    "choose_when": N_("Choose when to follow up."),
    "choose_outcome": N_("Choose how the case ended."),
}
FORM_FIELDS = {
    "contact": ("channel",),
    "note": ("text",),
    "safety_plan": ("who_to_call", "what_helps"),
    "handover": ("to", "to_person_id", "reason", "note"),
    "follow_up": ("when",),
    "resolve": ("outcome",),
}


@dataclass(frozen=True)
class FormState:
    """A form sent back with errors: which form, its values and its errors by field."""

    form: str
    values: dict[str, str]
    errors: dict[str, str]


def local_time(timezone: str, now: datetime) -> str | None:
    """The time now in the person's time zone (``HH:MM``), or None for an unknown zone."""
    try:
        return now.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass
class CasePages:
    """The case page and its forms, over the shared console and the cases API."""

    console: ConsolePages
    api: CasesApi

    async def _values(self, request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}

    async def case_page(self, request: Request, case_id: CaseId) -> Response:
        flash = session_state(request).data.pop(FLASH_KEY, None)
        message = None
        if isinstance(flash, dict) and flash.get("case_id") == case_id:
            message = FLASHES.get(str(flash.get("code")))
        return await self._render(request, case_id, flash=message)

    async def _render(
        self,
        request: Request,
        case_id: str,
        *,
        flash: str | None = None,
        form: FormState | None = None,
        problem: str | None = None,
        revealed: RevealedPerson | None = None,
        status_code: int = 200,
    ) -> Response:
        console = self.console
        me = console.person(request)
        try:
            case = await console.as_person(request, lambda t: self.api.case(t, case_id))
        except ApiError as error:
            return console.problem_page(request, error, N_("The case could not be shown."))
        notes, notes_failed, notes_refused = await self._notes(request, case)
        actions = case_actions(
            CaseFacts(case.status, case.severity, case.responder_id, case.reveal_allowed), me
        )
        now = console.clock.now()
        context: dict[str, Any] = {
            "case": case,
            "short_id": case.case_id[:8],
            "mine": case.responder_id == me,
            "actions": actions,
            "notes": notes,
            "notes_failed": notes_failed,
            "notes_refused": notes_refused,
            "flash": gettext(flash) if flash else None,
            "problem": gettext(problem) if problem else None,
            "form": form,
            "form_errors": {
                name: gettext(FORM_ERRORS[code])
                for name, code in (form.errors.items() if form else [])
                if code in FORM_ERRORS
            },
            "revealed": revealed,
            "revealed_local_time": local_time(revealed.timezone, now) if revealed else None,
            "now": now,
            "age": max(now - case.opened_at, timedelta(0)),
            "severities": SEVERITIES,
            "statuses": STATUSES,
            "channels": [(c, CHANNEL_NAMES[c]) for c in CHANNELS],
            "channel_names": CHANNEL_NAMES,
            "reasons": [(r, REASON_NAMES[r]) for r in HANDOVER_REASONS],
            "outcomes": [(o, OUTCOME_NAMES[o]) for o in OUTCOMES],
            "outcome_names": OUTCOME_NAMES,
            "follow_ups": [(k, FOLLOW_UP_NAMES[k]) for k in FOLLOW_UPS],
            "rule_names": RULE_NAMES,
            "rule_reasons": RULE_REASONS,
            "score_names": SCORE_NAMES,
            "consent_texts": CONSENT_TEXTS,
            "action_names": ACTIONS,
        }
        return console.pages.render(request, "cases/case.html", context, status_code=status_code)

    async def _notes(
        self, request: Request, case: CaseDetail
    ) -> tuple[CaseNotes | None, bool, bool]:
        """The case's notes when it has any (each read is audited by the service): (notes,
        failed, refused). Only the case's responders read them (not coordinators, nor a
        responder who has not taken the case yet): the service refuses the others."""
        if not case.notes and not case.safety_plan_recorded:
            return None, False, False
        try:
            notes = await self.console.as_person(
                request, lambda t: self.api.case_notes(t, case.case_id)
            )
        except NotAllowedError:
            return None, False, True
        except ApiError:
            return None, True, False
        return notes, False, False

    async def _act(
        self,
        request: Request,
        case_id: str,
        call: Callable[[str], Awaitable[object]],
        done: str,
        what: str,
    ) -> Response:
        """Do one action as the person; on success back to the case page with a note."""
        console = self.console
        console.person(request)
        try:
            await console.as_person(request, call)
        except ConflictError:
            return await self._render(
                request,
                case_id,
                problem=N_(
                    "Nothing was changed: the case changed meanwhile and this is not possible "
                    "in its state now. The page shows it as it is."
                ),
                status_code=409,
            )
        except RejectedError:
            return await self._render(
                request,
                case_id,
                problem=N_("Nothing was changed: the escalation service did not accept this."),
                status_code=422,
            )
        except ApiError as error:
            return console.problem_page(request, error, what)
        session_state(request).data[FLASH_KEY] = {"case_id": case_id, "code": done}
        return RedirectResponse(f"/cases/{quote(case_id, safe='')}#flash", status_code=303)

    async def _invalid(self, request: Request, case_id: str, form: str, parsed: Parsed) -> Response:
        values = await self._values(request)
        return await self._render(
            request, case_id, form=FormState(form, values, parsed.errors), status_code=422
        )

    async def acknowledge(self, request: Request, case_id: CaseId) -> Response:
        return await self._act(
            request,
            case_id,
            lambda t: self.api.acknowledge(t, case_id),
            "acknowledged",
            N_("The case was not acknowledged."),
        )

    async def reveal(self, request: Request, case_id: CaseId) -> Response:
        """Who the person is: shown in this answer only (never kept, never cached)."""
        console = self.console
        console.person(request)

        async def reveal(token: str) -> RevealedPerson:
            grant = await self.api.reveal_grant(token, case_id)
            return await self.api.reveal(token, grant.grant)

        try:
            revealed = await console.as_person(request, reveal)
        except ConflictError:
            return await self._render(
                request,
                case_id,
                problem=N_("Nothing was revealed: the case is not in a state that allows it."),
                status_code=409,
            )
        except RejectedError:
            return await self._render(
                request,
                case_id,
                problem=N_("Nothing was revealed: the person can no longer be found."),
                status_code=410,
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("Nothing was revealed."))
        return await self._render(request, case_id, revealed=revealed)

    async def contact(self, request: Request, case_id: CaseId) -> Response:
        parsed = parse_contact(await self._values(request))
        if not parsed.valid:
            return await self._invalid(request, case_id, "contact", parsed)
        channel = parsed.body["channel"]
        return await self._act(
            request,
            case_id,
            lambda t: self.api.record_contact(t, case_id, channel),
            "contact",
            N_("The contact was not recorded."),
        )

    async def note(self, request: Request, case_id: CaseId) -> Response:
        parsed = parse_note(await self._values(request))
        if not parsed.valid:
            return await self._invalid(request, case_id, "note", parsed)
        text = parsed.body["text"]
        return await self._act(
            request,
            case_id,
            lambda t: self.api.add_note(t, case_id, text),
            "note",
            N_("Your note was not saved."),
        )

    async def safety_plan(self, request: Request, case_id: CaseId) -> Response:
        parsed = parse_safety_plan(await self._values(request))
        if not parsed.valid:
            return await self._invalid(request, case_id, "safety_plan", parsed)
        who, what = parsed.body["who_to_call"], parsed.body["what_helps"]
        return await self._act(
            request,
            case_id,
            lambda t: self.api.write_safety_plan(t, case_id, who, what),
            "safety_plan",
            N_("The safety plan was not saved."),
        )

    async def follow_up(self, request: Request, case_id: CaseId) -> Response:
        at, parsed = parse_follow_up(await self._values(request), self.console.clock.now())
        if at is None:
            return await self._invalid(request, case_id, "follow_up", parsed)
        when = at.astimezone(UTC)
        return await self._act(
            request,
            case_id,
            lambda t: self.api.plan_follow_up(t, case_id, when),
            "follow_up",
            N_("The follow-up was not planned."),
        )

    async def handover(self, request: Request, case_id: CaseId) -> Response:
        parsed = parse_handover(await self._values(request))
        if not parsed.valid:
            return await self._invalid(request, case_id, "handover", parsed)
        body = parsed.body
        console = self.console
        console.person(request)
        try:
            await console.as_person(
                request,
                lambda t: self.api.hand_over(
                    t, case_id, body.get("to_person_id"), body["reason"], body.get("note")
                ),
            )
        except (ConflictError, RejectedError, NotAllowedError) as error:
            # An id that is no active responder's is refused as not allowed (403).
            return await self._render(
                request,
                case_id,
                problem=N_(
                    "The case was not handed over: the escalation service did not accept it "
                    "(is the id a peer responder's?)."
                ),
                status_code=error.status or 409,
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("The case was not handed over."))
        return RedirectResponse("/cases/handed-over", status_code=303)

    async def handed_over(self, request: Request) -> Response:
        self.console.person(request)
        return self.console.state_page(
            request,
            200,
            N_("The case was handed over"),
            N_(
                "It is no longer yours: the new responder (or the rotation) is being alerted. "
                "Thank you for the work you did on it."
            ),
            action=("/cases", N_("Back to My cases")),
        )

    async def resolve(self, request: Request, case_id: CaseId) -> Response:
        parsed = parse_outcome(await self._values(request))
        if not parsed.valid:
            return await self._invalid(request, case_id, "resolve", parsed)
        outcome = parsed.body["outcome"]
        return await self._act(
            request,
            case_id,
            lambda t: self.api.resolve(t, case_id, outcome),
            "resolve",
            N_("The case was not resolved."),
        )


def case_routes(console: ConsolePages, api: CasesApi) -> APIRouter:
    """``/cases/{id}`` and its forms."""
    pages = CasePages(console, api)
    router = APIRouter()
    router.add_api_route("/cases/handed-over", pages.handed_over, methods=["GET"])
    router.add_api_route("/cases/{case_id}", pages.case_page, methods=["GET"])
    for action, handler in (
        ("acknowledge", pages.acknowledge),
        ("reveal", pages.reveal),
        ("contact", pages.contact),
        ("notes", pages.note),
        ("safety-plan", pages.safety_plan),
        ("follow-up", pages.follow_up),
        ("handover", pages.handover),
        ("resolve", pages.resolve),
    ):
        router.add_api_route(f"/cases/{{case_id}}/{action}", handler, methods=["POST"])
    return router

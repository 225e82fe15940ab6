"""The employee's pages: check in (the full form, or WHO-5 alone), "I'd like someone to reach
out", the outreach preference, kudos to a colleague, my streak and my data (download, erase).

Every page calls the services as the signed-in person, who may only act as themself: the
check-in and recognition services check that too. Forms carry the session's CSRF token (the
guard in ``security`` refuses any other) and a one-time submission id, so sending one twice
records one check-in or one kudos.
"""

import functools
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kinship_console.adapters.api import SERVICES, ApiError, KinshipApi, PersonFound, Service
from kinship_console.domain.checkin_form import (
    LIKERT_FIELDS,
    PHQ9_FIELDS,
    WHO5_FIELDS,
    ParsedCheckin,
    new_submission_id,
    parse_checkin_form,
    parse_reach_out_form,
    parse_who5_form,
)
from kinship_console.domain.kudos_form import MESSAGE_MAX_CHARS, parse_kudos_form
from kinship_console.domain.outreach import DEFAULT_OUTREACH, OUTREACH_CHOICES, chosen_outreach
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.pages import ConsolePages
from kinship_console.entrypoints.sessions import session_state

RESULT_KEY = "checkin_result"
ERASURE_KEY = "erasure_id"
WHO5 = "who5"
SEARCH_MIN_CHARS = 2

FORM_ERRORS = {
    "out_of_range": N_("Choose one of the answers shown."),
    "who5_incomplete": N_("Answer all five wellbeing statements, or leave all five empty."),
    "who5_required": N_("Answer all five wellbeing statements."),
    "phq9_incomplete": N_("Answer all nine questions about the last two weeks, or none of them."),
    "note_too_long": N_("Keep the note to 2,000 characters or fewer."),
    "note_invalid": N_("The note contains a character that cannot be stored."),
    "nothing_answered": N_(
        "Answer at least one question, or tick \u201cI\u2019d like someone to reach out\u201d."
    ),
    "form_expired": N_("This form is out of date. Your answers were not sent: please send again."),
    "choose_colleague": N_("Choose the colleague you want to thank."),
    "not_yourself": N_("Kudos are for a colleague: you cannot send them to yourself."),
    "message_missing": N_("Write a few words of thanks."),
    "message_too_long": N_("Keep the message to 500 characters or fewer."),
    "message_invalid": N_("The message contains a character that cannot be stored."),
    "confirm_erasure": N_("Tick the box to confirm that you want your data erased."),
    "choose_outreach": N_("Choose one of the three options."),
}
SERVICE_NAMES = {
    "checkin": N_("Check-ins"),
    "recognition": N_("Kudos and streaks"),
    "notifications": N_("Messages"),
    "escalation": N_("Peer support cases"),
}


def form_values(form: Any) -> dict[str, str]:
    """A posted form's text fields (the CSRF token left out)."""
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    values.pop("csrf_token", None)
    return values


def error_messages(errors: dict[str, str], first_field: str) -> list[tuple[str, str]]:
    """The error summary's lines (field, sentence); an expired form comes first."""
    messages = [
        (field, gettext(FORM_ERRORS[code]))
        for field, code in errors.items()
        if field != "submission_id" and code in FORM_ERRORS
    ]
    if "submission_id" in errors:
        messages.insert(0, (first_field, gettext(FORM_ERRORS["form_expired"])))
    return messages


def field_errors(errors: dict[str, str]) -> dict[str, str]:
    """Each field's sentence, for the message beside it."""
    return {
        field: gettext(FORM_ERRORS[code]) for field, code in errors.items() if code in FORM_ERRORS
    }


def fresh_submission_id() -> str:
    return new_submission_id(secrets.token_hex(16))


async def _my_data_of(api: KinshipApi, token: str, *, service: Service) -> dict[str, Any]:
    return await api.my_data(token, service)


@dataclass
class EmployeePages:
    """The employee's pages over the shared console."""

    console: ConsolePages

    # Check in -------------------------------------------------------------------

    async def checkin_form(self, request: Request, instrument: str | None = None) -> HTMLResponse:
        self.console.person(request)
        return self._checkin_page(
            request, {}, {}, fresh_submission_id(), who5_only=instrument == WHO5
        )

    def _checkin_page(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        submission_id: str,
        *,
        who5_only: bool = False,
        status_code: int = 200,
    ) -> HTMLResponse:
        first = WHO5_FIELDS[0] if who5_only else "mood"
        return self.console.pages.render(
            request,
            "checkin.html",
            {
                "values": values,
                "errors": field_errors(errors),
                "error_messages": error_messages(errors, first),
                "submission_id": submission_id,
                "who5_only": who5_only,
                "likert_fields": LIKERT_FIELDS,
                "who5_fields": WHO5_FIELDS,
                "phq9_fields": PHQ9_FIELDS,
            },
            status_code=status_code,
        )

    async def submit_checkin(self, request: Request) -> Response:
        self.console.person(request)
        values = form_values(await request.form())
        who5_only = values.get("instrument") == WHO5
        parsed = parse_who5_form(values) if who5_only else parse_checkin_form(values)
        if not parsed.valid:
            fresh_id = parsed.submission_id or fresh_submission_id()
            return self._checkin_page(
                request, values, parsed.errors, fresh_id, who5_only=who5_only, status_code=422
            )
        return await self._send_checkin(request, parsed)

    async def _send_checkin(self, request: Request, parsed: ParsedCheckin) -> Response:
        console = self.console
        person_id = console.person(request)
        assert parsed.submission_id is not None
        submission = parsed.answers.submission(parsed.submission_id, person_id, console.clock.now())
        try:
            receipt = await console.as_person(
                request, lambda token: console.api.submit_checkin(token, submission)
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("Your check-in was not sent."))
        session_state(request).data[RESULT_KEY] = {
            "support": [resource.model_dump() for resource in receipt.immediate_support or []],
            "wants_contact": parsed.answers.wants_contact,
        }
        return RedirectResponse("/checkin/done", status_code=303)

    async def checkin_done(self, request: Request) -> Response:
        self.console.person(request)
        result = session_state(request).data.pop(RESULT_KEY, None)
        if not isinstance(result, dict):
            return RedirectResponse("/checkin", status_code=303)
        return self.console.pages.render(
            request,
            "checkin_done.html",
            {"support": result.get("support") or [], "wants_contact": result.get("wants_contact")},
        )

    # I'd like someone to reach out -------------------------------------------------

    async def reach_out_form(self, request: Request) -> HTMLResponse:
        self.console.person(request)
        return self._reach_out_page(request, {}, {}, fresh_submission_id())

    def _reach_out_page(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        submission_id: str,
        status_code: int = 200,
    ) -> HTMLResponse:
        return self.console.pages.render(
            request,
            "reach_out.html",
            {
                "values": values,
                "errors": field_errors(errors),
                "error_messages": error_messages(errors, "note"),
                "submission_id": submission_id,
            },
            status_code=status_code,
        )

    async def submit_reach_out(self, request: Request) -> Response:
        self.console.person(request)
        values = form_values(await request.form())
        parsed = parse_reach_out_form(values)
        if not parsed.valid:
            fresh_id = parsed.submission_id or fresh_submission_id()
            return self._reach_out_page(request, values, parsed.errors, fresh_id, 422)
        return await self._send_checkin(request, parsed)

    # Outreach preference ---------------------------------------------------------

    async def outreach_page(self, request: Request) -> HTMLResponse:
        console = self.console
        console.person(request)
        try:
            current = await console.as_person(request, console.api.outreach)
        except ApiError as error:
            return console.problem_page(
                request, error, N_("Your outreach preference could not be shown.")
            )
        return self._outreach_page(request, chosen_outreach(current) or DEFAULT_OUTREACH, None)

    def _outreach_page(
        self, request: Request, current: str, error: str | None, status_code: int = 200
    ) -> HTMLResponse:
        return self.console.pages.render(
            request,
            "outreach.html",
            {
                "current": current,
                "choices": OUTREACH_CHOICES,
                "error": gettext(FORM_ERRORS[error]) if error else None,
                "notice": self.console.take_notice(request),
            },
            status_code=status_code,
        )

    async def set_outreach(self, request: Request) -> Response:
        console = self.console
        console.person(request)
        values = form_values(await request.form())
        choice = chosen_outreach(values.get("preference"))
        if choice is None:
            return self._outreach_page(request, DEFAULT_OUTREACH, "choose_outreach", 422)
        try:
            await console.as_person(request, lambda token: console.api.set_outreach(token, choice))
        except ApiError as error:
            return console.problem_page(
                request, error, N_("Your outreach preference was not changed.")
            )
        console.notice(request, N_("Your outreach preference was saved."))
        return RedirectResponse("/outreach", status_code=303)

    # Kudos ------------------------------------------------------------------------

    async def kudos_page(self, request: Request, q: str | None = None) -> HTMLResponse:
        self.console.person(request)
        return await self._kudos_page(request, {"q": q or ""}, {}, fresh_submission_id())

    async def _kudos_page(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        submission_id: str,
        status_code: int = 200,
    ) -> HTMLResponse:
        console = self.console
        person_id = console.person(request)
        text = values.get("q", "").strip()[:100]
        found: list[PersonFound] | None = None
        too_short = bool(text) and len(text) < SEARCH_MIN_CHARS
        if text and not too_short:
            try:
                found = await console.as_person(
                    request, lambda token: console.api.find_people(token, text)
                )
            except ApiError as error:
                return console.problem_page(request, error, N_("Colleagues could not be found."))
            found = [person for person in found if person.person_id != person_id]
        return console.pages.render(
            request,
            "kudos.html",
            {
                "q": text,
                "too_short": too_short,
                "found": found,
                "values": values,
                "errors": field_errors(errors),
                "error_messages": error_messages(errors, "to_person_id"),
                "submission_id": submission_id,
                "message_max": MESSAGE_MAX_CHARS,
                "notice": console.take_notice(request),
            },
            status_code=status_code,
        )

    async def give_kudos(self, request: Request) -> Response:
        console = self.console
        person_id = console.person(request)
        values = form_values(await request.form())
        parsed = parse_kudos_form(values, person_id)
        if not parsed.valid:
            fresh_id = parsed.submission_id or fresh_submission_id()
            return await self._kudos_page(request, values, parsed.errors, fresh_id, 422)
        kudos = parsed.kudos(person_id, console.clock.now())
        try:
            await console.as_person(request, lambda token: console.api.give_kudos(token, kudos))
        except ApiError as error:
            return console.problem_page(request, error, N_("Your kudos were not sent."))
        console.notice(request, N_("Your kudos were sent. Thank you for saying thank you."))
        return RedirectResponse("/kudos", status_code=303)

    # My streak ----------------------------------------------------------------------

    async def streak(self, request: Request) -> HTMLResponse:
        console = self.console
        console.person(request)
        try:
            found = await console.as_person(request, console.api.my_streak)
        except ApiError as error:
            return console.problem_page(request, error, N_("Your streak could not be shown."))
        return console.pages.render(request, "streak.html", {"streak": found})

    # My data ----------------------------------------------------------------------------

    async def my_data(self, request: Request) -> HTMLResponse:
        self.console.person(request)
        erasure_id = session_state(request).data.get(ERASURE_KEY)
        return self.console.pages.render(
            request,
            "my_data.html",
            {
                "services": [(name, gettext(SERVICE_NAMES[name])) for name in SERVICES],
                "erasure_id": erasure_id if isinstance(erasure_id, str) else None,
            },
        )

    async def download_my_data(self, request: Request) -> Response:
        """Everything each service holds about the person, in one JSON file."""
        console = self.console
        person_id = console.person(request)
        exported: dict[str, Any] = {}
        for service in SERVICES:
            try:
                exported[service] = await console.as_person(
                    request, functools.partial(_my_data_of, console.api, service=service)
                )
            except ApiError as error:
                return console.problem_page(
                    request, error, N_("Your data could not be gathered from every service.")
                )
        body = {
            "person_id": person_id,
            "exported_at": console.clock.now().isoformat(),
            "services": exported,
        }
        return Response(
            json.dumps(body, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="kinship-my-data.json"',
                "Cache-Control": "no-store",
            },
        )

    async def erase_confirm(self, request: Request) -> HTMLResponse:
        self.console.person(request)
        return self._erase_page(request, None)

    def _erase_page(
        self, request: Request, error: str | None, status_code: int = 200
    ) -> HTMLResponse:
        return self.console.pages.render(
            request,
            "erase.html",
            {"error": gettext(FORM_ERRORS[error]) if error else None},
            status_code=status_code,
        )

    async def erase(self, request: Request) -> Response:
        console = self.console
        person_id = console.person(request)
        values = form_values(await request.form())
        if values.get("confirm") != "yes":
            return self._erase_page(request, "confirm_erasure", 422)
        try:
            started = await console.as_person(
                request, lambda token: console.api.request_erasure(token, person_id)
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("Your data was not erased."))
        session_state(request).data[ERASURE_KEY] = started.erasure_id
        return RedirectResponse(
            f"/me/erasure/{quote(started.erasure_id, safe='')}", status_code=303
        )

    async def erasure_status(self, request: Request, erasure_id: str) -> HTMLResponse:
        console = self.console
        console.person(request)
        try:
            progress = await console.as_person(
                request, lambda token: console.api.erasure(token, erasure_id)
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("The erasure could not be shown."))
        order: dict[str, int] = {name: index for index, name in enumerate(SERVICES)}
        rows = [
            (gettext(SERVICE_NAMES[name]) if name in SERVICE_NAMES else name, done)
            for name, done in sorted(
                progress.services.items(), key=lambda item: order.get(item[0], len(order))
            )
        ]
        return console.pages.render(request, "erasure.html", {"progress": progress, "rows": rows})


def employee_routes(console: ConsolePages) -> APIRouter:
    """Check in, reach out, outreach, kudos, streak and my data."""
    pages = EmployeePages(console)
    router = APIRouter()
    html = HTMLResponse
    router.add_api_route("/checkin", pages.checkin_form, methods=["GET"], response_class=html)
    router.add_api_route("/checkin", pages.submit_checkin, methods=["POST"])
    router.add_api_route("/checkin/done", pages.checkin_done, methods=["GET"])
    router.add_api_route("/reach-out", pages.reach_out_form, methods=["GET"], response_class=html)
    router.add_api_route("/reach-out", pages.submit_reach_out, methods=["POST"])
    router.add_api_route("/outreach", pages.outreach_page, methods=["GET"], response_class=html)
    router.add_api_route("/outreach", pages.set_outreach, methods=["POST"])
    router.add_api_route("/kudos", pages.kudos_page, methods=["GET"], response_class=html)
    router.add_api_route("/kudos", pages.give_kudos, methods=["POST"])
    router.add_api_route("/streak", pages.streak, methods=["GET"], response_class=html)
    router.add_api_route("/me/data", pages.my_data, methods=["GET"], response_class=html)
    router.add_api_route("/me/data.json", pages.download_my_data, methods=["GET"])
    router.add_api_route("/me/erase", pages.erase_confirm, methods=["GET"], response_class=html)
    router.add_api_route("/me/erase", pages.erase, methods=["POST"])
    router.add_api_route(
        "/me/erasure/{erasure_id}", pages.erasure_status, methods=["GET"], response_class=html
    )
    return router

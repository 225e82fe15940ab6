"""The console's pages: sign-in and sign-out, home, the employee's check-in, My cases.

Each page calls the other services as the signed-in person; what they answer decides what
the page shows. Errors become clear page states (``problem_page``), never a 500.
"""

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kinship_console.adapters.api import (
    ApiError,
    KinshipApi,
    NotAllowedError,
    NotFoundError,
    NotSignedInError,
    RejectedError,
    UnavailableError,
)
from kinship_console.adapters.oidc import (
    IdentityProvider,
    NoPersonIdError,
    ProviderUnavailableError,
    SignInFailedError,
    Tokens,
)
from kinship_console.clock import Clock
from kinship_console.domain.cases import CaseFacts, case_rows
from kinship_console.domain.checkin_form import (
    LIKERT_FIELDS,
    PHQ9_FIELDS,
    WHO5_FIELDS,
    new_submission_id,
    parse_checkin_form,
)
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.rendering import Pages, request_locale
from kinship_console.entrypoints.security import CSRF_SESSION_KEY, new_csrf_token
from kinship_console.entrypoints.sessions import session_state

T = TypeVar("T")
REFRESH_MARGIN_SECONDS = 30
NEXT_KEY = "next"
RESULT_KEY = "checkin_result"
BACK_HOME = ("/", N_("Back to the start page"))
"""The action of a state page that offers only the way back to the start."""

FORM_ERRORS = {
    "out_of_range": N_("Choose one of the answers shown."),
    "who5_incomplete": N_("Answer all five wellbeing statements, or leave all five empty."),
    "phq9_incomplete": N_("Answer all nine questions about the last two weeks, or none of them."),
    "note_too_long": N_("Keep the note to 2,000 characters or fewer."),
    "note_invalid": N_("The note contains a character that cannot be stored."),
    "nothing_answered": N_(
        "Answer at least one question, or tick \u201cI\u2019d like someone to reach out\u201d."
    ),
    "form_expired": N_("This form is out of date. Your answers were not sent: please send again."),
}


class SignInRequiredError(Exception):
    """The page needs a signed-in person; ``next`` is where to return afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Capability:
    """Something the signed-in person can do, shown on the home page."""

    href: str
    title: str
    description: str
    audience: str


# Roles come from Kinship's directory, never from the token. Until the directory answers
# "what may I do" for a person, the home page offers every page and the services decide
# (a responder-only page shows a clear "not allowed" state to others).
CAPABILITIES = (
    Capability(
        "/checkin",
        N_("Check in"),
        N_("Tell us how you are. Ask for someone to reach out, any time."),
        N_("Everyone"),
    ),
    Capability(
        "/cases",
        N_("My cases"),
        N_("The cases assigned to you: severity, status and how long they have been open."),
        N_("Peer responders"),
    ),
)


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


@dataclass
class ConsolePages:
    """What the pages need: the services, the identity provider, templates, time."""

    api: KinshipApi
    provider: IdentityProvider
    pages: Pages
    clock: Clock
    public_url: str
    session_max_age: timedelta

    # Sign-in state --------------------------------------------------------------

    def person(self, request: Request) -> str:
        """The signed-in person's id, or SignInRequiredError."""
        person_id = session_state(request).data.get("person_id")
        if not isinstance(person_id, str):
            raise SignInRequiredError(request.url.path)
        return person_id

    async def access_token(self, request: Request) -> str:
        """A current access token for the person, refreshed when it is about to expire."""
        state = session_state(request)
        tokens = Tokens.from_session(state.data)
        if tokens is None:
            raise SignInRequiredError(request.url.path)
        if tokens.expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return tokens.access_token
        try:
            fresh = await self.provider.refresh(tokens)
        except SignInFailedError as error:
            state.end()
            raise SignInRequiredError(request.url.path) from error
        state.data.update(fresh.as_session())
        return fresh.access_token

    async def as_person(self, request: Request, call: Callable[[str], Awaitable[T]]) -> T:
        """Call a service with the person's token; one retry after a refresh on 401."""
        token = await self.access_token(request)
        try:
            return await call(token)
        except NotSignedInError:
            state = session_state(request)
            tokens = Tokens.from_session(state.data)
            if tokens is None:
                raise
            state.data["expires_at"] = 0  # force a refresh, then try once more
            token = await self.access_token(request)
            return await call(token)

    # Pages ------------------------------------------------------------------------

    async def home(self, request: Request) -> HTMLResponse:
        return self.pages.render(request, "home.html", {"capabilities": CAPABILITIES})

    async def sign_in(self, request: Request, next: str | None = None) -> Response:
        state = session_state(request)
        if isinstance(state.data.get("person_id"), str):
            return RedirectResponse(safe_next(next), status_code=303)
        state.data[NEXT_KEY] = safe_next(next)
        try:
            return await self.provider.begin(
                request, f"{self.public_url}/auth/callback", request_locale(request)
            )
        except ProviderUnavailableError:
            return self.provider_unavailable(request)

    async def callback(self, request: Request) -> Response:
        state = session_state(request)
        try:
            tokens = await self.provider.complete(request)
        except ProviderUnavailableError:
            return self.provider_unavailable(request)
        except NoPersonIdError:
            state.end()
            return self.state_page(
                request,
                403,
                N_("Your account is not linked to Kinship"),
                N_(
                    "You signed in, but your account has no Kinship person id. Ask your "
                    "coordinator to link your account."
                ),
            )
        except SignInFailedError:
            return self.state_page(
                request,
                400,
                N_("Sign-in did not complete"),
                N_("The sign-in could not be checked, or it took too long. Please try again."),
                action=("/signin", N_("Sign in again")),
            )
        next_path = safe_next(state.data.get(NEXT_KEY))
        state.begin_signed_in(
            {**tokens.as_session(), CSRF_SESSION_KEY: new_csrf_token()},
            self.clock.now() + self.session_max_age,
        )
        return RedirectResponse(next_path, status_code=303)

    async def sign_out(self, request: Request) -> Response:
        state = session_state(request)
        id_token = state.data.get("id_token")
        state.end()
        try:
            url = await self.provider.logout_url(
                id_token if isinstance(id_token, str) else None, f"{self.public_url}/signed-out"
            )
        except ProviderUnavailableError:
            url = "/signed-out"
        return RedirectResponse(url, status_code=303)

    async def signed_out(self, request: Request) -> HTMLResponse:
        return self.pages.render(request, "signed_out.html")

    async def checkin_form(self, request: Request) -> HTMLResponse:
        self.person(request)
        return self._checkin_page(request, {}, {}, new_submission_id(secrets.token_hex(16)))

    def _checkin_page(
        self,
        request: Request,
        values: dict[str, str],
        errors: dict[str, str],
        submission_id: str,
        status_code: int = 200,
    ) -> HTMLResponse:
        messages = [
            (field, gettext(FORM_ERRORS[code]))
            for field, code in errors.items()
            if field != "submission_id" and code in FORM_ERRORS
        ]
        if "submission_id" in errors:
            messages.insert(0, ("mood", gettext(FORM_ERRORS["form_expired"])))
        return self.pages.render(
            request,
            "checkin.html",
            {
                "values": values,
                "errors": {field: gettext(FORM_ERRORS[code]) for field, code in errors.items()},
                "error_messages": messages,
                "submission_id": submission_id,
                "likert_fields": LIKERT_FIELDS,
                "who5_fields": WHO5_FIELDS,
                "phq9_fields": PHQ9_FIELDS,
            },
            status_code=status_code,
        )

    async def submit_checkin(self, request: Request) -> Response:
        person_id = self.person(request)
        form = await request.form()
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        values.pop("csrf_token", None)
        parsed = parse_checkin_form(values)
        if not parsed.valid or parsed.submission_id is None:
            fresh_id = parsed.submission_id or new_submission_id(secrets.token_hex(16))
            return self._checkin_page(request, values, parsed.errors, fresh_id, 422)
        submission = parsed.answers.submission(parsed.submission_id, person_id, self.clock.now())
        try:
            receipt = await self.as_person(
                request, lambda token: self.api.submit_checkin(token, submission)
            )
        except ApiError as error:
            return self.problem_page(request, error, N_("Your check-in was not sent."))
        session_state(request).data[RESULT_KEY] = {
            "support": [resource.model_dump() for resource in receipt.immediate_support or []],
            "wants_contact": parsed.answers.wants_contact,
        }
        return RedirectResponse("/checkin/done", status_code=303)

    async def checkin_done(self, request: Request) -> Response:
        self.person(request)
        result = session_state(request).data.pop(RESULT_KEY, None)
        if not isinstance(result, dict):
            return RedirectResponse("/checkin", status_code=303)
        return self.pages.render(
            request,
            "checkin_done.html",
            {"support": result.get("support") or [], "wants_contact": result.get("wants_contact")},
        )

    async def my_cases(self, request: Request) -> HTMLResponse:
        self.person(request)
        try:
            cases = await self.as_person(request, self.api.my_cases)
        except ApiError as error:
            return self.problem_page(request, error, N_("Your cases could not be shown."))
        now = self.clock.now()
        rows = case_rows(
            (CaseFacts(c.case_id, c.severity, c.status, c.opened_at) for c in cases), now
        )
        return self.pages.render(
            request, "cases.html", {"rows": rows, "updated_at": now, "page_scripts": ["htmx"]}
        )

    # Page states ----------------------------------------------------------------

    def state_page(
        self,
        request: Request,
        status_code: int,
        title: str,
        message: str,
        *,
        detail: str | None = None,
        action: tuple[str, str] | None = None,
    ) -> HTMLResponse:
        """A page that says what happened and what to do next (texts are translated here)."""
        context: dict[str, Any] = {
            "title": gettext(title),
            "message": gettext(message),
            "detail": gettext(detail) if detail else None,
            "action": (action[0], gettext(action[1])) if action else None,
            "status_code": status_code,
        }
        return self.pages.render(request, "state.html", context, status_code=status_code)

    def provider_unavailable(self, request: Request) -> HTMLResponse:
        return self.state_page(
            request,
            503,
            N_("Sign-in is not available right now"),
            N_("The sign-in service did not answer. Please try again in a few minutes."),
            action=BACK_HOME,
        )

    def problem_page(self, request: Request, error: ApiError, what: str) -> HTMLResponse:
        """The page state for a service's answer the console could not use."""
        back = (request.url.path, N_("Try again"))
        if isinstance(error, NotSignedInError):
            session_state(request).end()
            return self.state_page(
                request,
                401,
                N_("Please sign in again"),
                N_("A Kinship service did not accept your sign-in."),
                detail=what,
                action=(f"/signin?next={quote(request.url.path)}", N_("Sign in again")),
            )
        if isinstance(error, NotAllowedError):
            return self.state_page(
                request,
                403,
                N_("Not available to you"),
                N_(
                    "Kinship did not allow this for your account. If you think it should, ask "
                    "your coordinator."
                ),
                detail=what,
                action=BACK_HOME,
            )
        if isinstance(error, NotFoundError):
            return self.state_page(
                request,
                404,
                N_("Not found"),
                N_("What you asked for does not exist, or is no longer there."),
                detail=what,
                action=BACK_HOME,
            )
        if isinstance(error, RejectedError):
            return self.state_page(
                request,
                422,
                N_("Not accepted"),
                N_("A Kinship service did not accept what was sent. Please check and try again."),
                detail=what,
                action=back,
            )
        assert isinstance(error, UnavailableError | ApiError)
        return self.state_page(
            request,
            503,
            N_("Kinship is not available right now"),
            N_(
                "A Kinship service did not answer. Please try again in a few minutes. If you "
                "need help now, contact your local emergency number or a crisis line."
            ),
            detail=what,
            action=back,
        )


def page_router(console: ConsolePages) -> APIRouter:
    """The console's routes."""
    router = APIRouter()
    router.add_api_route("/", console.home, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/signin", console.sign_in, methods=["GET"])
    router.add_api_route("/auth/callback", console.callback, methods=["GET"])
    router.add_api_route("/signout", console.sign_out, methods=["POST"])
    router.add_api_route("/signed-out", console.signed_out, methods=["GET"])
    router.add_api_route("/checkin", console.checkin_form, methods=["GET"])
    router.add_api_route("/checkin", console.submit_checkin, methods=["POST"])
    router.add_api_route("/checkin/done", console.checkin_done, methods=["GET"])
    router.add_api_route("/cases", console.my_cases, methods=["GET"])
    return router

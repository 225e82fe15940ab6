"""What every page of the console shares: sign-in and sign-out, the session helpers that call
the services as the signed-in person, who they are (roles, from the directory), the start
page, and the page states that say what happened when a service did not do what was asked.

Each role area has its own module (``employee``, ``manager``, ``responder``) exposing its
routes; ``entrypoints.router.page_router`` puts them together. Errors become clear page
states (``problem_page``), never a 500.
"""

import contextlib
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
    Me,
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
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.rendering import ME_KEY, Pages, request_locale
from kinship_console.entrypoints.security import CSRF_SESSION_KEY, new_csrf_token
from kinship_console.entrypoints.sessions import session_state

T = TypeVar("T")
REFRESH_MARGIN_SECONDS = 30
ME_FRESH_SECONDS = 300
"""How long the console trusts what it learned of the person's roles (pages re-ask after)."""
NEXT_KEY = "next"
NOTICE_KEY = "notice"
BACK_HOME = ("/", N_("Back to the start page"))
"""The action of a state page that offers only the way back to the start."""


class SignInRequiredError(Exception):
    """The page needs a signed-in person; ``next`` is where to return afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Capability:
    """Something the signed-in person can do, shown on the start page."""

    href: str
    title: str
    description: str
    audience: str


EMPLOYEE_CAPABILITIES = (
    Capability(
        "/checkin",
        N_("Check in"),
        N_("Tell us how you are: a short form, with optional questionnaires and a note."),
        N_("Everyone"),
    ),
    Capability(
        "/reach-out",
        N_("I\u2019d like someone to reach out"),
        N_("Ask a trained colleague from the peer support team to contact you."),
        N_("Everyone"),
    ),
    Capability(
        "/outreach",
        N_("Outreach preference"),
        N_("Choose whether a peer may contact you when your check-ins show you are struggling."),
        N_("Everyone"),
    ),
    Capability(
        "/kudos",
        N_("Kudos"),
        N_("Thank a colleague for something they did."),
        N_("Everyone"),
    ),
    Capability(
        "/streak",
        N_("My streak"),
        N_("How many weeks in a row you have checked in."),
        N_("Everyone"),
    ),
    Capability(
        "/me/data",
        N_("My data"),
        N_("Download everything Kinship holds about you, or erase it."),
        N_("Everyone"),
    ),
)
MANAGER_CAPABILITY = Capability(
    "/teams",
    N_("Team trends"),
    N_("How your team is doing, week by week: only for groups of five people or more."),
    N_("Team managers"),
)
RESPONDER_CAPABILITY = Capability(
    "/cases",
    N_("My cases"),
    N_("The cases assigned to you: severity, status and how long they have been open."),
    N_("Peer responders"),
)
COORDINATOR_CAPABILITY = Capability(
    "/coordinator",
    N_("Coordination"),
    N_(
        "Cases nobody has taken, the escalation policy, on-call rotations and the programme report."
    ),
    N_("Coordinators"),
)


def capabilities(me: Me | None) -> list[Capability]:
    """The start page's offers for a person: the employee's always, the others by role (the
    directory's, through the check-in service; ``None`` when it could not be asked)."""
    offered = list(EMPLOYEE_CAPABILITIES)
    if me is None:
        return offered
    if me.managed_teams:
        offered.append(MANAGER_CAPABILITY)
    if "peer_responder" in me.roles:
        offered.append(RESPONDER_CAPABILITY)
    if "coordinator" in me.roles:
        offered.append(COORDINATOR_CAPABILITY)
    return offered


def return_path(request: Request) -> str:
    """Where sign-in brings the person back to: this page with its query, so that a deep
    link's choice survives (``/checkin?instrument=who5``, ``/feedback/<id>?from=responder``)."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


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
            raise SignInRequiredError(return_path(request))
        return person_id

    async def access_token(self, request: Request) -> str:
        """A current access token for the person, refreshed when it is about to expire."""
        state = session_state(request)
        tokens = Tokens.from_session(state.data)
        if tokens is None:
            raise SignInRequiredError(return_path(request))
        if tokens.expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return tokens.access_token
        try:
            fresh = await self.provider.refresh(tokens)
        except SignInFailedError as error:
            state.end()
            raise SignInRequiredError(return_path(request)) from error
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

    async def me(self, request: Request, *, fresh: bool = False) -> Me:
        """Who the person is to Kinship (roles, teams), asked of the check-in service and
        kept in the session for a few minutes; raises ``ApiError`` when it cannot answer."""
        data = session_state(request).data
        kept = data.get(ME_KEY)
        if (
            not fresh
            and isinstance(kept, dict)
            and kept.get("at", 0) > time.time() - ME_FRESH_SECONDS
        ):
            return Me.model_validate(kept["me"])
        found = await self.as_person(request, self.api.me)
        data[ME_KEY] = {"at": time.time(), "me": found.model_dump(mode="json")}
        return found

    def notice(self, request: Request, message: str) -> None:
        """A message for the next page this person sees (shown once)."""
        session_state(request).data[NOTICE_KEY] = message

    def take_notice(self, request: Request) -> str | None:
        """The message left for this page, translated (and gone from the session)."""
        message = session_state(request).data.pop(NOTICE_KEY, None)
        return gettext(message) if isinstance(message, str) else None

    # Pages ------------------------------------------------------------------------

    async def home(self, request: Request) -> HTMLResponse:
        if not isinstance(session_state(request).data.get("person_id"), str):
            return self.pages.render(
                request, "home.html", {"capabilities": [], "roles_known": True}
            )
        me: Me | None
        try:
            me = await self.me(request)
        except NotSignedInError as error:
            return self.problem_page(request, error, N_("Your start page could not be shown."))
        except ApiError:
            me = None  # the employee's pages still work; say that the rest is missing
        return self.pages.render(
            request,
            "home.html",
            {
                "capabilities": capabilities(me),
                "roles_known": me is not None,
                "display_name": me.display_name if me else None,
            },
        )

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
        # The navigation shows the person's roles from the first page on; when the check-in
        # service cannot say, the start page asks again (nothing else depends on it).
        with contextlib.suppress(ApiError, SignInRequiredError):
            await self.me(request, fresh=True)
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
        back = (return_path(request), N_("Try again"))
        if isinstance(error, NotSignedInError):
            session_state(request).end()
            return self.state_page(
                request,
                401,
                N_("Please sign in again"),
                N_("A Kinship service did not accept your sign-in."),
                detail=what,
                action=(f"/signin?next={quote(return_path(request))}", N_("Sign in again")),
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
        if isinstance(error, RejectedError) and error.status == 429:
            return self.state_page(
                request,
                429,
                N_("Too many requests"),
                N_("You have done this many times in a short while. Please wait a minute."),
                detail=what,
                action=back,
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


def shared_routes(console: ConsolePages) -> APIRouter:
    """The start page, sign-in and sign-out."""
    router = APIRouter()
    router.add_api_route("/", console.home, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/signin", console.sign_in, methods=["GET"])
    router.add_api_route("/auth/callback", console.callback, methods=["GET"])
    router.add_api_route("/signout", console.sign_out, methods=["POST"])
    router.add_api_route("/signed-out", console.signed_out, methods=["GET"])
    return router

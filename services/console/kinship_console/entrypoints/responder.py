"""The peer responder's pages: My cases (the case page, on-call and availability come next).

Each page calls the escalation service as the signed-in person: it decides who sees which
case, and a person who is not a responder gets a clear "not available to you".
"""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kinship_console.adapters.api import ApiError
from kinship_console.domain.cases import CaseFacts, case_rows
from kinship_console.entrypoints.i18n import N_
from kinship_console.entrypoints.pages import ConsolePages


@dataclass
class ResponderPages:
    """The responder's pages over the shared console."""

    console: ConsolePages

    async def my_cases(self, request: Request) -> HTMLResponse:
        console = self.console
        console.person(request)
        try:
            cases = await console.as_person(request, console.api.my_cases)
        except ApiError as error:
            return console.problem_page(request, error, N_("Your cases could not be shown."))
        now = console.clock.now()
        facts = (
            CaseFacts(c.case_id, c.severity, c.status, c.opened_at, c.ack_due_at, c.contact_due_at)
            for c in cases
        )
        rows = case_rows(facts, now)
        return console.pages.render(
            request, "cases.html", {"rows": rows, "updated_at": now, "page_scripts": ["htmx"]}
        )


def responder_routes(console: ConsolePages) -> APIRouter:
    """``/cases``."""
    pages = ResponderPages(console)
    router = APIRouter()
    router.add_api_route("/cases", pages.my_cases, methods=["GET"], response_class=HTMLResponse)
    return router

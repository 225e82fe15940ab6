"""Feedback after a case: the page a feedback request links to, for either side.

``/feedback/{case_id}?from=person|responder`` asks one question with five worded answers and
sends the score to the escalation service as the signed-in person. The link only chooses
which question is asked; the escalation service decides whether this person may answer it
(the person the case was about, or its responder). Its refusals become calm pages that do not
say whether the case exists; a repeat ("already given") is thanked like the first answer.
Nothing here logs the case, the person or the score.
"""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kinship_console.adapters.api import ApiError, ConflictError, NotAllowedError, NotFoundError
from kinship_console.domain.feedback_form import CASE_ID_MAX_CHARS, SCORES, Side, score_of, side_of
from kinship_console.entrypoints.employee import form_values
from kinship_console.entrypoints.i18n import N_, gettext
from kinship_console.entrypoints.pages import BACK_HOME, ConsolePages
from kinship_console.entrypoints.sessions import session_state

DONE_KEY = "feedback_done"
CaseId = Annotated[str, Path(min_length=1, max_length=CASE_ID_MAX_CHARS)]
AskedSide = Annotated[str | None, Query(alias="from", max_length=20)]
CHOOSE_SCORE = N_("Choose one of the five answers.")


def feedback_path(case_id: str, side: Side) -> str:
    """The page's own address (the form posts here, sign-in returns here)."""
    return f"/feedback/{quote(case_id, safe='')}?{urlencode({'from': side})}"


@dataclass
class FeedbackPages:
    """The feedback form and its thank-you page, over the shared console."""

    console: ConsolePages

    async def form(self, request: Request, case_id: CaseId, side: AskedSide = None) -> Response:
        self.console.person(request)
        return self._form(request, case_id, side_of(side), None)

    def _form(
        self,
        request: Request,
        case_id: str,
        side: Side,
        chosen: int | None,
        *,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return self.console.pages.render(
            request,
            "feedback.html",
            {
                "side": side,
                "action": feedback_path(case_id, side),
                "scores": SCORES,
                "chosen": chosen,
                "error": gettext(error) if error else None,
            },
            status_code=status_code,
        )

    async def give(self, request: Request, case_id: CaseId, side: AskedSide = None) -> Response:
        console = self.console
        console.person(request)
        asked = side_of(side)
        score = score_of(form_values(await request.form()).get("score"))
        if score is None:
            return self._form(request, case_id, asked, None, error=CHOOSE_SCORE, status_code=422)
        try:
            recorded = await console.as_person(
                request, lambda token: console.api.give_feedback(token, case_id, asked, score)
            )
        except (NotAllowedError, NotFoundError):
            return self.not_for_you(request)
        except ConflictError:
            return console.state_page(
                request,
                409,
                N_("Feedback cannot be given on this case now"),
                N_(
                    "Feedback can be given once a case is closed, and this one is not closed "
                    "at the moment. Thank you for wanting to tell us."
                ),
                action=BACK_HOME,
            )
        except ApiError as error:
            return console.problem_page(request, error, N_("Your feedback was not sent."))
        session_state(request).data[DONE_KEY] = {"case_id": case_id, "recorded": recorded}
        return RedirectResponse(f"/feedback/{quote(case_id, safe='')}/thanks", status_code=303)

    def not_for_you(self, request: Request) -> HTMLResponse:
        """The same page whether the case does not exist or is someone else's."""
        return self.console.state_page(
            request,
            404,
            N_("This feedback link is not for you"),
            N_(
                "Kinship cannot take feedback through this link from your account. It may "
                "have been meant for someone else, or it is no longer valid."
            ),
            detail=N_(
                "If the message was sent to you, check that you are signed in with your own "
                "account."
            ),
            action=BACK_HOME,
        )

    async def thanks(self, request: Request, case_id: CaseId) -> Response:
        self.console.person(request)
        done = session_state(request).data.pop(DONE_KEY, None)
        if not isinstance(done, dict) or done.get("case_id") != case_id:
            return RedirectResponse(f"/feedback/{quote(case_id, safe='')}", status_code=303)
        return self.console.pages.render(
            request, "feedback_done.html", {"recorded": bool(done.get("recorded"))}
        )


def feedback_routes(console: ConsolePages) -> APIRouter:
    """``/feedback/{case_id}`` and its thank-you page."""
    pages = FeedbackPages(console)
    router = APIRouter()
    router.add_api_route(
        "/feedback/{case_id}", pages.form, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route("/feedback/{case_id}", pages.give, methods=["POST"])
    router.add_api_route(
        "/feedback/{case_id}/thanks", pages.thanks, methods=["GET"], response_class=HTMLResponse
    )
    return router

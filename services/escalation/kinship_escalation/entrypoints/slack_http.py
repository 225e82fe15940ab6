"""Answering alerts where they arrive, over HTTP: Slack's interactivity requests (a press of
an alert's buttons) and replies to alert emails handed over by the mail system.

``POST /v1/slack/interactions`` is public like the acknowledgement link: Slack's request
signature is its proof, checked over the raw body BEFORE anything in it is read
(``slack_sdk``'s ``SignatureVerifier``: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``
with ``KINSHIP_SLACK_SIGNING_SECRET``, constant-time, timestamps within five minutes). An
unsigned, badly signed, stale or replayed request is refused with 401 and does nothing.

Every signed, readable press is answered with HTTP 200, refusals included (someone else's
button, an expired or spent alert): Slack shows its own generic error for any other status,
which would hide the reason. The body says what the press did (``text``,
``kinship_outcome``). Slack does not apply the response body of a ``block_actions`` request,
so once the answer has gone, the same message (``slack_message``: see ``REPLACES`` for which
outcomes replace the alert and which only tell the presser) is posted to the payload's
``response_url`` in the background (``adapters.slack_responses``: only to admitted URLs).

``POST /v1/email/inbound`` takes a raw RFC 822 reply from the mail system's key (scope
``email:inbound``); the reply's token and sender are checked by the handler.
"""

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qs

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.background import BackgroundTask

from kinship_escalation.domain.alert_responses import (
    UnreadableResponseError,
    read_email_reply,
    read_slack_press,
)
from kinship_escalation.domain.cases import (
    CaseNotFoundError,
    CaseTransitionError,
    LinkExpiredError,
    NotAllowedError,
)
from kinship_escalation.handlers import acknowledge_routes
from kinship_escalation.handlers.acknowledge_routes import Answer, Outcome
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.access import Actor, allow
from kinship_runtime.identity import Scope
from kinship_runtime.outbox import OutboxRelay

SLACK_PATH = "/v1/slack/interactions"
EMAIL_PATH = "/v1/email/inbound"
MAX_AGE_SECONDS = 5 * 60
"""Slack's advice: refuse requests whose timestamp is more than five minutes off."""
PRIVATE = {"Cache-Control": "no-store"}

REPLACES: dict[Outcome, bool] = {
    Outcome.ACKNOWLEDGED: True,
    Outcome.ALREADY_ACKNOWLEDGED: True,
    Outcome.HANDED_ON: True,
    Outcome.DECLINE_NOTED: True,
    Outcome.ALREADY_ANSWERED: True,
    Outcome.NOT_OPEN: True,
    Outcome.HOLDING: True,
    Outcome.EXPIRED: True,
    Outcome.UNKNOWN: True,
    Outcome.REFUSED: False,
    Outcome.INVALID: False,
}
"""Whether a press's answer replaces the alert in Slack (its buttons gone: ``in_channel``,
``replace_original``) or is an ephemeral note to the presser only, the alert untouched.

Replaced: every outcome after which the alert's buttons can do nothing more for anyone
(the alert is spent, expired or gone, the case has moved on or is held by the recipient).
Not replaced: ``refused`` (another Slack user pressed: the recipient's buttons must stay)
and ``invalid`` (a token that is not the alert's: whoever pressed, the message is not shown
to be one of ours to change)."""

MailSystem = Annotated[Actor, Depends(allow(scopes=[Scope.EMAIL_INBOUND]))]
"""The mail system's key (scope ``email:inbound``); never a person."""


def slack_request_problem(
    secret: str, body: bytes, headers: Mapping[str, str], now: float
) -> str | None:
    """Why a request is not Slack's (``unsigned``, ``stale``, ``bad_signature``), or None.

    The headers are checked for shape first, so that the verifier never meets a value it
    would fail on (a timestamp that is no number, a body that is no UTF-8, a non-ASCII
    signature) instead of answering False.
    """
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        return "unsigned"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "stale"
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale"
    if not signature.isascii() or not signature.startswith("v0="):
        return "bad_signature"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "bad_signature"

    class _At(Clock):
        def now(self) -> float:
            return now

    if not SignatureVerifier(secret, clock=_At()).is_valid(body, timestamp, signature):
        return "bad_signature"
    return None


class ReplayGuard:
    """Remembers the signatures of the last five minutes' requests: a signed request seen
    before is a replay (older ones are stale anyway). Per process: across replicas the
    alert's one-time token still lets a replay do nothing."""

    def __init__(self, window: float = MAX_AGE_SECONDS, capacity: int = 100_000) -> None:
        self._window = window
        self._capacity = capacity
        self._seen: dict[str, float] = {}

    def first_time(self, signature: str, now: float | None = None) -> bool:
        """Whether ``signature`` is new (it is remembered from now on)."""
        moment = time.monotonic() if now is None else now
        if len(self._seen) >= self._capacity or next(iter(self._seen.values()), moment) < (
            moment - self._window
        ):
            self._seen = {s: at for s, at in self._seen.items() if at >= moment - self._window}
        if signature in self._seen:
            return False
        if len(self._seen) >= self._capacity:
            return False  # flooded with validly signed requests: refuse rather than forget
        self._seen[signature] = moment
        return True


@dataclass(frozen=True)
class _Refused:
    """A press or reply the handler refused before answering: the HTTP status an email's
    mail system gets, the outcome and the reason."""

    code: int
    outcome: Outcome
    reason: str


class ResponsePoster(Protocol):
    """Posts a press's answer to its ``response_url`` after the press has been answered
    (``adapters.slack_responses.SlackResponder``)."""

    def submit(self, response_url: object, message: Mapping[str, Any]) -> str:
        """Queue the post, or refuse it at once (a URL not admitted is never called)."""
        ...


def slack_message(outcome: Outcome, text: str) -> dict[str, Any]:
    """The message for Slack about a press (no blocks: a replaced alert loses its buttons)."""
    replace = REPLACES[outcome]
    return {
        "replace_original": replace,
        "response_type": "in_channel" if replace else "ephemeral",
        "text": text,
    }


def _response_url(body: bytes) -> object:
    """The payload's ``response_url`` (a press already read: the body parses)."""
    payload = json.loads(parse_qs(body.decode("utf-8"), max_num_fields=10)["payload"][0])
    return payload.get("response_url") if isinstance(payload, dict) else None


async def _update_in_slack(
    poster: ResponsePoster, response_url: object, message: dict[str, Any]
) -> None:
    """Run after the answer has been sent (async: on the event loop, not in a thread)."""
    poster.submit(response_url, message)


def _slack_answer(answer: Answer | _Refused, body: bytes, poster: ResponsePoster) -> JSONResponse:
    """Always 200 for a signed, readable press: the reason travels in the body; once sent,
    the same message goes to the press's ``response_url``."""
    if isinstance(answer, _Refused):
        outcome, text = answer.outcome, answer.reason
    else:
        outcome, text = answer.outcome, answer.message
    message = slack_message(outcome, text)
    return JSONResponse(
        {**message, "kinship_outcome": outcome.value},
        status.HTTP_200_OK,
        headers=PRIVATE,
        background=BackgroundTask(_update_in_slack, poster, _response_url(body), message),
    )


def _refusal(code: int, reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason, "text": reason}, code, headers=PRIVATE)


async def _run(
    uow: EscalationUnitOfWork, relay: OutboxRelay, use_case: Callable[[], Awaitable[Answer]]
) -> Answer | _Refused:
    """The use case in the unit of work; handler errors as refusals with a reason."""
    try:
        async with uow:
            answer = await use_case()
    except CaseNotFoundError:
        return _Refused(status.HTTP_404_NOT_FOUND, Outcome.UNKNOWN, "This alert is unknown.")
    except LinkExpiredError as error:
        return _Refused(status.HTTP_410_GONE, Outcome.EXPIRED, str(error))
    except NotAllowedError as error:
        return _Refused(status.HTTP_403_FORBIDDEN, Outcome.INVALID, str(error))
    except CaseTransitionError:
        return _Refused(
            status.HTTP_409_CONFLICT, Outcome.NOT_OPEN, "This case cannot be taken now."
        )
    relay.wake()
    return answer


_slack = APIRouter(route_class=DishkaRoute)


@_slack.post(SLACK_PATH, tags=["cases"])
async def slack_interaction(
    request: Request,
    settings: FromDishka[EscalationSettings],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
    relay: FromDishka[OutboxRelay],
    replays: FromDishka[ReplayGuard],
    poster: FromDishka[ResponsePoster],
) -> JSONResponse:
    """A press of a Slack alert's button ("Acknowledge", "I can't take this — hand
    on"), as Slack posts it; a signed, readable press is answered 200 with what it did
    (``kinship_outcome``) and a sentence for the responder, refusals included."""
    secret = settings.slack_signing_key()
    if secret is None:
        # Switched off, not down: nothing to retry (a 5xx would say otherwise).
        return _refusal(status.HTTP_404_NOT_FOUND, "Slack is not set up here.")
    body = await request.body()
    problem = slack_request_problem(secret, body, request.headers, ctx.clock().timestamp())
    if problem is not None:
        return _refusal(status.HTTP_401_UNAUTHORIZED, problem)
    if not replays.first_time(request.headers["x-slack-signature"]):
        return _refusal(status.HTTP_401_UNAUTHORIZED, "replayed")
    try:
        press = read_slack_press(body)
    except UnreadableResponseError as error:
        return _refusal(status.HTTP_400_BAD_REQUEST, error.reason)
    answer = await _run(uow, relay, lambda: acknowledge_routes.answer_slack_press(press, uow, ctx))
    return _slack_answer(answer, body, poster)


@_slack.post(EMAIL_PATH, tags=["cases"])
async def email_inbound(
    request: Request,
    caller: MailSystem,
    settings: FromDishka[EscalationSettings],
    uow: FromDishka[EscalationUnitOfWork],
    ctx: FromDishka[EscalationContext],
    relay: FromDishka[OutboxRelay],
) -> JSONResponse:
    """A reply to an alert email, raw (RFC 822), from the mail system: "ack" / "yes" /
    "acknowledge" takes the case, "hand on" / "no" hands it on."""
    try:
        reply = read_email_reply(await request.body(), settings.email_reply_domain)
    except UnreadableResponseError as error:
        code = status.HTTP_413_CONTENT_TOO_LARGE if error.reason == "too large" else 422
        return _refusal(code, error.reason)
    answer = await _run(uow, relay, lambda: acknowledge_routes.answer_email_reply(reply, uow, ctx))
    if isinstance(answer, _Refused):
        return JSONResponse(
            {"detail": answer.reason, "text": answer.reason, "outcome": answer.outcome.value},
            answer.code,
            headers=PRIVATE,
        )
    code = status.HTTP_403_FORBIDDEN if answer.outcome is Outcome.REFUSED else 200
    return JSONResponse(
        {"outcome": answer.outcome.value, "text": answer.message}, code, headers=PRIVATE
    )


def slack_routes() -> APIRouter:
    """The Slack interactivity endpoint and the email inbound endpoint."""
    return _slack

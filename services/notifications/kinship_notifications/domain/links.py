"""The links a message carries, completed as it is sent.

Links that act (an alert's acknowledgement link, a consent question's yes and no links) come
in the request WITHOUT a token, so nothing stored or on Kafka can act; the notifications
service mints each token at send time (``kinship_contracts.links`` with
``KINSHIP_LINK_SECRET``, which the escalation service checks) and puts the full link only into
what the recipient receives. Links that only lead somewhere (where to check in, where to give
feedback) are taken from the request, or point at the console (``KINSHIP_CONSOLE_URL``) when
the request has none: a feedback request's at the console's feedback page for its case and
side (``/feedback/<case_id>?from=person|responder``). A request from before tokens were
minted at send time already carries an acknowledgement token: it is used as is.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import HttpUrl

from kinship_contracts.links import ConsentAnswer, mint_ack_token, mint_consent_token, with_token
from kinship_contracts.notifications import (
    MessageKind,
    NotificationRequest,
    Param,
    ReminderPurpose,
)
from kinship_notifications.domain.channels import TemplateFailedError

DEFAULT_LIFETIME = timedelta(hours=24)
"""How long an acknowledgement link works when the alert names no expiry."""
CONSENT_LIFETIME = timedelta(hours=72)
"""How long consent links work when the request names no expiry: a person may read the
question the next morning or after a weekend."""
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8005"
FEEDBACK_SIDES = frozenset({"person", "responder"})
"""Who a feedback request asks (its ``from``): the person supported or their responder."""


def has_token(link: str) -> bool:
    """Whether a link already carries a token (requests from before the change)."""
    return any(name == "token" for name, _ in parse_qsl(urlsplit(link).query))


def without_token(link: str) -> str:
    """The link with no token (what a finished delivery keeps of an old request's link)."""
    parts = urlsplit(link)
    query = [(name, value) for name, value in parse_qsl(parts.query) if name != "token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def checkin_link(console_url: str, purpose: ReminderPurpose | None) -> str:
    """The console's check-in page; after a critical incident its short WHO-5 form."""
    page = f"{console_url.rstrip('/')}/checkin"
    return f"{page}?instrument=who5" if purpose is ReminderPurpose.EXPOSURE_FOLLOW_UP else page


def feedback_link(console_url: str, case_id: str | None, side: str | None) -> str:
    """The console's feedback page for a case, for the side the request asks
    (``<console>/feedback/<case_id>?from=person``); the console's start page when the request
    names no case. The console and the escalation service decide who may answer."""
    console = console_url.rstrip("/")
    if not case_id:
        return console
    page = f"{console}/feedback/{quote(case_id, safe='')}"
    return f"{page}?{urlencode({'from': side})}" if side in FEEDBACK_SIDES else page


@dataclass(frozen=True)
class MessageLinks:
    """Completes the links of a message as it is sent."""

    secret: bytes
    console_url: str = DEFAULT_CONSOLE_URL
    lifetime: timedelta = DEFAULT_LIFETIME
    consent_lifetime: timedelta = CONSENT_LIFETIME

    def for_sending(self, request: NotificationRequest, now: datetime) -> NotificationRequest:
        """The request as the recipient gets it (a copy: the stored request keeps its links
        without tokens): an alert's acknowledgement link and a consent question's yes/no
        links with their tokens; a reminder's check-in link and a feedback request's link
        when the request has none.

        Raises ``TemplateFailedError`` when a consent question lacks what its links need
        (``consent_id``, both links, a readable expiry): no attempt can send it.
        """
        if request.alert is not None:
            return self._acknowledge(request, now)
        if request.kind is MessageKind.CONSENT_REQUEST:
            return self._consent(request, now)
        if request.kind is MessageKind.CHECKIN_REMINDER and Param.CHECKIN_URL not in request.params:
            return _with_params(
                request, {Param.CHECKIN_URL: checkin_link(self.console_url, request.purpose)}
            )
        if (
            request.kind is MessageKind.FEEDBACK_REQUEST
            and Param.FEEDBACK_URL not in request.params
        ):
            case_id = request.params.get(Param.CASE_ID) or request.case_id
            link = feedback_link(self.console_url, case_id, request.params.get(Param.FROM))
            return _with_params(request, {Param.FEEDBACK_URL: link})
        return request

    def _acknowledge(self, request: NotificationRequest, now: datetime) -> NotificationRequest:
        alert = request.alert
        assert alert is not None
        link = str(alert.ack_url)
        if has_token(link):
            return request
        expires = alert.expires_at or now + self.lifetime
        token = mint_ack_token(self.secret, alert.alert_id, expires)
        sendable = alert.model_copy(update={"ack_url": HttpUrl(with_token(link, token))})
        return request.model_copy(update={"alert": sendable})

    def _consent(self, request: NotificationRequest, now: datetime) -> NotificationRequest:
        params = request.params
        consent_id = params.get(Param.CONSENT_ID)
        yes, no = params.get(Param.CONSENT_YES_URL), params.get(Param.CONSENT_NO_URL)
        if not consent_id or not yes or not no:
            raise TemplateFailedError
        expires = now + self.consent_lifetime
        if Param.CONSENT_EXPIRES_AT in params:
            try:
                expires = datetime.fromisoformat(params[Param.CONSENT_EXPIRES_AT])
            except ValueError:
                raise TemplateFailedError from None
            if expires.tzinfo is None:
                raise TemplateFailedError
        links = {
            Param.CONSENT_YES_URL: self._answer(yes, consent_id, ConsentAnswer.YES, expires),
            Param.CONSENT_NO_URL: self._answer(no, consent_id, ConsentAnswer.NO, expires),
            Param.CONSENT_EXPIRES_AT: expires.isoformat(),
        }
        return _with_params(request, links)

    def _answer(self, link: str, consent_id: str, answer: ConsentAnswer, expires: datetime) -> str:
        token = mint_consent_token(self.secret, consent_id, answer, expires)
        return with_token(without_token(link) if has_token(link) else link, token)


def _with_params(request: NotificationRequest, extra: dict[Param, str]) -> NotificationRequest:
    params = dict(request.params) | {str(name): value for name, value in extra.items()}
    return request.model_copy(update={"params": params})

"""Acknowledgement links with their token, minted when an alert is sent.

An alert request carries its link WITHOUT a token (nothing stored or on Kafka opens a case);
the notifications service mints the token at send time
(``kinship_contracts.links.mint_ack_token`` with ``KINSHIP_LINK_SECRET``, which the escalation
service checks) and puts the full link only into what the responder receives. The token is
valid until the alert's ``expires_at``, or for ``lifetime`` after sending. A request from
before this change already carries a token: it is used as is.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import HttpUrl

from kinship_contracts.links import mint_ack_token, with_token
from kinship_contracts.notifications import NotificationRequest

DEFAULT_LIFETIME = timedelta(hours=24)


def has_token(link: str) -> bool:
    """Whether a link already carries a token (requests from before the change)."""
    return any(name == "token" for name, _ in parse_qsl(urlsplit(link).query))


def without_token(link: str) -> str:
    """The link with no token (what a finished delivery keeps of an old request's link)."""
    parts = urlsplit(link)
    query = [(name, value) for name, value in parse_qsl(parts.query) if name != "token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class AckLinks:
    """Mints acknowledgement tokens into alerts as they are sent."""

    secret: bytes
    lifetime: timedelta = DEFAULT_LIFETIME

    def for_sending(self, request: NotificationRequest, now: datetime) -> NotificationRequest:
        """The request as the recipient gets it: an alert's link with its token (a copy:
        the stored request keeps the link without one)."""
        alert = request.alert
        if alert is None:
            return request
        link = str(alert.ack_url)
        if has_token(link):
            return request
        expires = alert.expires_at or now + self.lifetime
        token = mint_ack_token(self.secret, alert.alert_id, expires)
        sendable = alert.model_copy(update={"ack_url": HttpUrl(with_token(link, token))})
        return request.model_copy(update={"alert": sendable})

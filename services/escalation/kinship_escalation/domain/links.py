"""Acknowledgement links of alerts.

The alert on ``notifications.requests`` carries the link without a token, and when it stops
working; the notifications service adds a one-time token (``kinship_contracts.links``) to the
message it sends, so no usable link is ever stored or sent on Kafka. This service checks the
token when the responder follows the link, with the secret both services hold for this
purpose only (``KINSHIP_LINK_SECRET``), and records the link's first use against the alert.
"""

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from kinship_contracts.links import check_ack_token

_BEFORE_ANY_EXPIRY = datetime.fromtimestamp(0, UTC)


class LinkCheck(StrEnum):
    """What a presented token is worth."""

    VALID = "valid"
    EXPIRED = "expired"
    """Minted for this alert, but too late now."""
    FORGED = "forged"
    """Not minted for this alert with our secret (or malformed)."""


class AckLinks:
    """The acknowledgement link of each alert, its expiry, and the check of its token."""

    def __init__(self, secret: bytes, public_url: str, lifetime: timedelta) -> None:
        if not secret:
            raise ValueError("the acknowledgement link secret is empty")
        self._secret = secret
        self._base = public_url.rstrip("/")
        self._lifetime = lifetime

    def url(self, alert_id: str) -> str:
        """The link the alert carries, without a token."""
        return f"{self._base}/v1/alerts/{alert_id}/acknowledge"

    def expires_at(self, sent_at: datetime) -> datetime:
        """When the link of an alert sent at ``sent_at`` stops working."""
        return sent_at + self._lifetime

    def check(self, alert_id: str, token: str, now: datetime) -> LinkCheck:
        """Whether ``token`` was minted for ``alert_id`` and is still valid (constant time)."""
        if check_ack_token(self._secret, alert_id, token, now):
            return LinkCheck.VALID
        if check_ack_token(self._secret, alert_id, token, _BEFORE_ANY_EXPIRY):
            return LinkCheck.EXPIRED
        return LinkCheck.FORGED

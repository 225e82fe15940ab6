"""One-time signed acknowledgement links for alerts."""

import hashlib
import hmac


class AckLinks:
    """Signs and checks the acknowledgement link of each alert (HMAC-SHA256 of its id).

    The link is single-use: the service records its first use against the alert.
    """

    def __init__(self, secret: bytes, public_url: str) -> None:
        self._secret = secret
        self._base = public_url.rstrip("/")

    def token(self, alert_id: str) -> str:
        """The alert's link token."""
        return hmac.new(self._secret, f"ack:{alert_id}".encode(), hashlib.sha256).hexdigest()

    def url(self, alert_id: str) -> str:
        """The link a responder follows to acknowledge."""
        return f"{self._base}/v1/alerts/{alert_id}/acknowledge?token={self.token(alert_id)}"

    def valid(self, alert_id: str, token: str) -> bool:
        """Whether ``token`` was issued for ``alert_id`` (constant-time comparison)."""
        # compare_digest refuses non-ASCII text (TypeError): a hostile token is just invalid.
        return token.isascii() and hmac.compare_digest(self.token(alert_id), token)

"""One-time acknowledgement links: minted by the notifications service when it sends an alert,
checked by the escalation service when the responder follows it.

The token is never stored or sent on Kafka: the alert request carries the link without it, and
only the message the responder receives has it. It names its alert and its expiry, and is an
HMAC with a secret both services hold for this purpose only (``KINSHIP_LINK_SECRET``). The
escalation service also records the link's first use, so it works once.
"""

import hashlib
import hmac
from datetime import UTC, datetime

TOKEN_VERSION = "v1"  # noqa: S105 - a format version, not a secret


def _mac(secret: bytes, alert_id: str, expires: int) -> str:
    message = f"kinship-ack:{TOKEN_VERSION}:{alert_id}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def mint_ack_token(secret: bytes, alert_id: str, expires_at: datetime) -> str:
    """The token of an alert's acknowledgement link, valid until ``expires_at``."""
    expires = int(expires_at.timestamp())
    return f"{TOKEN_VERSION}.{expires}.{_mac(secret, alert_id, expires)}"


def check_ack_token(secret: bytes, alert_id: str, token: str, now: datetime) -> bool:
    """Whether ``token`` was minted for ``alert_id`` and has not expired (constant time)."""
    version, _, rest = token.partition(".")
    expires_text, _, mac = rest.partition(".")
    if (
        version != TOKEN_VERSION
        or not expires_text.isascii()
        or not expires_text.isdigit()
        or len(mac) != 64
        or not mac.isascii()  # compare_digest refuses non-ASCII text with a TypeError
    ):
        return False
    expires = int(expires_text)
    if not hmac.compare_digest(_mac(secret, alert_id, expires), mac):
        return False
    return datetime.fromtimestamp(expires, UTC) > now


def with_token(link: str, token: str) -> str:
    """The link a responder follows: the alert's link with its token."""
    return f"{link}?token={token}"


REQUEST_SIGNATURE_HEADER = "kinship-request-signature"
"""Header of a ``notifications.requests`` record: HMAC-SHA256 of its value, hex."""


def sign_request(secret: bytes, value: bytes) -> str:
    """The signature a Kinship service puts on a notification request it produces."""
    return "sha256=" + hmac.new(secret, b"kinship-request:" + value, hashlib.sha256).hexdigest()


def request_signed(secret: bytes, value: bytes, signature: str | None) -> bool:
    """Whether a notification request was signed by a Kinship service (constant time)."""
    return (
        signature is not None
        and signature.isascii()  # compare_digest refuses non-ASCII text with a TypeError
        and hmac.compare_digest(sign_request(secret, value), signature)
    )

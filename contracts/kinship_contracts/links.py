"""Links with tokens, minted by the notifications service as it sends a message and checked
by the escalation service when the link is followed: acknowledgement links of alerts and the
yes/no links of consent requests.

A token is never stored or sent on Kafka: the request carries the link without it, and only
the message the recipient receives has it. It names what it is for (an alert; a consent
question and its answer) and its expiry, and is an HMAC with a secret both services hold for
this purpose only (``KINSHIP_LINK_SECRET``); each kind of link has its own message prefix, so
one kind of token never passes for another. The escalation service records a link's first
use, so it works once.
"""

import hashlib
import hmac
from datetime import UTC, datetime
from enum import StrEnum

TOKEN_VERSION = "v1"  # noqa: S105 - a format version, not a secret


def _mac(secret: bytes, subject: str, expires: int) -> str:
    message = f"{subject}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _mint(secret: bytes, subject: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{TOKEN_VERSION}.{expires}.{_mac(secret, subject, expires)}"


def _check(secret: bytes, subject: str, token: str, now: datetime) -> bool:
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
    if not hmac.compare_digest(_mac(secret, subject, expires), mac):
        return False
    return datetime.fromtimestamp(expires, UTC) > now


def _ack(alert_id: str) -> str:
    return f"kinship-ack:{TOKEN_VERSION}:{alert_id}"


def mint_ack_token(secret: bytes, alert_id: str, expires_at: datetime) -> str:
    """The token of an alert's acknowledgement link, valid until ``expires_at``."""
    return _mint(secret, _ack(alert_id), expires_at)


def check_ack_token(secret: bytes, alert_id: str, token: str, now: datetime) -> bool:
    """Whether ``token`` was minted for ``alert_id`` and has not expired (constant time)."""
    return _check(secret, _ack(alert_id), token, now)


class ConsentAnswer(StrEnum):
    """The two answers to a consent question; each has its own link and token."""

    YES = "yes"
    NO = "no"


def _consent(consent_id: str, answer: ConsentAnswer) -> str:
    return f"kinship-consent:{TOKEN_VERSION}:{consent_id}:{ConsentAnswer(answer).value}"


def mint_consent_token(
    secret: bytes, consent_id: str, answer: ConsentAnswer, expires_at: datetime
) -> str:
    """The token of one answer's link of a consent question, valid until ``expires_at``:
    ``v1.<expiry, Unix seconds>.<hex HMAC-SHA256 of
    "kinship-consent:v1:<consent_id>:<answer>:<expiry>">``."""
    return _mint(secret, _consent(consent_id, answer), expires_at)


def check_consent_token(
    secret: bytes, consent_id: str, answer: ConsentAnswer, token: str, now: datetime
) -> bool:
    """Whether ``token`` was minted for this answer to ``consent_id`` and has not expired
    (constant time): the yes link's token never works as a no, nor for another question,
    nor as an acknowledgement."""
    return _check(secret, _consent(consent_id, answer), token, now)


def with_token(link: str, token: str) -> str:
    """The link the recipient follows: the link with its token as the last query parameter
    (``?token=`` or, when the link has a query already, ``&token=``)."""
    separator = "&" if "?" in link else "?"
    return f"{link}{separator}token={token}"


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

"""Acknowledging an alert where it arrives: the reply address of an alert email and the
value of a Slack alert's buttons, minted by the notifications service as it sends the alert
and checked by the escalation service when the reply or the press comes back.

Both are HMACs with the acknowledgement links' secret (``KINSHIP_LINK_SECRET``), each with a
message prefix of its own, so none passes for another or for a link's token:

- an email alert's ``Reply-To`` is ``ack+<token>@<reply domain>``; the token names the alert
  and its expiry and binds the address the alert was sent to (the recipient's email in the
  directory), so a reply from any other sender does not check. It is short (lower-case
  base32 and base36) because a mailbox name may have 64 characters and some mail systems
  change its case.
- a Slack button's value carries the alert id and its acknowledgement-link token, and, when
  the directory knows the recipient's Slack user id, a binding of that user (an HMAC: the
  value names nobody): a press by another Slack user does not check.

The escalation service records an alert's first use (link, button or reply): one time only.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

REPLY_LOCAL_PREFIX = "ack+"
"""The mailbox name of a reply address before its token: ``ack+<token>@<domain>``."""
SLACK_VALUE_VERSION = "k1"
MAX_SLACK_VALUE = 2000
"""Slack's limit on a button's value."""

_MAC_CHARS = 16  # 80 bits of HMAC-SHA256, lower-case base32
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _short_mac(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:_MAC_CHARS]


def _base36(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = _DIGITS[digit] + text
        if number == 0:
            return text


def normal_address(address: str) -> str:
    """An email address as compared: trimmed, lower case."""
    return address.strip().lower()


def _reply_mac(secret: bytes, alert_id: str, expires: int, address: str) -> str:
    return _short_mac(secret, f"kinship-reply:v1:{alert_id}:{expires}:{normal_address(address)}")


def mint_reply_token(secret: bytes, alert_id: str, address: str, expires_at: datetime) -> str:
    """The token of an alert email's reply address: ``<alert_id>.<expiry, base36>.<mac>``,
    valid until ``expires_at`` for replies from ``address`` only. Alert ids of lower-case
    letters, digits, ``-`` and ``_`` only (``read_reply_token`` reads no other)."""
    expires = int(expires_at.timestamp())
    return f"{alert_id}.{_base36(expires)}.{_reply_mac(secret, alert_id, expires, address)}"


def reply_address(token: str, domain: str) -> str:
    """The reply address that carries ``token``."""
    return f"{REPLY_LOCAL_PREFIX}{token}@{domain}"


@dataclass(frozen=True)
class ReplyToken:
    """A reply token as read (not yet checked)."""

    alert_id: str
    expires_at: datetime
    expires: int
    mac: str


def read_reply_token(token: str) -> ReplyToken | None:
    """The parts of a reply token, or None when it is not one (nothing is checked)."""
    parts = token.strip().lower().split(".")
    if len(parts) != 3 or not all(part.isascii() for part in parts):
        return None
    alert_id, expiry, mac = parts
    if not (alert_id.replace("-", "").replace("_", "").isalnum() and len(alert_id) <= 64):
        return None
    if len(mac) != _MAC_CHARS or not mac.isalnum() or not expiry.isalnum() or len(expiry) > 8:
        return None
    expires = int(expiry, 36)
    try:  # eight base36 digits reach past the year 9999: such an address is no token of ours
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return ReplyToken(alert_id, expires_at, expires, mac)


def reply_token_from(secret: bytes, token: ReplyToken, address: str) -> bool:
    """Whether ``token`` was minted for its alert and ``address`` (constant time; expiry is
    the caller's to judge: ``token.expires_at``)."""
    expected = _reply_mac(secret, token.alert_id, token.expires, address)
    return hmac.compare_digest(expected, token.mac)


def slack_user_binding(secret: bytes, alert_id: str, slack_user_id: str) -> str:
    """What a Slack button carries of the recipient's Slack user: an HMAC, never the id."""
    return _short_mac(secret, f"kinship-slack-user:v1:{alert_id}:{slack_user_id}")


def slack_user_bound(secret: bytes, alert_id: str, slack_user_id: str, binding: str) -> bool:
    """Whether ``binding`` was made for ``alert_id`` and ``slack_user_id`` (constant time)."""
    if not binding.isascii():
        return False
    return hmac.compare_digest(slack_user_binding(secret, alert_id, slack_user_id), binding)


@dataclass(frozen=True)
class SlackButtonValue:
    """What a Slack alert's button carries: the alert, its link's token, and the binding of
    the recipient's Slack user when the directory knows it."""

    alert_id: str
    token: str
    user_binding: str | None = None

    def encode(self) -> str:
        """The button's ``value``."""
        parts = [SLACK_VALUE_VERSION, self.alert_id, self.token]
        if self.user_binding:
            parts.append(self.user_binding)
        return " ".join(parts)

    @classmethod
    def decode(cls, value: str) -> "SlackButtonValue | None":
        """The value read back, or None when it is not one of ours."""
        if len(value) > MAX_SLACK_VALUE or not value.isascii():
            return None
        parts = value.split(" ")
        if len(parts) not in (3, 4) or parts[0] != SLACK_VALUE_VERSION:
            return None
        if not parts[1] or not parts[2]:
            return None
        return cls(parts[1], parts[2], parts[3] if len(parts) == 4 else None)

"""Answers to an alert from where it arrived: a Slack button press and an email reply, read
from what Slack and the mail system deliver. Pure: nothing here checks a token or a
signature (``entrypoints/slack_http.py`` checks Slack's signature before anything is read
here; ``handlers/acknowledge_routes.py`` checks the tokens).

Whatever cannot be read is refused with ``UnreadableResponseError`` and a short reason, never
an exception's text and never what the message said.
"""

import json
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from kinship_contracts.alert_replies import REPLY_LOCAL_PREFIX, SlackButtonValue

MAX_SLACK_BODY = 64 * 1024
"""Larger than any button press Slack sends (its message comes along, text only)."""
MAX_EMAIL_BYTES = 1024 * 1024
"""A reply (the service's KINSHIP_MAX_BODY_BYTES may be lower: that limit comes first)."""
MAX_SCANNED_LINES = 200


class AlertResponse(StrEnum):
    """What the responder answered."""

    ACKNOWLEDGE = "acknowledge"
    """I take the case."""
    HAND_ON = "hand_on"
    """I can't take this: alert the next step now."""


class UnreadableResponseError(ValueError):
    """A press or reply that cannot be read; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


SLACK_ACTIONS = {
    "kinship_acknowledge": AlertResponse.ACKNOWLEDGE,
    "kinship_hand_on": AlertResponse.HAND_ON,
}
"""The ``action_id`` of each button (``kinship_notifications.domain.channels``)."""


@dataclass(frozen=True)
class SlackPress:
    """A press of a Slack alert's button: which, what it carries, and by which Slack user."""

    response: AlertResponse
    value: SlackButtonValue
    slack_user_id: str


def _field(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict) or name not in data:
            raise UnreadableResponseError(f"missing {'.'.join(path)}")
        data = data[name]
    return data


def read_slack_press(body: bytes) -> SlackPress:
    """The button press in a ``block_actions`` interaction payload (the form field
    ``payload``, as Slack posts it). Call only once Slack's signature has been checked."""
    if len(body) > MAX_SLACK_BODY:
        raise UnreadableResponseError("too large")
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=10)
        payload = json.loads(form["payload"][0]) if len(form.get("payload", [])) == 1 else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UnreadableResponseError("not a Slack interaction payload") from None
    if not isinstance(payload, dict):
        raise UnreadableResponseError("missing payload")
    if payload.get("type") != "block_actions":
        raise UnreadableResponseError("not a button press")
    user = _field(payload, "user", "id")
    actions = _field(payload, "actions")
    if not isinstance(user, str) or not user or not isinstance(actions, list) or not actions:
        raise UnreadableResponseError("missing user or action")
    action = actions[0]
    response = SLACK_ACTIONS.get(str(_field(action, "action_id")))
    value = _field(action, "value")
    if response is None:
        raise UnreadableResponseError("not a Kinship button")
    button = SlackButtonValue.decode(value) if isinstance(value, str) else None
    if button is None:
        raise UnreadableResponseError("not a Kinship button value")
    return SlackPress(response, button, user)


@dataclass(frozen=True)
class EmailReply:
    """A reply to an alert email: the reply token it was sent to, its sender's address and
    what its first line answers."""

    token: str
    sender: str
    response: AlertResponse


_ANSWERS = {
    "ack": AlertResponse.ACKNOWLEDGE,
    "yes": AlertResponse.ACKNOWLEDGE,
    "acknowledge": AlertResponse.ACKNOWLEDGE,
    "hand on": AlertResponse.HAND_ON,
    "hand-on": AlertResponse.HAND_ON,
    "no": AlertResponse.HAND_ON,
}
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")


def answer_of(line: str) -> AlertResponse | None:
    """What a reply's first line answers ("ack", "yes", "acknowledge"; "hand on", "no"),
    in any case, with trailing punctuation; None for anything else."""
    words = " ".join(line.strip().lower().rstrip(".!").split())
    return _ANSWERS.get(words)


def first_line(text: str) -> str | None:
    """The first line that is neither empty nor quoted (``>``)."""
    for line in text.splitlines()[:MAX_SCANNED_LINES]:
        stripped = line.strip()
        if stripped and not stripped.startswith(">"):
            return stripped
    return None


def _addresses(message: EmailMessage, name: str) -> list[Address]:
    found: list[Address] = []
    for header in message.get_all(name, []):
        found.extend(getattr(header, "addresses", ()))
    return found


def _reply_token(message: EmailMessage, reply_domain: str | None) -> str | None:
    for name in _RECIPIENT_HEADERS:
        for address in _addresses(message, name):
            local, domain = address.username.lower(), address.domain.lower()
            if not local.startswith(REPLY_LOCAL_PREFIX):
                continue
            if reply_domain is not None and domain != reply_domain.lower():
                continue
            return local.removeprefix(REPLY_LOCAL_PREFIX)
    return None


_DMARC_FAIL = re.compile(r"\bdmarc\s*=\s*fail\b", re.IGNORECASE)


def read_email_reply(raw: bytes, reply_domain: str | None) -> EmailReply:
    """The reply in a raw RFC 822 message (as an MTA pipe or an inbound-parse webhook hands
    it over): its token from the ``ack+<token>@<reply domain>`` it was sent to, its single
    sender, and the answer on its first unquoted line. A message the receiving mail system
    marked ``dmarc=fail`` is refused: its sender is not who it says."""
    if len(raw) > MAX_EMAIL_BYTES:
        raise UnreadableResponseError("too large")
    try:
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)  # what policy.default builds
        senders = _addresses(message, "from")
        token = _reply_token(message, reply_domain)
        results = [str(value) for value in message.get_all("authentication-results", [])]
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else None
    except UnreadableResponseError:
        raise
    except Exception:  # a hostile message may break the parser anywhere: a reason, never 500
        raise UnreadableResponseError("not a readable email") from None
    if len(senders) != 1 or not senders[0].addr_spec or "@" not in senders[0].addr_spec:
        raise UnreadableResponseError("needs exactly one sender")
    if any(_DMARC_FAIL.search(result) for result in results):
        raise UnreadableResponseError("sender not authenticated (dmarc=fail)")
    if token is None:
        raise UnreadableResponseError("not sent to a reply address")
    if not isinstance(text, str):
        raise UnreadableResponseError("no plain-text part")
    line = first_line(text)
    response = answer_of(line) if line is not None else None
    if response is None:
        raise UnreadableResponseError("reply 'ack' or 'hand on' on the first line")
    return EmailReply(token, senders[0].addr_spec, response)

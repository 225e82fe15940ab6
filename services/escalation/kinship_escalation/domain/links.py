"""Links that act: acknowledgement links of alerts, and the yes/no links of consent questions.

A request on ``notifications.requests`` carries the link without a token, and when it stops
working; the notifications service adds a one-time token (``kinship_contracts.links``) to the
message it sends, so no usable link is ever stored or sent on Kafka. This service checks the
token when the link is followed, with the secret both services hold for this purpose only
(``KINSHIP_LINK_SECRET``), and records the link's first use (an alert's; a question's answer).
"""

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from kinship_contracts.alert_replies import read_reply_token, reply_token_from, slack_user_bound
from kinship_contracts.links import (
    ConsentAnswer,
    check_ack_token,
    check_consent_token,
    mint_consent_token,
)

_BEFORE_ANY_EXPIRY = datetime.fromtimestamp(0, UTC)


class LinkCheck(StrEnum):
    """What a presented token is worth."""

    VALID = "valid"
    EXPIRED = "expired"
    """Minted for this alert, but too late now."""
    FORGED = "forged"
    """Not minted for this alert with our secret (or malformed)."""


class AckLinks:
    """The acknowledgement link of each alert, its expiry, and the check of its token; the
    yes/no links of each consent question and the check of theirs."""

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

    def check_reply(self, token: str, sender: str, now: datetime) -> tuple[str | None, LinkCheck]:
        """The alert a reply token names (None when it names none) and whether it was minted
        for that alert and ``sender`` and is still valid (``kinship_contracts.alert_replies``)."""
        read = read_reply_token(token)
        if read is None:
            return None, LinkCheck.FORGED
        if not reply_token_from(self._secret, read, sender):
            return read.alert_id, LinkCheck.FORGED
        if read.expires_at <= now:
            return read.alert_id, LinkCheck.EXPIRED
        return read.alert_id, LinkCheck.VALID

    def slack_user_matches(self, alert_id: str, slack_user_id: str, binding: str) -> bool:
        """Whether a Slack button's user ``binding`` was made for this alert and this user."""
        return slack_user_bound(self._secret, alert_id, slack_user_id, binding)

    def consent_url(self, consent_id: str, answer: ConsentAnswer) -> str:
        """The link of one answer to a consent question, without a token."""
        return f"{self._base}/v1/consent/{consent_id}/{ConsentAnswer(answer).value}"

    def check_consent(
        self, consent_id: str, answer: ConsentAnswer, token: str, now: datetime
    ) -> LinkCheck:
        """Whether ``token`` was minted for this answer to ``consent_id`` and is still valid."""
        if check_consent_token(self._secret, consent_id, answer, token, now):
            return LinkCheck.VALID
        if check_consent_token(self._secret, consent_id, answer, token, _BEFORE_ANY_EXPIRY):
            return LinkCheck.EXPIRED
        return LinkCheck.FORGED

    def other_answer_token(
        self, consent_id: str, answer: ConsentAnswer, token: str
    ) -> tuple[ConsentAnswer, str]:
        """The other answer and its token, valid as long as ``token`` (a checked one): whoever
        holds one answer's link is the person asked, and may choose either answer on its page."""
        other = ConsentAnswer.NO if answer is ConsentAnswer.YES else ConsentAnswer.YES
        expires = datetime.fromtimestamp(int(token.split(".")[1]), UTC)
        return other, mint_consent_token(self._secret, consent_id, other, expires)

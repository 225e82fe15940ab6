"""What lets a responder answer an alert where it arrives: the buttons of a Slack alert and
the reply address of an alert email (``kinship_contracts.alert_replies``), minted as the
alert is sent with the links' secret, like the acknowledgement link's token.

Slack buttons are off unless ``KINSHIP_SLACK_BUTTONS`` turns them on. With them, the Slack
message's text carries no tokened link: a Slack message is often read by a whole channel,
and binding the buttons to the recipient's Slack user would protect nothing while the text
held a link anyone could follow. The buttons' value still carries the one-time token (Slack
clients do not show it; an app installed in the workspace could read it from the message's
blocks): a known limit (docs/security.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from kinship_contracts.alert_replies import (
    SlackButtonValue,
    mint_reply_token,
    read_reply_token,
    reply_address,
    slack_user_binding,
)
from kinship_contracts.notifications import Alert
from kinship_notifications.domain.channels import Rendered
from kinship_notifications.domain.links import DEFAULT_LIFETIME

MAX_LOCAL_PART = 64
"""RFC 5321's limit on a mailbox name: a longer reply address is not offered."""
BUTTONS_HINTS = {
    "en": "Use the buttons below, or open your case list in the console",
    "de": "Nutzen Sie die Schaltflächen unten oder öffnen Sie Ihre Fallliste in der Konsole",
}
"""What a Slack alert with buttons says instead of its acknowledgement link, per template
language (the alert's own language: an English hint under a German alert reads as a fault)."""
BUTTONS_HINT = BUTTONS_HINTS["en"]


def link_token(alert: Alert) -> str | None:
    """The token of the alert's acknowledgement link as it is sent (None before minting)."""
    for name, value in parse_qsl(urlsplit(str(alert.ack_url)).query):
        if name == "token":
            return value
    return None


@dataclass(frozen=True)
class AlertReplies:
    """Mints what an alert carries besides its link (``reply_domain`` None: no reply
    address, replies are not offered; ``slack_buttons`` False: Slack alerts have no buttons
    and keep their link). ``cases_url`` is the console's case list, which a Slack alert with
    buttons points to instead of its link."""

    secret: bytes
    reply_domain: str | None = None
    lifetime: timedelta = DEFAULT_LIFETIME
    slack_buttons: bool = False
    cases_url: str | None = None

    def slack_value(self, alert: Alert, slack_user_id: str | None) -> str | None:
        """The value of the alert's Slack buttons: the alert, its link's token and, when the
        directory knows the recipient's Slack user, that user's binding. None when buttons
        are off or the alert has no token."""
        if not self.slack_buttons:
            return None
        token = link_token(alert)
        if token is None:
            return None
        binding = (
            slack_user_binding(self.secret, alert.alert_id, slack_user_id)
            if slack_user_id
            else None
        )
        return SlackButtonValue(alert.alert_id, token, binding).encode()

    def reply_to(self, alert: Alert, address: str, sent_at: datetime) -> str | None:
        """The ``Reply-To`` of the alert email to ``address`` (None when replies are off, or
        the alert id does not fit a mailbox name)."""
        if not self.reply_domain:
            return None
        expires = alert.expires_at or sent_at + self.lifetime
        token = mint_reply_token(self.secret, alert.alert_id, address, expires)
        reply = reply_address(token, self.reply_domain)
        read = read_reply_token(token)
        if read is None or read.alert_id != alert.alert_id:
            return None  # an alert id a mailbox name cannot carry as it is
        if len(reply.split("@")[0]) > MAX_LOCAL_PART:
            return None
        return reply

    def slack_text(self, alert: Alert, rendered: Rendered) -> Rendered:
        """The text of a Slack alert WITH buttons: every line that carries the alert's
        tokened link left out, and a pointer to the buttons and the console's case list in
        its place. (Without buttons the rendered text is sent as it is, link included.)"""
        token = link_token(alert)
        if token is None:
            return rendered
        link = str(alert.ack_url)
        kept = [
            line for line in rendered.text.splitlines() if token not in line and link not in line
        ]
        words = BUTTONS_HINTS.get(rendered.language, BUTTONS_HINT)
        hint = f"{words}: {self.cases_url}" if self.cases_url else f"{words}."
        return Rendered(rendered.subject, "\n".join([*kept, hint]) + "\n", rendered.language)

"""What a Slack alert and an alert email carry to be answered where they arrive: the
buttons (alert id and one-time token, the recipient's Slack user bound, never named) and
the reply address (a token bound to the recipient's address, short enough for a mailbox)."""

import json
from datetime import UTC, datetime, timedelta

from kinship_contracts.alert_replies import (
    SlackButtonValue,
    read_reply_token,
    reply_token_from,
    slack_user_bound,
)
from kinship_contracts.directory import Channels
from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_notifications.domain.channels import (
    ChannelKind,
    Rendered,
    address_of,
    slack_body,
)
from kinship_notifications.domain.replies import AlertReplies

SECRET = b"unit-link-secret-0123456789abcdef"
NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
RENDERED = Rendered("Kinship alert", "A colleague may need support.\n")
ALERT_ID = "9f0c2e7a5b1d4c3e8f6a7b9c0d1e2f3a"


def request(token: str | None = "v1.1795000000." + "ab" * 32) -> NotificationRequest:
    link = f"https://escalation.example/v1/alerts/{ALERT_ID}/acknowledge"
    return NotificationRequest(
        id=f"alert:{ALERT_ID}",
        kind=MessageKind.ALERT,
        recipient=Recipient(person_id="resp-a"),
        template="alert",
        created_at=NOW,
        alert=Alert(
            alert_id=ALERT_ID,
            case_id="k-1",
            severity="critical",
            step=1,
            reason="A colleague may need support.",
            opened_at=NOW,
            ack_url=f"{link}?token={token}" if token else link,
            expires_at=NOW + timedelta(hours=24),
        ),
    )


def test_a_slack_alert_has_both_buttons_carrying_the_alert_and_its_token_only() -> None:
    replies = AlertReplies(SECRET)
    alert = request().alert
    assert alert is not None
    value = replies.slack_value(alert, "U0RESPA")
    assert value is not None and "U0RESPA" not in value and "resp-a" not in value
    body = json.loads(slack_body(request(), RENDERED, value))
    assert body["metadata"]["event_payload"]["delivery_id"] == f"alert:{ALERT_ID}"
    (actions,) = [b for b in body["blocks"] if b["type"] == "actions"]
    buttons = {b["action_id"]: b for b in actions["elements"]}
    assert set(buttons) == {"kinship_acknowledge", "kinship_hand_on"}
    assert buttons["kinship_hand_on"]["text"]["text"] == "I can't take this — hand on"
    read = SlackButtonValue.decode(buttons["kinship_acknowledge"]["value"])
    assert read is not None and read.alert_id == ALERT_ID
    assert read.token == "v1.1795000000." + "ab" * 32
    assert read.user_binding is not None
    assert slack_user_bound(SECRET, ALERT_ID, "U0RESPA", read.user_binding)
    assert not slack_user_bound(SECRET, ALERT_ID, "U0OTHER", read.user_binding)
    unbound = replies.slack_value(alert, None)
    assert unbound is not None and SlackButtonValue.decode(unbound).user_binding is None  # type: ignore[union-attr]


def test_no_buttons_without_a_minted_token_and_none_on_other_messages() -> None:
    alert = request(token=None).alert
    assert alert is not None
    assert AlertReplies(SECRET).slack_value(alert, "U0RESPA") is None
    assert "blocks" not in json.loads(slack_body(request(), RENDERED, None))


def test_the_directory_slack_user_travels_with_the_slack_address_only() -> None:
    channels = Channels.model_validate(
        {
            "slack_webhook": "https://hooks.slack.com/services/T/B/x",
            "slack_user_id": "U0RESPA",
            "email": "resp-a@example.org",
        }
    )
    slack = address_of(channels, ChannelKind.SLACK)
    email = address_of(channels, ChannelKind.EMAIL)
    assert slack is not None and slack.slack_user_id == "U0RESPA"
    assert email is not None and email.slack_user_id is None


def test_an_alert_email_replies_to_a_token_bound_to_its_recipient() -> None:
    alert = request().alert
    assert alert is not None
    assert AlertReplies(SECRET).reply_to(alert, "resp-a@example.org", NOW) is None  # no domain
    reply_to = AlertReplies(SECRET, "reply.example.org").reply_to(alert, "resp-a@example.org", NOW)
    assert reply_to is not None and reply_to.endswith("@reply.example.org")
    local = reply_to.split("@")[0]
    assert local.startswith("ack+") and len(local) <= 64
    token = read_reply_token(local.removeprefix("ack+"))
    assert token is not None and token.alert_id == ALERT_ID
    assert token.expires_at == NOW + timedelta(hours=24)
    assert reply_token_from(SECRET, token, "RESP-A@example.org")
    assert not reply_token_from(SECRET, token, "resp-b@example.org")
    odd = alert.model_copy(update={"alert_id": "Mixed.Case"})
    assert AlertReplies(SECRET, "reply.example.org").reply_to(odd, "a@b.c", NOW) is None

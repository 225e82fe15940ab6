"""What a Slack alert and an alert email carry to be answered where they arrive: the
buttons (alert id and one-time token, the recipient's Slack user bound, never named) and
the reply address (a token bound to the recipient's address, short enough for a mailbox)."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import HttpUrl

from kinship_contracts.alert_replies import (
    SlackButtonValue,
    read_reply_token,
    reply_token_from,
    slack_user_bound,
)
from kinship_contracts.directory import Channels
from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_notifications.adapters.senders import Senders, SmtpServer
from kinship_notifications.adapters.templates import Templates
from kinship_notifications.domain.channels import (
    Address,
    ChannelKind,
    Rendered,
    address_of,
    slack_body,
)
from kinship_notifications.domain.replies import BUTTONS_HINT, BUTTONS_HINTS, AlertReplies
from kinship_notifications.settings import NotificationSettings
from tests.receivers import SmtpReceiver

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
    replies = AlertReplies(SECRET, slack_buttons=True)
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
    assert AlertReplies(SECRET, slack_buttons=True).slack_value(alert, "U0RESPA") is None
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


# ---- KINSHIP_SLACK_BUTTONS: the buttons, or the link, never both ------------------------------

TOKEN = "v1.1795000000." + "cd" * 32
LOOPBACK_LINK = f"http://127.0.0.1:8002/v1/alerts/{ALERT_ID}/acknowledge?token={TOKEN}"
CASES_URL = "http://127.0.0.1:8005/cases"
SLACK_HOOK = "http://127.0.0.1:9/slack-a"
WEBHOOK = "http://127.0.0.1:9/hook-a"


def sent_alert() -> NotificationRequest:
    """An alert as it leaves: its link with the token minted at send time."""
    outgoing = request()
    assert outgoing.alert is not None
    alert = outgoing.alert.model_copy(update={"ack_url": HttpUrl(LOOPBACK_LINK)})
    return outgoing.model_copy(update={"alert": alert})


def capturing_senders(
    replies: AlertReplies, smtp_port: int = 9
) -> tuple[Senders, dict[str, bytes]]:
    """Senders whose web calls are kept (by URL) instead of leaving the process."""
    posted: dict[str, bytes] = {}

    def handle(call: httpx.Request) -> httpx.Response:
        posted[str(call.url)] = call.content
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)
    smtp = SmtpServer("127.0.0.1", smtp_port, "k@localhost")
    sender = Senders(
        client, SECRET, smtp, 2.0, https_only=False, clock=lambda: NOW, replies=replies
    )
    return sender, posted


def rendered(language: str = "en") -> Rendered:
    return Templates().render(sent_alert(), language, "UTC")


async def test_without_slack_buttons_a_slack_alert_keeps_its_link_and_has_no_buttons() -> None:
    """The default: no buttons (none whose every press the escalation service would answer
    503 while its Slack is off), the acknowledgement link in the text as before."""
    assert (
        NotificationSettings(env="dev", webhook_secret="unit-webhook-secret").slack_buttons is False
    )
    sender, posted = capturing_senders(AlertReplies(SECRET, cases_url=CASES_URL))
    slack = Address(ChannelKind.SLACK, SLACK_HOOK, "U0RESPA")
    await sender.send(slack, sent_alert(), rendered())
    body = json.loads(posted[SLACK_HOOK])
    assert "blocks" not in body
    assert f"Take the case: {LOOPBACK_LINK}" in body["text"]
    assert BUTTONS_HINT not in body["text"]


@pytest.mark.parametrize("language", ["en", "de"])
async def test_with_slack_buttons_the_token_is_in_the_buttons_only_never_in_the_text(
    language: str,
) -> None:
    """Anyone in a shared channel reads a Slack message's text: with buttons bound to the
    recipient, the text must not hold the tokened link that would act for them."""
    sender, posted = capturing_senders(
        AlertReplies(SECRET, slack_buttons=True, cases_url=CASES_URL)
    )
    slack = Address(ChannelKind.SLACK, SLACK_HOOK, "U0RESPA")
    await sender.send(slack, sent_alert(), rendered(language))
    body = json.loads(posted[SLACK_HOOK])
    (section,) = [block for block in body["blocks"] if block["type"] == "section"]
    for text in (body["text"], section["text"]["text"]):
        assert TOKEN not in text and "acknowledge" not in text
        assert f"{BUTTONS_HINTS[language]}: {CASES_URL}" in text
        assert "A colleague may need support." in text and "k-1" in text  # the rest is kept
    (actions,) = [block for block in body["blocks"] if block["type"] == "actions"]
    values = [SlackButtonValue.decode(button["value"]) for button in actions["elements"]]
    assert [value.token if value else None for value in values] == [TOKEN, TOKEN]
    assert all(value is not None and value.user_binding for value in values)
    alert = sent_alert().alert
    assert alert is not None
    without_console = AlertReplies(SECRET, slack_buttons=True).slack_text(alert, rendered(language))
    assert TOKEN not in without_console.text
    assert without_console.text.endswith(f"{BUTTONS_HINTS[language]}.\n")
    if language == "de":  # the alert's own language, not English under a German alert
        assert BUTTONS_HINT not in without_console.text


async def test_slack_buttons_change_neither_email_nor_webhook_alerts(smtp: SmtpReceiver) -> None:
    replies = AlertReplies(SECRET, "reply.example.org", slack_buttons=True, cases_url=CASES_URL)
    sender, posted = capturing_senders(replies, smtp.port)
    await sender.send(Address(ChannelKind.WEBHOOK, WEBHOOK), sent_alert(), rendered())
    assert json.loads(posted[WEBHOOK])["ack_url"] == LOOPBACK_LINK
    await sender.send(Address(ChannelKind.EMAIL, "resp-a@example.org"), sent_alert(), rendered())
    (mail,) = smtp.messages
    text = mail.get_payload(decode=True)
    assert isinstance(text, bytes)
    assert f"Take the case: {LOOPBACK_LINK}" in text.decode()
    assert BUTTONS_HINT not in text.decode()
    assert str(mail["Reply-To"]).startswith("ack+")

"""Acknowledging where the alert arrives, over the real stack: the escalation and
notifications services over real Kafka and PostgreSQL, Slack and email receivers on loopback.

A Slack button press (signed by the test the way Slack signs) and an email link each stop
the escalation once: no later step is alerted after the step's timeout, and a second press
or follow changes nothing. "I can't take this — hand on" alerts the next responder at once.
Each press's answer reaches its ``response_url`` (a receiver on loopback playing Slack).
"""

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.escalation_support import STAFF, Escalation, Starter, encode_person, recorded
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import publish
from tests.notifications_support import Notifications
from tests.receivers import Received, SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.integration

SIGNING_SECRET = "integration-slack-signing-secret-0123456789"
REPLY_DOMAIN = "reply.kinship.test"
CRITICAL = [0, 0, 0, 0, 0, 0, 0, 0, 2]
ACK_TIMEOUT = 15
"""Each step's acknowledgement timeout here (s): the alert must reach Slack and be pressed
before it, with Kafka consumers joining their groups on a shared machine."""


@pytest.fixture(autouse=True)
def answering(monkeypatch: pytest.MonkeyPatch, webhooks: WebhookReceiver) -> None:
    monkeypatch.setenv("KINSHIP_SLACK_ENABLED", "true")  # escalation answers presses
    monkeypatch.setenv("KINSHIP_SLACK_BUTTONS", "true")  # notifications sends the buttons
    monkeypatch.setenv("KINSHIP_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("KINSHIP_EMAIL_REPLY_DOMAIN", REPLY_DOMAIN)
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", str(ACK_TIMEOUT))
    # Presses' response_urls point at the loopback receiver, the only prefix called here.
    monkeypatch.setenv("KINSHIP_SLACK_RESPONSE_URL_PREFIXES", webhooks.url("slack-responses/"))


def others() -> list[tuple[bytes, bytes]]:
    return [item for item in STAFF if item[0] in (b"coord-1", b"worker-1")]


async def open_case(
    escalation: Escalation, notifications: Notifications, staff: list[tuple[bytes, bytes]]
) -> None:
    """The directory in both services first, then the critical check-in: an alert asked for
    before notifications knows the responder would fail, move the case on to the next step,
    and reach the first responder late, once the directory arrives (two alerts)."""
    await publish(
        escalation.endpoints.bootstrap_servers, escalation.topic("directory.people"), staff
    )
    for service in (escalation, notifications):
        known = await service.wait_for("SELECT count(*) FROM directory_people", len(staff))
        assert known == len(staff)
    await publish(
        escalation.endpoints.bootstrap_servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [recorded("c-1", "worker-1", datetime.now(UTC), phq9=CRITICAL)],
    )


async def slack_alerts(webhooks: WebhookReceiver, paths: list[str], count: int) -> list[Received]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [item for path in paths for item in webhooks.accepted(path)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    return [item for path in paths for item in webhooks.accepted(path)]


def button_value(message: Received, action_id: str) -> str:
    """The value of a Slack message's button, as Slack would send it back."""
    body = json.loads(message.body)
    (actions,) = [block for block in body["blocks"] if block["type"] == "actions"]
    (button,) = [b for b in actions["elements"] if b["action_id"] == action_id]
    return str(button["value"])


async def press(
    escalation: Escalation, value: str, action_id: str, response_url: str, user: str = "U0RESPA"
) -> httpx.Response:
    """Press a button: a ``block_actions`` payload, signed with the app's signing secret."""
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        # Each press has its own action_ts (and so its own signature): not a replay.
        "actions": [
            {
                "action_id": action_id,
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
        "response_url": response_url,
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return await escalation.client.post("/v1/slack/interactions", content=body, headers=headers)


async def slack_updates(webhooks: WebhookReceiver, path: str, count: int = 1) -> list[Any]:
    """The messages posted to a press's response_url (``path`` under the receiver)."""
    deadline = time.monotonic() + 15
    while len(webhooks.attempts(path)) < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return [json.loads(item.body) for item in webhooks.attempts(path)]


async def transitions(escalation: Escalation, kind: str) -> list[Any]:
    return await escalation.rows(
        "SELECT actor FROM case_audit WHERE action = $1 ORDER BY seq", kind
    )


async def test_a_slack_press_acknowledges_and_stops_the_escalation_once(
    start_escalation: Starter,
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
) -> None:
    staff = [
        encode_person(
            "resp-a",
            "team-r",
            {"slack_webhook": webhooks.url("slack-a"), "slack_user_id": "U0RESPA"},
            "peer_responder",
        ),
        encode_person(
            "resp-b",
            "team-s",
            {"slack_webhook": webhooks.url("slack-b"), "slack_user_id": "U0RESPB"},
            "peer_responder",
        ),
        *others(),
    ]
    async with start_escalation() as escalation, start_notifications() as notifications:
        await open_case(escalation, notifications, staff)
        (alerted,) = await slack_alerts(webhooks, ["slack-a", "slack-b"], 1)
        user = "U0RESPA" if alerted.path == "/slack-a" else "U0RESPB"
        value = button_value(alerted, "kinship_acknowledge")
        assert "resp-" not in value and user not in value  # the value names nobody
        message = json.loads(alerted.body)
        (section,) = [block for block in message["blocks"] if block["type"] == "section"]
        token = value.split(" ")[2]
        for text in (message["text"], section["text"]["text"]):  # read by the whole channel
            assert token not in text and "/acknowledge" not in text, text
            assert "Use the buttons below, or open your case list in the console" in text
            assert "/cases" in text

        assert len(await escalation.rows("SELECT id FROM alerts")) == 1, "pressed in time"
        other_user = await press(
            escalation,
            value,
            "kinship_acknowledge",
            webhooks.url("slack-responses/other"),
            user="U0SOMEONE",
        )
        # Bound to the recipient's user: refused, said with 200 (Slack hides other answers).
        assert other_user.status_code == 200, other_user.text
        assert other_user.json()["kinship_outcome"] == "refused"
        taken = await press(
            escalation, value, "kinship_acknowledge", webhooks.url("slack-responses/taken"), user
        )
        assert taken.status_code == 200, taken.text
        assert taken.json()["replace_original"] is True
        assert taken.json()["kinship_outcome"] == "acknowledged"
        again = await press(
            escalation, value, "kinship_acknowledge", webhooks.url("slack-responses/again"), user
        )
        assert again.json()["kinship_outcome"] == "already_acknowledged"
        # The message in Slack is updated: the alert replaced (its buttons gone) for the
        # recipient's presses, an ephemeral note only for the other user's.
        assert await slack_updates(webhooks, "slack-responses/taken") == [
            {
                "replace_original": True,
                "response_type": "in_channel",
                "text": "You have taken this case. Open your case list to continue.",
            }
        ]
        assert await slack_updates(webhooks, "slack-responses/other") == [
            {
                "replace_original": False,
                "response_type": "ephemeral",
                "text": "This alert was sent to someone else: only they can answer it.",
            }
        ]
        (update,) = await slack_updates(webhooks, "slack-responses/again")
        assert update["replace_original"] is True and "Already acknowledged" in update["text"]
        posted = [m for m in webhooks.received if m.path.startswith("/slack-responses/")]
        assert [m.headers["content-type"] for m in posted] == ["application/json"] * 3

        await asyncio.sleep(ACK_TIMEOUT + 3)  # past the step's timeout: nobody else is paged
        sent = await slack_alerts(webhooks, ["slack-a", "slack-b"], 2)
        seen = [(m.path, m.headers.get("x-kinship-delivery"), m.at - alerted.at) for m in sent]
        rows = await escalation.rows(
            "SELECT id, case_id, recipient_id, step, attempt, purpose, sent_at FROM alerts"
        )
        cases = await escalation.rows("SELECT id, status, step, opened_at FROM cases")
        assert len(sent) == 1, (seen, [dict(r) for r in rows], [dict(c) for c in cases])
        assert [row["status"] for row in await escalation.rows("SELECT status FROM cases")] == [
            "acknowledged"
        ]
        assert len(await escalation.rows("SELECT id FROM alerts")) == 1
        recipient = "person:resp-a" if user == "U0RESPA" else "person:resp-b"
        assert [r["actor"] for r in await transitions(escalation, "acknowledged")] == [recipient]
        assert [r["actor"] for r in await transitions(escalation, "alert_answer_refused")] == [
            "system:slack"
        ]


def mail_to(smtp: SmtpReceiver, address: str) -> list[Message]:
    return [m for m in smtp.messages if m["To"] == address]


async def test_an_email_link_acknowledges_and_stops_the_escalation_once(
    start_escalation: Starter,
    start_notifications: NotificationStarter,
    smtp: SmtpReceiver,
) -> None:
    staff = [
        encode_person("resp-a", "team-r", {"email": "resp-a@example.org"}, "peer_responder"),
        encode_person("resp-b", "team-s", {"email": "resp-b@example.org"}, "peer_responder"),
        *others(),
    ]
    async with start_escalation() as escalation, start_notifications() as notifications:
        await open_case(escalation, notifications, staff)
        deadline = time.monotonic() + 30
        while not smtp.messages and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        (message,) = smtp.messages
        reply_to = str(message["Reply-To"])
        assert reply_to.startswith("ack+") and reply_to.endswith(f"@{REPLY_DOMAIN}")
        assert len(reply_to.split("@")[0]) <= 64
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        (link,) = [word for word in body.decode().split() if "/acknowledge?token=" in word]
        path = urlsplit(link)._replace(scheme="", netloc="").geturl()

        taken = await escalation.client.post(path)
        assert taken.status_code == 200 and taken.json()["status"] == "acknowledged"
        again = await escalation.client.post(path)
        assert again.status_code == 403  # one time

        # A reply to the same alert afterwards changes nothing either.
        answer = Message()
        answer["From"] = str(message["To"])
        answer["To"] = reply_to
        answer["Subject"] = "Re: alert"
        answer.set_payload("ack\n")
        replied = await escalation.client.post(
            "/v1/email/inbound",
            content=answer.as_bytes(),
            headers={"Authorization": "Bearer test-key", "Content-Type": "message/rfc822"},
        )
        assert replied.status_code == 200, replied.text
        assert replied.json()["outcome"] == "already_acknowledged"

        await asyncio.sleep(ACK_TIMEOUT + 3)
        assert len(smtp.messages) == 1, "nobody else is alerted after the step timeout"
        assert len(await escalation.rows("SELECT id FROM alerts")) == 1
        assert len(await transitions(escalation, "acknowledged")) == 1


async def test_an_email_reply_hands_on_and_a_slack_hand_on_alerts_the_next_at_once(
    start_escalation: Starter,
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    smtp: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", "600")  # only an answer may move it on
    staff = [
        encode_person(
            "resp-a", "team-r", {"slack_webhook": webhooks.url("slack-a")}, "peer_responder"
        ),
        encode_person(
            "resp-b", "team-s", {"slack_webhook": webhooks.url("slack-b")}, "peer_responder"
        ),
        encode_person("coord-1", "team-c", {"email": "coord-1@example.org"}, "coordinator"),
        *[item for item in STAFF if item[0] == b"worker-1"],
    ]
    async with start_escalation() as escalation, start_notifications() as notifications:
        await open_case(escalation, notifications, staff)
        (first,) = await slack_alerts(webhooks, ["slack-a", "slack-b"], 1)
        started = time.monotonic()
        handed = await press(
            escalation,
            button_value(first, "kinship_hand_on"),
            "kinship_hand_on",
            webhooks.url("slack-responses/first"),
        )
        assert handed.status_code == 200 and handed.json()["kinship_outcome"] == "handed_on"
        (update,) = await slack_updates(webhooks, "slack-responses/first")
        assert update["replace_original"] is True and update["text"].startswith("Handed on")
        second = [
            item
            for item in await slack_alerts(webhooks, ["slack-a", "slack-b"], 2)
            if item.path != first.path
        ]
        assert len(second) == 1, "the other responder is alerted"
        assert second[0].at - started < 30, "at once, not after the 600 s timeout"
        (case,) = await escalation.rows("SELECT status, step FROM cases")
        assert (case["status"], case["step"]) == ("assigned", 2)
        assert len(await transitions(escalation, "declined_by_slack")) == 1

        # The second responder hands on by replying to... Slack too; then the coordinators'
        # step is alerted by email, and a reply "ack" from the coordinator takes the case.
        await press(
            escalation,
            button_value(second[0], "kinship_hand_on"),
            "kinship_hand_on",
            webhooks.url("slack-responses/second"),
        )
        deadline = time.monotonic() + 30
        while not smtp.messages and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        (mail,) = smtp.messages
        reply = Message()
        reply["From"] = "Coord One <coord-1@example.org>"
        reply["To"] = str(mail["Reply-To"])
        reply["Subject"] = "Re: alert"
        reply.set_payload("Ack\n\nOn Tuesday Kinship wrote:\n> Take the case\n")
        taken = await escalation.client.post(
            "/v1/email/inbound",
            content=reply.as_bytes(),
            headers={"Authorization": "Bearer test-key"},
        )
        assert taken.status_code == 200, taken.text
        assert taken.json()["outcome"] == "acknowledged"
        (case,) = await escalation.rows("SELECT status, responder_id FROM cases")
        assert (case["status"], case["responder_id"]) == ("acknowledged", "coord-1")

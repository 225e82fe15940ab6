"""The notifications service against the real broker and database, with a local webhook
receiver (which verifies each endpoint's signature and refuses stale bodies) and a local SMTP
server."""

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import HttpUrl

from kinship_contracts.links import check_ack_token
from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.escalation_support import bearer, encode_person
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import publish, read_all
from tests.notifications_support import Notifications, publish_requests, secret_of
from tests.receivers import SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.integration

LINK_SECRET = DEV_CREDENTIALS["KINSHIP_LINK_SECRET"].encode()


def alert_request(delivery_id: str, person_id: str, critical: bool = True) -> NotificationRequest:
    return NotificationRequest(
        id=delivery_id,
        kind=MessageKind.ALERT,
        recipient=Recipient(person_id=person_id),
        critical=critical,
        template="alert",
        case_id="case-1",
        alert=Alert(
            alert_id=f"alert-{delivery_id}",
            case_id="case-1",
            severity="critical",
            step=1,
            reason="Immediate risk: the person may be unsafe. Reach out now.",
            opened_at=datetime.now(UTC),
            ack_url=f"http://127.0.0.1:8002/v1/alerts/alert-{delivery_id}/acknowledge",
        ),
        created_at=datetime.now(UTC),
    )


async def send(service: Notifications, *requests: NotificationRequest) -> None:
    """Publish requests signed, as a Kinship service does."""
    await publish_requests(
        service.endpoints.bootstrap_servers, service.topic("notifications.requests"), requests
    )


async def directory(service: Notifications, *people: tuple[str, dict[str, str]]) -> None:
    await publish(
        service.endpoints.bootstrap_servers,
        service.topic("directory.people"),
        [encode_person(person_id, "team-r", channels) for person_id, channels in people],
    )
    assert await service.wait_for("SELECT count(*) FROM directory_people", len(people)) == len(
        people
    )


async def receipts(
    service: Notifications, expect: int, timeout: float = 10
) -> list[dict[str, Any]]:
    records = await read_all(
        service.endpoints.bootstrap_servers,
        service.topic("notifications.receipts"),
        expect,
        timeout,
    )
    return [json.loads(record.value) for record in records]


async def until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


async def test_alert_arrives_once_signed_for_its_endpoint_with_a_link_minted_at_send_time(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("resp-a", {"webhook": webhooks.url("resp-a")}))
    request = alert_request("d-1", "resp-a")
    await send(notifications, request, request)  # redelivered by Kafka: one page only
    assert await until(lambda: webhooks.accepted("resp-a"))
    await asyncio.sleep(1)
    received = webhooks.attempts("resp-a")
    assert len(received) == 1 and received[0].accepted, received[0].problem
    body = received[0].body
    own = "sha256=" + hmac.new(secret_of(webhooks.url("resp-a")), body, hashlib.sha256).hexdigest()
    assert received[0].headers["x-kinship-signature"] == own
    other = secret_of(webhooks.url("resp-b"))
    assert own != "sha256=" + hmac.new(other, body, hashlib.sha256).hexdigest()
    assert received[0].headers["x-kinship-delivery"] == "d-1"
    alert = json.loads(body)
    assert set(alert) == {
        "alert_id",
        "case_id",
        "severity",
        "step",
        "reason",
        "opened_at",
        "ack_url",
        "delivery_id",
        "sent_at",
    }
    assert alert["delivery_id"] == "d-1"
    assert abs(datetime.fromisoformat(alert["sent_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    link, _, token = alert["ack_url"].partition("?token=")
    assert link == "http://127.0.0.1:8002/v1/alerts/alert-d-1/acknowledge"
    now = datetime.now(UTC)
    assert check_ack_token(LINK_SECRET, "alert-d-1", token, now)
    assert not check_ack_token(LINK_SECRET, "alert-d-1", token, now + timedelta(hours=24))
    # The token exists only in what the responder received: not stored, not in the receipt.
    stored = await notifications.rows("SELECT request::text AS request FROM deliveries")
    assert [token in row["request"] for row in stored] == [False]
    (receipt,) = await receipts(notifications, 1)
    assert (receipt["status"], receipt["alert_id"], receipt["attempts"]) == (
        "delivered",
        "alert-d-1",
        1,
    )
    assert token not in json.dumps(receipt)


async def test_an_old_request_with_a_token_is_sent_as_it_came_and_not_kept_once_sent(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("resp-o", {"webhook": webhooks.url("resp-o")}))
    new = alert_request("d-old", "resp-o")
    assert new.alert is not None
    link = str(new.alert.ack_url)
    with_token = HttpUrl(f"{link}?token=v1.123.from-escalation")
    old = new.model_copy(update={"alert": new.alert.model_copy(update={"ack_url": with_token})})
    await send(notifications, old)
    (receipt,) = await receipts(notifications, 1)
    assert receipt["status"] == "delivered"
    (received,) = webhooks.accepted("resp-o")
    assert json.loads(received.body)["ack_url"] == f"{link}?token=v1.123.from-escalation"
    (row,) = await notifications.rows("SELECT request->'alert'->>'ack_url' AS link FROM deliveries")
    assert row["link"] == link


async def test_unsigned_or_forged_requests_are_dead_lettered_and_nothing_is_sent(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("resp-a", {"webhook": webhooks.url("resp-a")}))
    topic = notifications.topic("notifications.requests")
    servers = notifications.endpoints.bootstrap_servers
    await publish_requests(servers, topic, [alert_request("d-unsigned", "resp-a")], key=None)
    await publish_requests(servers, topic, [alert_request("d-forged", "resp-a")], key=b"x" * 32)
    await send(notifications, alert_request("d-signed", "resp-a"))
    assert await until(lambda: webhooks.accepted("resp-a"))
    dead = await read_all(servers, f"{topic}.dlq", expect=2)
    assert sorted(dict(r.headers)["kinship-dlq-code"].decode() for r in dead) == [
        "unsigned_request",
        "unsigned_request",
    ]
    await asyncio.sleep(1)
    assert [r.headers["x-kinship-delivery"] for r in webhooks.attempts("resp-a")] == ["d-signed"]
    rows = await notifications.rows("SELECT id FROM deliveries")
    assert [row["id"] for row in rows] == ["d-signed"]


async def test_a_missing_template_finishes_the_delivery_as_failed_with_a_receipt(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("p-t", {"webhook": webhooks.url("p-t")}))
    broken = NotificationRequest(
        id="d-template",
        kind=MessageKind.CHECKIN_REMINDER,
        recipient=Recipient(person_id="p-t"),
        template="no_such_template",
        created_at=datetime.now(UTC),
    )
    await send(notifications, broken)
    (receipt,) = await receipts(notifications, 1)
    assert (receipt["status"], receipt["reason"], receipt["attempts"]) == (
        "failed",
        "template_error",
        1,
    )
    await asyncio.sleep(1)  # never claimed again
    (row,) = await notifications.rows(
        "SELECT status, attempts, lease_until, last_error FROM deliveries WHERE id = 'd-template'"
    )
    assert (row["status"], row["attempts"], row["lease_until"], row["last_error"]) == (
        "failed",
        1,
        None,
        "template_error",
    )
    assert webhooks.attempts("p-t") == []


async def test_receiver_failing_three_times_gets_exactly_one_accepted_delivery(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    webhooks.fail_first["resp-a"] = 3
    await directory(notifications, ("resp-a", {"webhook": webhooks.url("resp-a")}))
    await send(notifications, alert_request("d-2", "resp-a"))
    assert await until(lambda: webhooks.accepted("resp-a"), timeout=15)
    await asyncio.sleep(1)
    assert len(webhooks.attempts("resp-a")) == 4
    assert len(webhooks.accepted("resp-a")) == 1
    assert {r.headers["x-kinship-delivery"] for r in webhooks.attempts("resp-a")} == {"d-2"}
    (receipt,) = await receipts(notifications, 1)
    assert (receipt["status"], receipt["attempts"]) == ("delivered", 4)


async def test_receiver_that_never_answers_yields_a_failed_receipt(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    webhooks.hang.add("resp-a")
    await directory(notifications, ("resp-a", {"webhook": webhooks.url("resp-a")}))
    await send(notifications, alert_request("d-3", "resp-a"))
    found = await receipts(notifications, 1, timeout=30)
    assert [(r["status"], r["reason"]) for r in found] in (
        [("failed", "timeout")],
        [("failed", "circuit_open")],
    )
    (state,) = await notifications.rows("SELECT last_error FROM deliveries")
    assert state["last_error"] in ("timeout", "circuit_open")
    assert found[0]["attempts"] == 5


async def test_dead_endpoint_of_one_recipient_does_not_delay_a_critical_alert_to_another(
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each call to the dead endpoint hangs until its 5 s timeout: an alert queued behind
    # them would wait at least that long.
    monkeypatch.setenv("KINSHIP_DELIVERY_TIMEOUT_SECONDS", str(DEAD_TIMEOUT))
    monkeypatch.setenv("KINSHIP_DELIVERY_LEASE_SECONDS", str(DEAD_TIMEOUT * 2))
    webhooks.hang.add("dead")
    async with start_notifications() as notifications:
        await directory(
            notifications,
            ("resp-dead", {"webhook": webhooks.url("dead")}),
            ("resp-b", {"webhook": webhooks.url("resp-b")}),
        )
        await send(notifications, *[alert_request(f"dead-{n}", "resp-dead") for n in range(30)])
        await asyncio.sleep(0.5)  # the dead endpoint's deliveries are now in flight
        published = time.monotonic()
        await send(notifications, alert_request("live", "resp-b"))
        assert await until(lambda: webhooks.accepted("resp-b"), timeout=10)
    latency = webhooks.accepted("resp-b")[0].at - published
    print(f"critical alert latency with a dead endpoint busy: {latency * 1000:.0f} ms")
    assert latency < DEAD_TIMEOUT / 2


DEAD_TIMEOUT = 5


async def test_email_carries_the_delivery_id_as_message_id(
    notifications: Notifications, smtp: SmtpReceiver
) -> None:
    await directory(notifications, ("resp-m", {"email": "resp-m@example.org"}))
    await send(notifications, alert_request("d-mail", "resp-m"))
    assert await until(lambda: smtp.messages)
    message = smtp.messages[0]
    assert message["Message-ID"] == "<d-mail@kinship>"
    assert message["To"] == "resp-m@example.org"
    assert message["Subject"].startswith("Kinship alert")
    link = "http://127.0.0.1:8002/v1/alerts/alert-d-mail/acknowledge?token="
    assert f"Take the case: {link}" in message.get_payload()


async def test_a_failing_first_channel_falls_through_to_the_second_within_its_delay(
    notifications: Notifications, webhooks: WebhookReceiver, smtp: SmtpReceiver
) -> None:
    webhooks.fail_first["resp-f"] = 100  # the webhook answers 500 throughout
    await directory(
        notifications, ("resp-f", {"webhook": webhooks.url("resp-f"), "email": "f@example.org"})
    )
    methods = {
        "contact_methods": [
            {"channel": "webhook", "delay_seconds": 0},
            {"channel": "email", "delay_seconds": 2},
        ]
    }
    put = await notifications.client.put(
        "/v1/preferences/resp-f", json=methods, headers=bearer("resp-f")
    )
    assert put.status_code == 200, put.text
    await send(notifications, alert_request("d-fall", "resp-f"))
    assert await until(lambda: webhooks.attempts("resp-f"), timeout=10)
    tried = time.monotonic()
    assert await until(lambda: smtp.messages, timeout=15)
    waited = time.monotonic() - tried
    assert 1.5 <= waited < 10, waited  # not before its delay; then at once
    (message,) = smtp.messages
    assert message["X-Kinship-Delivery"] == "d-fall"  # the same delivery id on both channels
    assert webhooks.attempts("resp-f")[0].headers["x-kinship-delivery"] == "d-fall"
    (receipt,) = await receipts(notifications, 1, timeout=10)
    assert (receipt["status"], receipt["channel"], receipt["attempts"]) == ("delivered", "email", 2)


async def test_quiet_hours_hold_non_critical_messages_but_never_critical_ones(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("resp-q", {"webhook": webhooks.url("resp-q")}))
    always_quiet = {"quiet_start": "00:00:00", "quiet_end": "23:59:59"}
    put = await notifications.client.put(
        "/v1/preferences/resp-q", json=always_quiet, headers=bearer("resp-q")
    )
    assert put.status_code == 200, put.text
    reminder = NotificationRequest(
        id="d-quiet",
        kind=MessageKind.CHECKIN_REMINDER,
        recipient=Recipient(person_id="resp-q"),
        template="checkin_reminder",
        created_at=datetime.now(UTC),
    )
    await send(notifications, reminder, alert_request("d-loud", "resp-q"))
    assert await until(lambda: webhooks.accepted("resp-q"))
    await asyncio.sleep(1.5)
    ids = [r.headers["x-kinship-delivery"] for r in webhooks.attempts("resp-q")]
    assert ids == ["d-loud"]
    held = await notifications.rows(
        "SELECT status, next_attempt_at FROM deliveries WHERE id = 'd-quiet'"
    )
    assert held[0]["status"] == "pending"
    assert held[0]["next_attempt_at"] > datetime.now(UTC)


async def test_celebrations_respect_opt_outs(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("p-opt", {"webhook": webhooks.url("p-opt")}))
    put = await notifications.client.put(
        "/v1/preferences/p-opt", json={"recognition_opt_out": True}, headers=bearer("p-opt")
    )
    assert put.status_code == 200, put.text
    celebration = NotificationRequest(
        id="d-cel",
        kind=MessageKind.CELEBRATION,
        recipient=Recipient(person_id="p-opt"),
        template="celebration",
        params={"text": "Four weeks of check-ins!"},
        created_at=datetime.now(UTC),
    )
    await send(notifications, celebration)
    (receipt,) = await receipts(notifications, 1)
    assert (receipt["status"], receipt["reason"]) == ("suppressed", "opted_out")
    assert webhooks.attempts("p-opt") == []


async def test_overdue_reminders_respect_their_opt_out_and_follow_ups_still_come(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("p-rem", {"webhook": webhooks.url("p-rem")}))
    put = await notifications.client.put(
        "/v1/preferences/p-rem", json={"reminders_opt_out": True}, headers=bearer("p-rem")
    )
    assert put.status_code == 200, put.text
    got = await notifications.client.get("/v1/preferences/p-rem", headers=bearer("p-rem"))
    assert got.json()["reminders_opt_out"] is True  # kept in PostgreSQL

    def reminder(id_: str, purpose: str) -> NotificationRequest:
        return NotificationRequest(
            id=id_,
            kind=MessageKind.CHECKIN_REMINDER,
            recipient=Recipient(person_id="p-rem"),
            template="checkin_reminder",
            params={"purpose": purpose},
            created_at=datetime.now(UTC),
        )

    await send(notifications, reminder("d-overdue", "overdue"), reminder("d-follow", "follow_up"))
    found = {r["request_id"]: r for r in await receipts(notifications, 2)}
    assert (found["d-overdue"]["status"], found["d-overdue"]["reason"]) == (
        "suppressed",
        "opted_out",
    )
    assert found["d-follow"]["status"] == "delivered"
    assert len(webhooks.accepted("p-rem")) == 1


async def test_a_restart_mid_delivery_sends_nothing_the_receiver_sees_twice(
    start_notifications: NotificationStarter, webhooks: WebhookReceiver
) -> None:
    webhooks.hang.add("slow")
    async with start_notifications() as service:
        await directory(service, ("resp-s", {"webhook": webhooks.url("slow")}))
        await send(service, alert_request("d-restart", "resp-s"))
        assert await until(lambda: webhooks.attempts("slow"))
    # Stopped mid-delivery: the lease (3 s) runs out and a new instance delivers again.
    webhooks.hang.discard("slow")
    async with start_notifications() as service:
        assert await until(lambda: webhooks.accepted("slow"), timeout=20)
        found = await receipts(service, 1)
    deliveries = {r.headers["x-kinship-delivery"] for r in webhooks.attempts("slow")}
    assert deliveries == {"d-restart"}  # every attempt names the same delivery
    assert len(webhooks.accepted("slow")) == 1
    assert [r["status"] for r in found] == ["delivered"]


async def test_slack_incoming_webhook_gets_the_rendered_text(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await directory(notifications, ("resp-sl", {"slack_webhook": webhooks.url("slack-sl")}))
    await send(notifications, alert_request("d-slack", "resp-sl"))
    assert await until(lambda: webhooks.attempts("slack-sl"))
    (received,) = webhooks.attempts("slack-sl")
    text = json.loads(received.body)["text"]
    assert text.startswith("*Kinship alert: a colleague needs support (critical, step 1)*")
    assert "Take the case: http://127.0.0.1:8002/v1/alerts/alert-d-slack/acknowledge?token=" in text
    (receipt,) = await receipts(notifications, 1)
    assert (receipt["status"], receipt["channel"]) == ("delivered", "slack")

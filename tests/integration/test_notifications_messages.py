"""Messages people can trust (issue 12), over the real broker and database with the real
check-in service (the vault) in-process: a self-care message to a subject carries its
resources and shows its time in the person's zone and language; care messages are never held
back by the daily limit, which counts only celebrations and plain reminders; a consent
question's one-tap links get their tokens at send time, and no token is stored."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from kinship_contracts.links import ConsentAnswer, check_consent_token
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_contracts.resources import ResourceKind, SupportResource
from tests.conftest import Endpoints
from tests.escalation_support import bearer
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import encode, publish
from tests.notifications_support import (
    Notifications,
    checkin_running,
    message,
    publish_requests,
    subject_of,
)
from tests.receivers import WebhookReceiver
from tests.vault_support import VaultOverAsgi

pytestmark = pytest.mark.integration

PERSON = "greta-m3"
RESOURCES = [
    SupportResource(
        kind=ResourceKind.SELF_CARE,
        name="Atemübung",
        description="Fünf ruhige Minuten.",
        contact="https://example.org/atmen",
    ),
    SupportResource(
        kind=ResourceKind.EMPLOYEE_ASSISTANCE,
        name="Mitarbeiterberatung",
        description="Vertraulich.",
        contact="0800 555 0100",
    ),
]
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|T\d{2}:\d{2}:\d{2}")


async def seed(service: Notifications, webhooks: WebhookReceiver, **preferences: Any) -> None:
    """Greta, in Berlin, on a webhook, with her preferences."""
    body = {
        "person_id": PERSON,
        "display_name": "Greta Maier",
        "team_id": "team-b",
        "timezone": "Europe/Berlin",
        "roles": [],
        "channels": {"webhook": webhooks.url(PERSON)},
        "active": True,
    }
    records = [(PERSON.encode(), encode(body))]
    await publish(service.endpoints.bootstrap_servers, service.topic("directory.people"), records)
    assert await service.wait_for("SELECT count(*) FROM directory_people", 1) == 1
    saved = await service.client.put(
        f"/v1/preferences/{PERSON}", json=preferences, headers=bearer(PERSON)
    )
    assert saved.status_code == 200, saved.text


async def send(service: Notifications, *requests: NotificationRequest) -> None:
    await publish_requests(
        service.endpoints.bootstrap_servers, service.topic("notifications.requests"), requests
    )


async def finished(service: Notifications, count: int) -> dict[str, tuple[str, str | None]]:
    """Wait until ``count`` deliveries finished; their status and reason by id."""
    sql = "SELECT count(*) FROM deliveries WHERE status <> 'pending'"
    assert await service.wait_for(sql, count, timeout=30) == count
    rows = await service.rows("SELECT id, status, last_error FROM deliveries ORDER BY id")
    return {row["id"]: (row["status"], row["last_error"]) for row in rows}


def texts(webhooks: WebhookReceiver) -> dict[str, str]:
    bodies = [json.loads(received.body) for received in webhooks.accepted(PERSON)]
    return {body["delivery_id"]: body["text"] for body in bodies}


async def test_a_self_care_message_reaches_the_subject_with_its_resources_in_her_zone_and_german(
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    service_env: dict[str, str],
    endpoints: Endpoints,
) -> None:
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_c"
    async with (
        checkin_running(schema, endpoints) as (checkin_app, checkin),
        start_notifications(VaultOverAsgi(checkin_app)) as notifications,
    ):
        await seed(notifications, webhooks, locale="de-DE")
        subject = await subject_of(checkin, PERSON)
        self_care = message(
            "self-care-1",
            MessageKind.SELF_CARE,
            Recipient(subject_id=subject),
            resources=[resource.model_dump() for resource in RESOURCES],
            params={"checkin_at": "2026-11-24T23:30:00+00:00"},
        )
        await send(notifications, self_care)

        assert await finished(notifications, 1) == {"self-care-1": ("delivered", None)}
        text = texts(webhooks)["self-care-1"]
        assert "Danke für Ihren Check-in vom Mi., 25. November 2026, 00:30" in text  # Berlin
        assert "(Mitteleuropäische Zeit)" in text
        assert "Das kann helfen:" in text
        for resource in RESOURCES:
            assert f"- {resource.name}: {resource.contact}" in text
        assert not ISO.search(text)
        (row,) = await notifications.rows("SELECT person_id, subject_id FROM deliveries")
        assert (row["person_id"], row["subject_id"]) == (None, subject)

        # A self-referral's answer (escalation sends it at once, urgent): the request arrived.
        referral = message(
            "referral-1",
            MessageKind.SELF_CARE,
            Recipient(subject_id=subject),
            urgent=True,
            resources=[resource.model_dump() for resource in RESOURCES],
            params={"purpose": "self_referral", "checkin_at": "2026-11-24T23:30:00+00:00"},
        )
        await send(notifications, referral)
        assert (await finished(notifications, 2))["referral-1"] == ("delivered", None)
        text = texts(webhooks)["referral-1"]
        assert "Danke für Ihre Bitte vom Mi., 25. November 2026, 00:30" in text
        assert "Eine Ansprechperson aus dem Peer-Support ist gebeten" in text
        assert "Bis dahin kann das helfen:" in text


async def test_care_messages_pass_a_spent_daily_limit_which_counts_only_limited_ones(
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    service_env: dict[str, str],
    endpoints: Endpoints,
) -> None:
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_c"
    async with (
        checkin_running(schema, endpoints) as (checkin_app, checkin),
        start_notifications(VaultOverAsgi(checkin_app)) as notifications,
    ):
        await seed(notifications, webhooks, max_per_day=1)
        to_her = Recipient(subject_id=await subject_of(checkin, PERSON))
        care = [
            message("care-1", MessageKind.SELF_CARE, to_her),
            message(
                "care-2", MessageKind.CHECKIN_REMINDER, to_her, params={"purpose": "follow_up"}
            ),
            message("care-3", MessageKind.FEEDBACK_REQUEST, to_her, params={"from": "person"}),
        ]
        await send(notifications, *care)
        assert set((await finished(notifications, 3)).values()) == {("delivered", None)}
        # Three care messages today, and her one limited message of the day still goes ...
        overdue = {"purpose": "overdue"}
        await send(
            notifications, message("plain-1", MessageKind.CHECKIN_REMINDER, to_her, params=overdue)
        )
        assert (await finished(notifications, 4))["plain-1"] == ("delivered", None)
        # ... the next limited one is held back; care still goes.
        await send(
            notifications,
            message("plain-2", MessageKind.CELEBRATION, to_her, params={"text": "Bravo"}),
        )
        assert (await finished(notifications, 5))["plain-2"] == ("suppressed", "rate_limited")
        await send(notifications, message("care-4", MessageKind.SELF_CARE, to_her))
        assert (await finished(notifications, 6))["care-4"] == ("delivered", None)
        reminder = texts(webhooks)["plain-1"]
        assert reminder.rstrip().endswith("http://127.0.0.1:8005/checkin")  # KINSHIP_CONSOLE_URL


async def test_a_consent_question_gets_its_tokens_at_send_time_and_none_is_stored(
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    service_env: dict[str, str],
    endpoints: Endpoints,
) -> None:
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_c"
    async with (
        checkin_running(schema, endpoints) as (checkin_app, checkin),
        start_notifications(VaultOverAsgi(checkin_app)) as notifications,
    ):
        await seed(notifications, webhooks, locale="de")
        base = "http://127.0.0.1:8002/v1/consents/consent-7"
        question = message(
            "consent-7",
            MessageKind.CONSENT_REQUEST,
            Recipient(subject_id=await subject_of(checkin, PERSON)),
            params={
                "consent_id": "consent-7",
                "consent_yes_url": f"{base}/yes",
                "consent_no_url": f"{base}/no",
                "consent_expires_at": "2026-12-01T09:00:00+00:00",
            },
        )
        await send(notifications, question)

        assert await finished(notifications, 1) == {"consent-7": ("delivered", None)}
        text = texts(webhooks)["consent-7"]
        assert "Ist das in Ordnung?" in text
        assert "Die Links gelten bis Di., 1. Dezember 2026, 10:00" in text
        assert "bestätigen Sie Ihre Antwort auf der Seite" in text  # two taps, said so
        yes = re.search(rf"Ja, gern: {base}/yes\?token=(\S+)", text)
        no = re.search(rf"Nein, danke: {base}/no\?token=(\S+)", text)
        assert yes is not None and no is not None
        secret = notifications.settings.ack_link_secret()
        now = datetime.now(UTC)
        assert check_consent_token(secret, "consent-7", ConsentAnswer.YES, yes[1], now)
        assert check_consent_token(secret, "consent-7", ConsentAnswer.NO, no[1], now)
        assert not check_consent_token(secret, "consent-7", ConsentAnswer.YES, no[1], now)
        (row,) = await notifications.rows("SELECT request::text AS request FROM deliveries")
        assert yes[1] not in row["request"] and no[1] not in row["request"]
        assert "token" not in row["request"]

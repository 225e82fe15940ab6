"""The notifications service's side of trust against the real broker and database, with the
real check-in service (its vault) in-process: messages to a subject are resolved at delivery
time and never stored with the person; an unreachable vault leaves them waiting; erasure
leaves nothing about the person in the schema while another person's data stays."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from kinship_contracts.resources import ResourceKind, SupportResource
from tests.conftest import Endpoints
from tests.escalation_support import bearer
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import encode, publish, read_all, reset_to_start
from tests.notifications_support import (
    Notifications,
    checkin_running,
    message,
    publish_requests,
    subject_of,
    until,
)
from tests.receivers import WebhookReceiver
from tests.recognition_support import consumed_to_end
from tests.vault_support import VaultOverAsgi

pytestmark = pytest.mark.integration

ANN, BOB = "ann-q7", "bob-r8"
NAMES = {ANN: "Annabel Quill", BOB: "Robert Roe"}
HELPLINE = SupportResource(
    kind=ResourceKind.CRISIS, name="Helpline", description="Any time.", contact="116 123"
)


def person_record(person_id: str, webhook: str) -> tuple[bytes, bytes]:
    email = NAMES[person_id].lower().replace(" ", ".") + "@example.org"
    body = {
        "person_id": person_id,
        "display_name": NAMES[person_id],
        "team_id": "team-t",
        "timezone": "Europe/London",
        "roles": [],
        "channels": {"webhook": webhook, "email": email},
        "active": True,
    }
    return person_id.encode(), encode(body)


async def seed(service: Notifications, webhooks: WebhookReceiver) -> None:
    records = [person_record(p, webhooks.url(p)) for p in (ANN, BOB)]
    await publish(service.endpoints.bootstrap_servers, service.topic("directory.people"), records)
    assert await service.wait_for("SELECT count(*) FROM directory_people", 2) == 2


async def test_a_message_to_a_subject_is_resolved_by_the_vault_and_never_stored_with_the_person(
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
        await seed(notifications, webhooks)
        subject = await subject_of(checkin, ANN)
        german = await notifications.client.put(
            f"/v1/preferences/{ANN}", json={"locale": "de"}, headers=bearer(ANN)
        )
        assert german.status_code == 200, german.text
        crisis = message(
            "crisis-1",
            MessageKind.CRISIS_RESOURCES,
            Recipient(subject_id=subject),
            critical=True,
            resources=[HELPLINE.model_dump()],
        )
        await publish_requests(
            notifications.endpoints.bootstrap_servers,
            notifications.topic("notifications.requests"),
            [crisis],
        )

        async def arrived() -> list[Any]:
            return webhooks.accepted(ANN)

        assert await until(arrived)
        (received,) = webhooks.accepted(ANN)
        assert "Helpline: 116 123" in json.loads(received.body)["text"]
        assert "Ansprechperson" in json.loads(received.body)["text"]  # her locale, read for it

        # The worker records the outcome in its own transaction once the channel has answered
        # (no transaction is held while sending): the webhook arrives before that commits.
        async def finished() -> list[Any]:
            rows = await notifications.rows(
                "SELECT person_id, subject_id, status, request::text AS request FROM deliveries"
            )
            return rows if rows and all(r["status"] != "pending" for r in rows) else []

        (row,) = await until(finished)
        assert (row["person_id"], row["subject_id"], row["status"]) == (None, subject, "delivered")
        assert ANN not in row["request"]
        linked = await notifications.rows(
            "SELECT count(*) AS n FROM directory_people WHERE subject_id IS NOT NULL"
        )
        assert linked[0]["n"] == 0
        audit = await checkin.rows("SELECT action, actor, subject_id, detail::text FROM audit")
        resolved = [r for r in audit if r["action"] == "resolve_for_delivery"]
        assert [(r["actor"], r["subject_id"]) for r in resolved] == [("system:tests", subject)]
        assert "crisis-1" in resolved[0]["detail"]  # which message the lookup was for


async def test_an_unreachable_vault_leaves_the_delivery_pending_not_failed(
    notifications: Notifications, webhooks: WebhookReceiver
) -> None:
    await seed(notifications, webhooks)
    await publish_requests(
        notifications.endpoints.bootstrap_servers,
        notifications.topic("notifications.requests"),
        [message("self-care-1", MessageKind.SELF_CARE, Recipient(subject_id="s-unknown"))],
    )

    async def waited() -> list[Any]:
        return [
            row
            for row in await notifications.rows(
                "SELECT status, attempts, waits, last_error FROM deliveries"
            )
            if row["waits"] >= 2
        ]

    (row,) = await until(waited)
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "pending",
        0,
        "vault_unavailable",
    )
    receipts = await read_all(
        notifications.endpoints.bootstrap_servers,
        notifications.topic("notifications.receipts"),
        timeout=2,
    )
    assert receipts == []


async def dump(service: Notifications) -> str:
    """Every row of every table of the service's schema as JSON: what a pg_dump would hold."""
    tables = await service.rows(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    )
    assert {"deliveries", "preferences", "directory_people", "dead_letter_keys"} <= {
        t["tablename"] for t in tables
    }
    lines = []
    for table in tables:
        name = table["tablename"]
        for row in await service.rows(f'SELECT row_to_json(t)::text AS j FROM "{name}" t'):
            lines.append(f"{name}: {row['j']}")
    return "\n".join(lines)


async def test_after_erasure_nothing_about_the_person_is_left_and_others_stay(
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
        servers = notifications.endpoints.bootstrap_servers
        requests_topic = notifications.topic("notifications.requests")
        await seed(notifications, webhooks)
        subjects = {p: await subject_of(checkin, p) for p in (ANN, BOB)}
        for person in (ANN, BOB):
            put = await notifications.client.put(
                f"/v1/preferences/{person}", json={"max_per_day": 4}, headers=bearer(person)
            )
            assert put.status_code == 200, put.text
        sent = []
        for n, person in enumerate((ANN, BOB)):
            sent += [
                message(f"celebration-{n}", MessageKind.CELEBRATION, Recipient(person_id=person)),
                message(
                    f"self-care-{n}", MessageKind.SELF_CARE, Recipient(subject_id=subjects[person])
                ),
            ]
        await publish_requests(servers, requests_topic, sent)
        # Dead letters naming each of them: unsigned requests keyed by person and by subject.
        unsigned = [
            message(f"forged-{n}-{who}", MessageKind.CHECKIN_REMINDER, Recipient(**{kind: ref}))
            for n, person in enumerate((ANN, BOB))
            for who, kind, ref in (
                ("p", "person_id", person),
                ("s", "subject_id", subjects[person]),
            )
        ]
        await publish_requests(servers, requests_topic, unsigned, key=None)
        assert (
            await notifications.wait_for(
                "SELECT count(*) FROM deliveries WHERE status = 'delivered'", 4
            )
            == 4
        )
        assert await notifications.wait_for("SELECT count(*) FROM dead_letter_keys", 4) == 4
        before = await dump(notifications)
        for needle in (ANN, subjects[ANN], NAMES[ANN], "annabel.quill@example.org"):
            assert needle in before, f"the test set-up never stored {needle}"

        erasure = {
            "id": "erasure-1",
            "person_id": ANN,
            "requested_at": datetime.now(UTC).isoformat(),
            "source": "hr-portal",
        }
        erasures = notifications.topic("privacy.erasure.requested")
        await publish(servers, erasures, [(ANN.encode(), encode(erasure))])
        receipts_topic = notifications.topic("privacy.erasure.receipts")

        async def ours() -> list[dict[str, Any]]:
            found = [
                json.loads(r.value) for r in await read_all(servers, receipts_topic, timeout=1)
            ]
            return [r for r in found if r["service"] == "notifications"]

        (receipt,) = await until(ours, timeout=30)
        assert receipt["erasure_id"] == "erasure-1"
        assert receipt["removed"]["deliveries"] == 1
        assert receipt["removed"]["subject_deliveries"] == 1
        assert receipt["removed"]["dead_letter_keys"] == 1
        assert receipt["removed"]["subject_dead_letter_keys"] == 1
        assert await notifications.wait_for("SELECT 1 - count(*) FROM outbox", 1) == 1

        after = await dump(notifications)
        for needle in (ANN, subjects[ANN], NAMES[ANN], "annabel.quill@example.org"):
            assert needle not in after, f"{needle} is still in the schema"
        for needle in (BOB, subjects[BOB], NAMES[BOB], "robert.roe@example.org"):
            assert needle in after, f"{needle} (another person) was lost"
        kept = await notifications.rows("SELECT id FROM deliveries ORDER BY id")
        assert [row["id"] for row in kept] == ["celebration-1", "self-care-1"]
        assert await notifications.rows("SELECT person_id FROM preferences") != []

        # A replay of both events (Kafka redelivers, an operator re-runs them): no effect.
        subjects_event = [
            json.loads(r.value)
            for r in await read_all(servers, notifications.topic("privacy.erasure.subjects"), 1)
        ]
        await publish(servers, erasures, [(ANN.encode(), encode(erasure))])
        await publish(
            servers,
            notifications.topic("privacy.erasure.subjects"),
            [(b"erasure-1", encode(event)) for event in subjects_event],
        )
        await asyncio.sleep(2)
        assert len(await ours()) == 1
        assert await dump(notifications) == after

        # Her request to her old subject id consumed again after the erasure (a backlog, or
        # re-sent): skipped, not stored under that id; Bob's new one is delivered.
        hers = [r for r in sent if r.recipient.subject_id == subjects[ANN]]
        his = message("self-care-2", MessageKind.SELF_CARE, Recipient(subject_id=subjects[BOB]))
        await publish_requests(servers, requests_topic, [*hers, his])
        delivered = "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
        assert await notifications.wait_for(delivered, 3) == 3
        replayed = await dump(notifications)
        assert subjects[ANN] not in replayed, "her request was stored again"
        assert "self-care-2" in replayed and "self-care-0" not in replayed
        dead = await read_all(servers, f"{requests_topic}.dlq", timeout=1)
        assert [r for r in dead if b"-0" in (r.value or b"")] == []


def page(alert_id: str, person_id: str) -> NotificationRequest:
    """A critical alert paging ``person_id``."""
    return message(
        f"alert:{alert_id}",
        MessageKind.ALERT,
        Recipient(person_id=person_id),
        critical=True,
        alert=Alert(
            alert_id=alert_id,
            case_id=f"k-{alert_id}",
            severity="critical",
            step=1,
            reason="Immediate risk",
            opened_at=datetime.now(UTC),
            ack_url=f"http://127.0.0.1:8002/v1/alerts/{alert_id}/acknowledge",
        ),
    )


async def test_a_replay_after_an_erasure_stores_nothing_naming_the_person_and_pages_fail_fast(
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    service_env: dict[str, str],
    endpoints: Endpoints,
) -> None:
    # notifications.requests replayed from the start (its consumer group reset) after Ann's
    # erasure: the records keep their broker timestamps, from before it. Her page is queued
    # to nobody and fails at once (a failed receipt moves a policy on); her celebration and
    # the message to her old subject id are not stored; Bob's page is not sent twice.
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_c"
    async with checkin_running(schema, endpoints) as (checkin_app, checkin):
        vault = VaultOverAsgi(checkin_app)
        async with start_notifications(vault) as notifications:
            servers = notifications.endpoints.bootstrap_servers
            requests_topic = notifications.topic("notifications.requests")
            group = notifications.settings.consumer_group("requests")
            await seed(notifications, webhooks)
            ann = await subject_of(checkin, ANN)
            before = [
                page("a-1", ANN),
                message("celebration-a", MessageKind.CELEBRATION, Recipient(person_id=ANN)),
                message("self-care-a", MessageKind.SELF_CARE, Recipient(subject_id=ann)),
                page("a-2", BOB),
            ]
            await publish_requests(servers, requests_topic, before)
            delivered = "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
            assert await notifications.wait_for(delivered, 4) == 4
            erasure = {
                "id": "erasure-r",
                "person_id": ANN,
                "requested_at": datetime.now(UTC).isoformat(),
                "source": "hr-portal",
            }
            erasures = notifications.topic("privacy.erasure.requested")
            await publish(servers, erasures, [(ANN.encode(), encode(erasure))])
            done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
            assert await notifications.wait_for(done, 1, timeout=30) == 1
        assert await reset_to_start(servers, group, requests_topic) >= 1

        async with start_notifications(vault) as again:
            assert await consumed_to_end(again, group, requests_topic, len(before))
            failed = (
                "SELECT count(*) FROM deliveries WHERE id = 'alert:a-1' AND status = 'failed'"
                " AND last_error = 'unknown_recipient'"
                " AND person_id IS NULL AND subject_id IS NULL"
            )
            assert await again.wait_for(failed, 1) == 1
            kept = await again.rows("SELECT id FROM deliveries ORDER BY id")
            assert [row["id"] for row in kept] == ["alert:a-1", "alert:a-2"]
            after = await dump(again)
            for needle in (ANN, ann, NAMES[ANN], "annabel.quill@example.org"):
                assert needle not in after, f"{needle} came back with the replay"

            async def page_receipts() -> list[dict[str, Any]]:
                found = [
                    json.loads(r.value)
                    for r in await read_all(servers, again.topic("notifications.receipts"), 1)
                ]
                return [r for r in found if r["request_id"] == "alert:a-1"]

            receipts = await until(page_receipts, timeout=15)
            assert [r["status"] for r in receipts][-1] == "failed"
            assert len(webhooks.accepted(BOB)) == 1  # his page was not sent again

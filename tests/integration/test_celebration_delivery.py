"""Kudos to celebration delivery across services: recognition → notifications → webhook.

Against the real broker and database: kudos over HTTP and over Kafka each reach the
recipient's webhook exactly once, duplicates none; an opted-out person gets no message while
the award is still published. Celebrations are addressed by the subject id the check-in
service's vault gives (recognition asks it, and so does notifications at delivery time).
"""

import asyncio
import json
import time

import pytest

from tests.escalation_support import AUTH, bearer, encode_person
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import encode, publish, read_all
from tests.notifications_support import kudos
from tests.receivers import WebhookReceiver
from tests.recognition_support import RunningRecognition
from tests.vault_support import VaultOverAsgi

pytestmark = pytest.mark.integration


async def test_kudos_over_http_and_kafka_each_give_one_celebration_delivery(
    recognition: RunningRecognition,
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers = recognition.endpoints.bootstrap_servers
    people = [
        encode_person(name, "team-k", {"webhook": webhooks.url(name)})
        for name in ("ann", "bob", "cat", "dee")
    ]
    async with start_notifications(VaultOverAsgi(recognition.checkin_app)) as notifications:
        await publish(servers, recognition.topic("directory.people"), people)
        assert await notifications.wait_for("SELECT count(*) FROM directory_people", 4) == 4
        opted_out = await notifications.client.put(
            "/v1/preferences/dee", json={"recognition_opt_out": True}, headers=bearer("dee")
        )
        assert opted_out.status_code == 200, opted_out.text

        for _ in range(2):  # every submission twice: the same id has one effect
            sent = await recognition.client.post(
                "/v1/kudos", json=kudos("k-http", "ann", "bob"), headers=AUTH
            )
            assert sent.status_code == 202
        topic = recognition.topic("recognition.kudos.submitted")
        over_kafka = encode(kudos("k-kafka", "cat", "bob"))
        await publish(servers, topic, [(b"bob", over_kafka), (b"bob", over_kafka)])
        await recognition.client.post("/v1/kudos", json=kudos("k-dee", "ann", "dee"), headers=AUTH)

        deadline = time.monotonic() + 20
        while len(webhooks.accepted("bob")) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        receipts = recognition.topic("notifications.receipts")
        awards = [
            json.loads(r.value)
            for r in await read_all(servers, recognition.topic("recognition.awards"), expect=3)
        ]
        bob, dee = await recognition.subject("bob"), await recognition.subject("dee")
        to_dee = [f"celebration:{a['id']}" for a in awards if a["subject_id"] == dee]
        suppressed = [
            json.loads(r.value)
            for r in await read_all(servers, receipts, expect=3)
            if json.loads(r.value)["request_id"] in to_dee
        ]

    to_bob = webhooks.attempts("bob")
    ids = sorted(item.headers["x-kinship-delivery"] for item in to_bob)
    assert ids == sorted(f"celebration:{a['id']}" for a in awards if a["subject_id"] == bob)
    assert len(ids) == 2
    assert all(json.loads(item.body)["kind"] == "celebration" for item in to_bob)
    assert webhooks.attempts("dee") == []
    assert [(r["status"], r["reason"]) for r in suppressed] == [("suppressed", "opted_out")]
    stored = await recognition.rows("SELECT id FROM awards ORDER BY id")
    assert [row["id"] for row in stored] == ["kudos:k-dee", "kudos:k-http", "kudos:k-kafka"]

"""The alert path across services: escalation → notifications → the responder's webhook."""

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest

from tests.escalation_support import STAFF, Starter, encode_person, recorded, seed_directory
from tests.integration.conftest import NotificationStarter
from tests.kafka_reading import publish
from tests.notifications_support import secret_of
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.integration


async def test_critical_checkin_pages_the_responder_and_a_dead_endpoint_escalates_at_once(
    start_escalation: Starter,
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", "600")  # only a failure may move it on
    webhooks.hang.add("resp-a")
    staff = [
        encode_person("resp-a", "team-r", {"webhook": webhooks.url("resp-a")}, "peer_responder"),
        encode_person("resp-b", "team-s", {"webhook": webhooks.url("resp-b")}, "peer_responder"),
        *[item for item in STAFF if item[0] in (b"coord-1", b"worker-1")],
    ]
    async with start_escalation() as escalation, start_notifications() as notifications:
        await seed_directory(escalation, staff)
        assert await notifications.wait_for("SELECT count(*) FROM directory_people", 4) == 4
        started = time.monotonic()
        await publish(
            escalation.endpoints.bootstrap_servers,
            escalation.topic("wellbeing.checkins.recorded"),
            [recorded("c-1", "worker-1", datetime.now(UTC), phq9=[0, 0, 0, 0, 0, 0, 0, 0, 2])],
        )
        # resp-a's endpoint never answers: after its retries a failed receipt arrives and
        # the escalation service alerts the backup at once, long before the 600 s timeout.
        deadline = time.monotonic() + 40
        while not webhooks.accepted("resp-b") and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        paged = webhooks.accepted("resp-b")
        assert len(paged) == 1, "the backup responder is paged once"
        print(f"backup paged {paged[0].at - started:.1f} s after the check-in")
        body = paged[0].body
        expected = hmac.new(secret_of(webhooks.url("resp-b")), body, hashlib.sha256).hexdigest()
        assert paged[0].headers["x-kinship-signature"] == f"sha256={expected}"
        alert = json.loads(body)
        assert (alert["step"], alert["severity"]) == (2, "critical")
        assert {r.headers["x-kinship-delivery"] for r in webhooks.attempts("resp-a")} == {
            f"alert:{row['id']}"
            for row in await escalation.rows("SELECT id FROM alerts WHERE step = 1")
        }
        cases = await escalation.rows("SELECT status, step FROM cases")
        assert [(c["status"], c["step"]) for c in cases] == [("assigned", 2)]

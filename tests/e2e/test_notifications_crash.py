"""The notifications service as a real process, killed with SIGKILL in the middle of a
delivery: after a restart the recipient gets the message, and every attempt it saw carries
the same delivery id (so it acts on it once)."""

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from tests.conftest import Endpoints
from tests.database import wait_for_count
from tests.escalation_support import encode_person, escalation_env
from tests.kafka_reading import publish, read_all
from tests.notifications_support import WEBHOOK_SECRET, publish_requests
from tests.processes import ServiceProcess
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def notifications_process(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    env = escalation_env(service_env) | {
        "KINSHIP_DATABASE_SCHEMA": f"{service_env['KINSHIP_DATABASE_SCHEMA']}_n",
        "KINSHIP_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KINSHIP_DELIVERY_TIMEOUT_SECONDS": "30",
        "KINSHIP_DELIVERY_LEASE_SECONDS": "3",
        "KINSHIP_DELIVERY_POLL_SECONDS": "0.1",
        "KINSHIP_CHECKIN_URL": "http://127.0.0.1:9",  # never the local stack's vault
    }
    service = ServiceProcess(env, tmp_path / "notifications.log", module="kinship_notifications")
    yield service
    service.stop()


async def test_sigkill_mid_delivery_then_restart_delivers_once_with_the_same_id(
    notifications_process: ServiceProcess,
    webhooks: WebhookReceiver,
    endpoints: Endpoints,
    service_env: dict[str, str],
) -> None:
    prefix = service_env["KINSHIP_TOPIC_PREFIX"]
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_n"
    webhooks.hang.add("resp-k")  # the first attempt never gets an answer
    notifications_process.start()
    await notifications_process.ready()
    await publish(
        endpoints.bootstrap_servers,
        f"{prefix}directory.people",
        [encode_person("resp-k", "team-r", {"webhook": webhooks.url("resp-k")})],
    )
    assert (
        await wait_for_count(
            endpoints.database_url, schema, "SELECT count(*) FROM directory_people", 1
        )
        == 1
    )
    request = NotificationRequest(
        id="d-kill",
        kind=MessageKind.ALERT,
        recipient=Recipient(person_id="resp-k"),
        critical=True,
        template="alert",
        alert=Alert(
            alert_id="a-kill",
            case_id="k-1",
            severity="critical",
            step=1,
            reason="Immediate risk: the person may be unsafe. Reach out now.",
            opened_at=datetime.now(UTC),
            ack_url="http://127.0.0.1:8002/v1/alerts/a-kill/acknowledge",
        ),
        created_at=datetime.now(UTC),
    )
    await publish_requests(
        endpoints.bootstrap_servers, f"{prefix}notifications.requests", [request]
    )
    for _ in range(200):
        if webhooks.attempts("resp-k"):
            break
        await asyncio.sleep(0.05)
    assert webhooks.attempts("resp-k"), "the first attempt reached the receiver"

    notifications_process.stop()  # SIGKILL in the middle of the delivery
    webhooks.hang.discard("resp-k")
    notifications_process.start()
    await notifications_process.ready()
    for _ in range(400):
        if webhooks.accepted("resp-k"):
            break
        await asyncio.sleep(0.05)

    assert len(webhooks.accepted("resp-k")) == 1
    assert {r.headers["x-kinship-delivery"] for r in webhooks.attempts("resp-k")} == {"d-kill"}
    records = await read_all(endpoints.bootstrap_servers, f"{prefix}notifications.receipts", 1)
    assert [json.loads(r.value)["status"] for r in records] == ["delivered"]

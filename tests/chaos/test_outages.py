"""Outages of PostgreSQL under the services as processes (issue 14).

- Restarting PostgreSQL several times while critical alerts are in flight leaves no delivery
  pending: every alert reaches its responder, signed, once per alert id, and the delivery
  worker is alive afterwards (the drill in the issue left 25 deliveries pending).
- While PostgreSQL is down the check-in API answers 503 with Retry-After (never a 500 or a
  reset connection), and the outage is logged once when it starts and once when it ends.
"""

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kinship_contracts.notifications import Alert, MessageKind, NotificationRequest, Recipient
from tests.chaos.harness import (
    AUTH,
    Faults,
    Platform,
    alerts_seen,
    consumer_operations,
    log_entries,
    schema_of,
    signed,
    wait_for_no_lag,
)
from tests.chaos.receivers import SlowWebhookReceiver
from tests.conftest import Endpoints
from tests.database import rows, wait_for_count
from tests.escalation_support import encode_person, recorded
from tests.kafka_reading import checkin, publish, read_all
from tests.notifications_support import publish_requests

pytestmark = pytest.mark.chaos


def alert_request(index: int, responder: str) -> NotificationRequest:
    """A critical alert for ``responder``, as escalation asks for one (signed when sent)."""
    return NotificationRequest(
        id=f"alert:a-{index}",
        kind=MessageKind.ALERT,
        recipient=Recipient(person_id=responder),
        critical=True,
        template="alert",
        alert=Alert(
            alert_id=f"a-{index}",
            case_id=f"case-{index}",
            severity="critical",
            step=1,
            reason="Immediate risk: the person may be unsafe. Reach out now.",
            opened_at=datetime.now(UTC),
            ack_url=f"http://127.0.0.1:9/v1/alerts/a-{index}/acknowledge",
        ),
        created_at=datetime.now(UTC),
    )


async def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return bool(await predicate())


async def test_postgres_restarts_with_critical_alerts_in_flight_leave_nothing_pending(
    faults: Faults, endpoints: Endpoints, service_env: dict[str, str], tmp_path: Path
) -> None:
    platform = Platform.of(service_env, tmp_path, only=["notifications"])
    receiver = SlowWebhookReceiver(delay=1.5)  # every delivery is in flight for a while
    await receiver.start()
    try:
        await platform.start()
        prefix = service_env["KINSHIP_TOPIC_PREFIX"]
        schema = schema_of(service_env, "notifications")
        responders = [f"resp-{i}" for i in range(6)]
        await publish(
            endpoints.bootstrap_servers,
            f"{prefix}directory.people",
            [
                encode_person(name, "team-r", {"webhook": receiver.url(name)}, "peer_responder")
                for name in responders
            ],
        )
        assert (
            await wait_for_count(
                endpoints.database_url, schema, "SELECT count(*) FROM directory_people", 6
            )
            == 6
        )
        requests_topic = f"{prefix}notifications.requests"
        sent = 0

        async def more(count: int) -> None:
            nonlocal sent
            batch = [alert_request(sent + i, responders[(sent + i) % 6]) for i in range(count)]
            sent += count
            await publish_requests(endpoints.bootstrap_servers, requests_topic, batch)

        await more(8)
        assert await wait_until(lambda: _attempted(receiver), 30), "a first alert is on its way"
        # Three restarts in quick succession, new critical alerts arriving in between, while
        # earlier ones are still being sent.
        await faults.restart_postgres(pause=0.5)
        await more(6)
        await faults.restart_postgres(pause=0.5)
        await more(6)
        await faults.restart_postgres(pause=0.5)

        wanted = {f"a-{i}" for i in range(sent)}

        async def all_alerted() -> bool:
            return wanted <= set(alerts_seen(receiver))

        alerted = await wait_until(all_alerted, 90)
        assert alerted, (
            f"{len(wanted - set(alerts_seen(receiver)))} of {len(wanted)} critical alerts never "
            "arrived\n" + platform.logs()
        )

        async def settled() -> bool:
            statuses = await rows(
                endpoints.database_url,
                schema,
                "SELECT count(*) FROM deliveries WHERE status = 'pending'",
            )
            return int(statuses[0][0]) == 0

        # A delivery whose outcome could not be stored (the database went away just after
        # the send) is sent again once its lease ends: it finishes then, never stays pending.
        await wait_until(settled, 60)
        statuses = await rows(
            endpoints.database_url,
            schema,
            "SELECT status, count(*) AS n FROM deliveries GROUP BY status ORDER BY status",
        )
        assert [(row["status"], row["n"]) for row in statuses] == [("delivered", sent)]
        seen = alerts_seen(receiver)
        assert set(seen) == wanted
        for alert_id, items in seen.items():
            assert all(signed(item) for item in items)
            # The receiver may see a delivery again after a cut (at-least-once); it is always
            # the same delivery id, so the recipient acts once.
            assert {item.headers["x-kinship-delivery"] for item in items} == {f"alert:{alert_id}"}
        repeats = sum(len(items) - 1 for items in seen.values())
        print(f"{repeats} alerts reached the receiver a second time, with the same delivery id")
        ready = await platform.wait_ready(30)
        assert ready["notifications"][0] == 200, ready
        groups = await consumer_operations(
            [platform.url("notifications", "")], service_env["KINSHIP_CONSUMER_GROUP_PREFIX"]
        )
        assert await wait_for_no_lag(endpoints.bootstrap_servers, groups, 30) == {}
        errors = log_entries(platform.processes["notifications"].log, "ERROR", "CRITICAL")
        print(f"{len(errors)} ERROR lines over three restarts:", [e["message"] for e in errors])
    finally:
        platform.stop_all()
        await receiver.stop()


async def _attempted(receiver: SlowWebhookReceiver) -> bool:
    return receiver.arrived > 0


async def test_checkin_api_answers_503_with_retry_after_while_postgres_is_down(
    faults: Faults, endpoints: Endpoints, service_env: dict[str, str], tmp_path: Path
) -> None:
    platform = Platform.of(service_env, tmp_path, only=["checkin"])
    try:
        await _answers_503_while_postgres_is_down(platform, faults, endpoints, service_env)
    finally:
        platform.stop_all()


async def _answers_503_while_postgres_is_down(
    platform: Platform, faults: Faults, endpoints: Endpoints, service_env: dict[str, str]
) -> None:
    await platform.start()
    url = platform.url("checkin", "/v1/checkins")
    answers: list[tuple[int, str | None]] = []
    resets = 0
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(url, json=checkin("before"), headers=AUTH)
        assert response.status_code == 202
        log = platform.processes["checkin"].log
        before = len(log_entries(log))
        await faults.stack.stop_postgres()
        try:
            for i in range(10):
                try:
                    response = await client.post(url, json=checkin(f"down-{i}"), headers=AUTH)
                except httpx.TransportError:
                    resets += 1
                    continue
                answers.append((response.status_code, response.headers.get("retry-after")))
                ready = await client.get(platform.url("checkin", "/readyz"))
                assert ready.status_code == 503
                assert json.loads(ready.text)["checks"]["postgres"].startswith("unavailable")
        finally:
            await faults.stack.start_postgres()
        assert resets == 0, "no connection is reset"
        assert answers == [(503, "5")] * 10
        # Back: the same submissions go through (a client retrying after Retry-After).
        deadline = time.monotonic() + 30
        for i in range(10):
            while True:
                response = await client.post(url, json=checkin(f"down-{i}"), headers=AUTH)
                if response.status_code != 503 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert response.status_code == 202
    schema = schema_of(service_env, "checkin")
    assert (
        await wait_for_count(endpoints.database_url, schema, "SELECT count(*) FROM checkins", 11)
        == 11
    )
    during = log_entries(log)[before:]
    # (aiokafka's own lines are about the broker, which stays up: its leader elections for
    # the test's brand-new topics may still be logged meanwhile.)
    errors = [
        entry
        for entry in during
        if entry["level"] in ("ERROR", "CRITICAL") and not entry["logger"].startswith("aiokafka")
    ]
    assert errors == [], "a database outage is not an error per request"
    ours = [entry["message"] for entry in during if entry["logger"] == "kinship_runtime.http"]
    assert ours == [
        "a dependency is away (ConnectionRefusedError): requests get 503 with Retry-After "
        "until it is back",
        "dependencies answer again; 10 requests got 503 meanwhile",
    ]


async def test_postgres_restarts_under_load_leave_no_outbox_row_behind(
    faults: Faults, endpoints: Endpoints, service_env: dict[str, str], tmp_path: Path
) -> None:
    """The outbox relay leads again after PostgreSQL restarts (before the fix, its leader
    connection, taken back by the pool when the server dropped it, failed every round from
    then on, silently: alerts of new cases were never published)."""
    platform = Platform.of(service_env, tmp_path, only=["escalation"])
    try:
        await platform.start()
        prefix = service_env["KINSHIP_TOPIC_PREFIX"]
        schema = schema_of(service_env, "escalation")
        await publish(
            endpoints.bootstrap_servers,
            f"{prefix}directory.people",
            [
                encode_person(
                    f"resp-{i}", "team-r", {"webhook": "http://127.0.0.1:9/r"}, "peer_responder"
                )
                for i in range(3)
            ],
        )
        stop = asyncio.Event()

        async def stream() -> int:
            sent = 0
            while not stop.is_set():
                at = datetime.now(UTC)
                batch = [
                    recorded(
                        f"c-{sent}-{j}", f"w-{sent}-{j}", at, phq9=[0] * 8 + [2 if j == 0 else 0]
                    )
                    for j in range(5)
                ]
                await publish(
                    endpoints.bootstrap_servers, f"{prefix}wellbeing.checkins.urgent", batch[:1]
                )
                await publish(
                    endpoints.bootstrap_servers, f"{prefix}wellbeing.checkins.recorded", batch
                )
                sent += 1
                await asyncio.sleep(0.2)
            return sent

        streaming = asyncio.create_task(stream())
        await asyncio.sleep(3)
        await faults.restart_postgres(times=3, pause=1.0)
        await asyncio.sleep(3)
        stop.set()
        sent = await streaming

        async def drained() -> bool:
            waiting = await rows(endpoints.database_url, schema, "SELECT count(*) FROM outbox")
            cases = await rows(endpoints.database_url, schema, "SELECT count(*) FROM cases")
            return int(waiting[0][0]) == 0 and int(cases[0][0]) == sent

        assert await wait_until(drained, 60), (
            "every case opened and its outbox rows published\n" + platform.logs()
        )
        requests = await read_all(
            endpoints.bootstrap_servers, f"{prefix}notifications.requests", expect=sent, timeout=30
        )
        alerts = {
            json.loads(r.value)["id"] for r in requests if json.loads(r.value)["kind"] == "alert"
        }
        assert len(alerts) == sent, "one alert request per case reached the topic"
        ready = await platform.wait_ready(30)
        assert ready["escalation"][0] == 200, ready
    finally:
        platform.stop_all()

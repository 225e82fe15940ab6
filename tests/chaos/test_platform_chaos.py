"""The chaos drill of issue 14, in the suite: the four services as processes on the test stack
while check-ins stream over Kafka and over HTTP, some of them immediate-risk (PHQ-9 item 9
above 0) for people in the directory with webhook channels, responders in the directory.

Faults, in turn: SIGKILL and restart each service, SIGKILL and restart Kafka, restart
PostgreSQL three times in quick succession. Immediate-risk check-ins are sent just before
each fault, so some are in flight through it.

Then: every check-in recorded exactly once; one observation per check-in in escalation; one
case per person at risk, and no other; one alert per case, received signed by the responder's
webhook (deduplicated by delivery id as a receiver would: one delivery id per alert id); no
delivery pending; every service ready; every consumer group caught up.
"""

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest

from tests.chaos.harness import (
    SERVICES,
    Faults,
    Platform,
    alerts_seen,
    consumer_operations,
    log_entries,
    schema_of,
    signed,
    wait_for_no_lag,
)
from tests.chaos.load import Load
from tests.conftest import Endpoints
from tests.database import rows
from tests.escalation_support import encode_person
from tests.kafka_reading import publish, read_all
from tests.receivers import WebhookReceiver

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

RESPONDERS = [f"resp-{i}" for i in range(4)]
KAFKA_PER_SECOND = 60.0
HTTP_PER_SECOND = 8.0  # per client; two clients
STEADY_SECONDS = 3.0


async def count(endpoints: Endpoints, schema: str, sql: str, *args: Any) -> int:
    return int((await rows(endpoints.database_url, schema, sql, *args))[0][0])


async def test_kills_and_restarts_lose_nothing_duplicate_nothing_and_alert_everyone_at_risk(
    platform: Platform,
    faults: Faults,
    webhooks: WebhookReceiver,
    endpoints: Endpoints,
    service_env: dict[str, str],
) -> None:
    started = time.monotonic()
    await platform.start()
    prefix = service_env["KINSHIP_TOPIC_PREFIX"]
    at_risk = [f"crisis-{i}" for i in range(12)]
    await publish(
        endpoints.bootstrap_servers,
        f"{prefix}directory.people",
        [
            *(
                encode_person(r, "team-responders", {"webhook": webhooks.url(r)}, "peer_responder")
                for r in RESPONDERS
            ),
            encode_person("coord-1", "team-c", {"webhook": webhooks.url("coord-1")}, "coordinator"),
            *(encode_person(p, f"team-{p}", {"webhook": webhooks.url(p)}) for p in at_risk),
        ],
    )
    directory = "SELECT count(*) FROM directory_people"
    for service in ("escalation", "notifications"):
        for _ in range(100):
            if await count(endpoints, schema_of(service_env, service), directory) == 17:
                break
            await asyncio.sleep(0.2)
    load = Load(
        endpoints.bootstrap_servers,
        f"{prefix}wellbeing.checkins.submitted",
        platform.url("checkin", "/v1/checkins"),
    )
    streams = [
        asyncio.create_task(load.stream_kafka(KAFKA_PER_SECOND)),
        asyncio.create_task(load.stream_http(HTTP_PER_SECOND, 0)),
        asyncio.create_task(load.stream_http(HTTP_PER_SECOND, 1)),
    ]
    risky = iter(at_risk)

    async def crisis_then(fault: str) -> None:
        faults.note(f"{fault}: two immediate-risk check-ins first")
        await load.crisis(next(risky), "http")
        await load.crisis(next(risky), "kafka")

    kafka_outage: tuple[float, float] = (0.0, 0.0)
    try:
        await asyncio.sleep(STEADY_SECONDS)
        for service in SERVICES:
            await crisis_then(f"SIGKILL {service}")
            platform.kill(service)
            faults.note(f"{service}: SIGKILL")
            await asyncio.sleep(1)
            await platform.start(service)
            faults.note(f"{service}: ready again")
            await asyncio.sleep(STEADY_SECONDS)
        await crisis_then("Kafka restart")
        outage_started = time.time()
        await faults.restart_kafka()
        kafka_outage = (outage_started, time.time())
        await asyncio.sleep(STEADY_SECONDS)
        await crisis_then("PostgreSQL restarts")
        await faults.restart_postgres(times=3, pause=1.0)
        await asyncio.sleep(STEADY_SECONDS)
    finally:
        load.stopping.set()
        await asyncio.wait_for(asyncio.gather(*streams), 120)
    faulted = time.monotonic()

    checkin_schema = schema_of(service_env, "checkin")
    escalation_schema = schema_of(service_env, "escalation")
    notifications_schema = schema_of(service_env, "notifications")
    expected = load.expected
    groups = await consumer_operations(
        [platform.url(s, "") for s in SERVICES], service_env["KINSHIP_CONSUMER_GROUP_PREFIX"]
    )

    async def converged() -> bool:
        recorded = await count(endpoints, checkin_schema, "SELECT count(*) FROM checkins")
        observed = await count(endpoints, escalation_schema, "SELECT count(*) FROM observations")
        pending = await count(
            endpoints,
            notifications_schema,
            "SELECT count(*) FROM deliveries WHERE status = 'pending' AND kind = 'alert'",
        )
        alerted = {json.loads(items[0].body)["case_id"] for items in alerts_seen(webhooks).values()}
        return (
            recorded == len(expected)
            and observed == len(expected)
            and pending == 0
            and len(alerted) >= len(load.crisis_people)
        )

    faults.note(f"faults done; waiting for {len(expected)} check-ins to settle")
    deadline = time.monotonic() + 180
    while not await converged() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(1)
    behind = await wait_for_no_lag(endpoints.bootstrap_servers, groups, 60)
    settled = time.monotonic()

    # Every check-in recorded exactly once, by id, and observed once by escalation.
    recorded_ids = {
        r["id"]
        for r in await rows(endpoints.database_url, checkin_schema, "SELECT id FROM checkins")
    }
    assert load.unexpected == [], "no HTTP answer but 202, or 503 with Retry-After"
    assert load.retry_after_missing == 0
    assert len(recorded_ids) == len(expected) and recorded_ids == expected, (
        f"lost {len(expected - recorded_ids)}, unknown {len(recorded_ids - expected)}\n"
        + platform.logs()
    )
    observed_ids = {
        r["id"]
        for r in await rows(
            endpoints.database_url, escalation_schema, "SELECT id FROM observations"
        )
    }
    assert observed_ids == expected, f"escalation missed {len(expected - observed_ids)}"
    on_topic = [
        json.loads(r.value)["id"]
        for r in await read_all(
            endpoints.bootstrap_servers,
            f"{prefix}wellbeing.checkins.recorded",
            expect=len(expected),
            timeout=60,
        )
    ]
    assert set(on_topic) == expected

    # One case per person at risk (and none for anyone else), each alerted once, signed.
    subjects = {
        r["person_id"]: r["subject_id"]
        for r in await rows(
            endpoints.database_url,
            checkin_schema,
            "SELECT person_id, subject_id FROM pseudonyms WHERE person_id = ANY($1::text[])",
            list(load.crisis_people.values()),
        )
    }
    cases = await rows(
        endpoints.database_url, escalation_schema, "SELECT id, subject_id, severity FROM cases"
    )
    per_subject = Counter(c["subject_id"] for c in cases)
    assert per_subject == Counter(subjects.values()), "exactly one case per person at risk"
    assert {c["severity"] for c in cases} == {"critical"}
    alerts = await rows(
        endpoints.database_url, escalation_schema, "SELECT id, case_id, step FROM alerts"
    )
    assert Counter(a["case_id"] for a in alerts) == Counter(c["id"] for c in cases)
    seen = alerts_seen(webhooks)
    assert set(seen) == {a["id"] for a in alerts}, "every alert received, and no other"
    for alert_id, items in seen.items():
        assert all(signed(item) for item in items), "every alert is signed"
        assert {item.headers["x-kinship-delivery"] for item in items} == {f"alert:{alert_id}"}
        assert {item.path.lstrip("/") for item in items} <= set(RESPONDERS)
    deliveries = await rows(
        endpoints.database_url,
        notifications_schema,
        "SELECT kind, status, count(*) AS n FROM deliveries GROUP BY kind, status",
    )
    assert not [d for d in deliveries if d["status"] == "pending" and d["kind"] == "alert"]
    assert behind == {}, f"consumer groups still behind: {behind}"
    ready = await platform.wait_ready(60)
    assert {name: code for name, (code, _) in ready.items()} == dict.fromkeys(SERVICES, 200), ready

    # What the drill looked like (printed with -s; the figures go to docs/reliability.md).
    case_of_subject = {c["subject_id"]: c["id"] for c in cases}
    alert_of_case = {a["case_id"]: a["id"] for a in alerts}
    latencies = sorted(
        min(item.at for item in seen[alert_of_case[case_of_subject[subjects[person]]]])
        - load.alert_sent_at[person]
        for person in load.crisis_people.values()
    )
    errors_during_kafka_outage = {
        name: sum(
            1
            for e in log_entries(process.log, "ERROR", "CRITICAL")
            if kafka_outage[0] <= _epoch(e["time"]) <= kafka_outage[1] + 10
        )
        for name, process in platform.processes.items()
    }
    repeats = sum(len(items) - 1 for items in seen.values())
    print(
        f"\nchaos drill: {len(expected)} check-ins ({len(load.kafka_ids)} Kafka, "
        f"{len(load.http_ids)} HTTP), {len(on_topic) - len(expected)} repeated on the recorded "
        f"topic, {load.kafka_retries} producer and {load.http_retries} HTTP retries; "
        f"{len(cases)} critical cases, {len(seen)} alerts ({repeats} received again, same "
        f"delivery id); alert latency min {latencies[0]:.1f} s, max {latencies[-1]:.1f} s; "
        f"faults {faulted - started:.0f} s, settled {settled - faulted:.0f} s later; "
        f"ERROR lines during the Kafka outage (+10 s): {errors_during_kafka_outage}; "
        f"deliveries {[(d['kind'], d['status'], d['n']) for d in deliveries]}"
    )
    for at, what in faults.log:
        print(f"  +{at - started:6.1f} s  {what}")


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()

"""The demo scenario: a demo organisation checks in, and the platform's events are shown live.

All four services run; the demo plays a local webhook receiver for every person, so alerts
and celebrations really arrive (signed) and alerts are acknowledged through their links. It
ends with kudos celebrated live and the programme report (its chart is written to
``.kinship/stack/programme-report.svg``).
"""

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kinship_devstack.receiver import DemoReceiver

CHECKIN_URL = "http://127.0.0.1:8001"
ESCALATION_URL = "http://127.0.0.1:8002"
RECOGNITION_URL = "http://127.0.0.1:8004"
CHART = Path(os.environ.get("KINSHIP_STATE_DIR", ".kinship/stack")) / "programme-report.svg"
DEMO_POLICY = {
    "steps": [
        {"target": "responders", "timeout_seconds": 10},
        {"target": "responders", "timeout_seconds": 10},
        {"target": "coordinators", "timeout_seconds": 30},
    ],
    "contact_timeout_seconds": 3600,
}
BOOTSTRAP = "127.0.0.1:19092"
AUTH = {"Authorization": "Bearer kinship-dev-key"}
# A new person in crisis each run: a case stays open until resolved, so re-running the demo
# on the same stack would otherwise only add evidence to the last run's case.
CRISIS_PERSON = f"fay-{uuid.uuid4().hex[:6]}"
TEAM = [
    ("ada", "platform"),
    ("ben", "platform"),
    ("cleo", "platform"),
    ("dev", "platform"),
    ("eli", "platform"),
    (CRISIS_PERSON, "support"),
]
STAFF = [
    ("rosa", "care", ["peer_responder"]),
    ("sam", "care", ["peer_responder"]),
    ("cora", "care", ["coordinator"]),
]


def _checkin(person: str, **answers: object) -> dict[str, object]:
    return {
        "id": f"demo-{uuid.uuid4().hex[:12]}",
        "person_id": person,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "kinship-demo",
        **answers,
    }


async def main() -> None:
    """Seed the directory, submit check-ins over HTTP and Kafka, and show what happens."""
    receiver = DemoReceiver(os.environ.get("KINSHIP_WEBHOOK_SECRET", "kinship-dev-secret").encode())
    await receiver.start()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    consumer = AIOKafkaConsumer(
        "wellbeing.checkins.recorded",
        "wellbeing.checkins.submitted.dlq",
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="latest",
    )
    await consumer.start()
    escalation = AIOKafkaConsumer(
        "notifications.requests",
        "escalation.cases",
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="latest",
        group_id=f"kinship-demo-{uuid.uuid4().hex[:8]}",
    )
    await escalation.start()
    await asyncio.sleep(1)
    try:
        print("1. the directory: six people in two teams, two peer responders and a coordinator")
        for person, team, roles in [(p, t, []) for p, t in TEAM] + STAFF:
            person_record = {
                "person_id": person,
                "display_name": person.title(),
                "team_id": team,
                "timezone": "Europe/London",
                "roles": roles,
                "channels": {"webhook": receiver.url(person)},
                "active": True,
            }
            await producer.send_and_wait(
                "directory.people", json.dumps(person_record).encode(), key=person.encode()
            )
        await asyncio.sleep(1)
        print("   a coordinator sets a demo escalation policy: 10 s per responder step")
        async with httpx.AsyncClient(base_url=ESCALATION_URL, headers=AUTH) as coordinator:
            await coordinator.put("/v1/policies/default", json=DEMO_POLICY)
        async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=AUTH) as client:
            print("2. check-ins over HTTP (mood, WHO-5, a private note)")
            statuses = []
            for person, _team in TEAM[:5]:
                response = await client.post(
                    "/v1/checkins",
                    json=_checkin(person, mood=4, who5=[3, 3, 4, 3, 3], note="a private note"),
                )
                statuses.append(f"{response.status_code} {response.json()['status']}")
            # Who checked in, and what they answered, is never printed: counts only.
            print(f"   {len(statuses)} check-ins: {', '.join(sorted(set(statuses)))}")
            print("3. a check-in showing immediate risk: crisis resources come back at once")
            response = await client.post(
                "/v1/checkins",
                json=_checkin(
                    CRISIS_PERSON, mood=1, phq9=[2, 2, 1, 1, 1, 1, 1, 1, 1], wants_contact=True
                ),
            )
            for resource in response.json().get("immediate_support", []):
                print(f"   - {resource['name']}: {resource['contact']}")
            print("4. a chat bot publishes to Kafka: one valid check-in and one malformed")
            await producer.send_and_wait(
                "wellbeing.checkins.submitted",
                json.dumps(_checkin("ada", mood=3)).encode(),
                key=b"ada",
            )
            await producer.send_and_wait(
                "wellbeing.checkins.submitted",
                json.dumps(_checkin("ben", mood=9)).encode(),
                key=b"ben",
            )
            print("5. what other services see (pseudonymous, no notes):")
            seen = 0
            deadline = asyncio.get_running_loop().time() + 15
            while seen < 8 and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        seen += 1
                        if record.topic.endswith(".dlq"):
                            reason = dict(record.headers)["kinship-dlq-reason"].decode()
                            print(f"   dead letter: {reason}")
                        else:
                            event = json.loads(record.value)
                            # The shape of the event, never its answers or scores.
                            print(
                                f"   recorded: subject {event['subject_id'][:12]}…, team "
                                f"{event.get('team_id')}, derived scores "
                                f"{sorted(event['scores'])}, note text on Kafka: none"
                            )
            trend = (await client.get("/v1/teams/platform/trends")).json()
            print(
                f"6. team 'platform' trend (k >= 5): {trend['message']}; overall {trend['overall']}"
            )
            trend = (await client.get("/v1/teams/support/trends")).json()
            print(f"   team 'support': {trend['message']}")
        await _follow_escalation(escalation, receiver)
        await _celebrate(producer, receiver)
        await _report()
    finally:
        await escalation.stop()
        await consumer.stop()
        await producer.stop()
        await receiver.stop()
    print("done. `make down` stops the stack; logs are under .kinship/stack/logs/")


async def _follow_escalation(consumer: AIOKafkaConsumer, receiver: DemoReceiver) -> None:
    """Live: fay's case opens, rosa is paged, nobody answers, sam is paged and takes it."""
    print("7. live: the escalation service opens a case; alerts arrive on responders' webhooks")
    case_ids: set[str] = set()
    started = asyncio.get_running_loop().time()
    deadline = started + 60
    taken = None
    while taken is None and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for record in records:
                event = json.loads(record.value)
                if record.topic == "escalation.cases" and "sequence" in event:
                    if event["kind"] == "opened" and "immediate_risk" in event["rules"]:
                        case_ids.add(event["case_id"])
                    if event["case_id"] in case_ids:
                        print(
                            f"   [{_since(started)}] case {event['case_id'][:8]}… "
                            f"{event['kind']} (severity {event['severity']}, step "
                            f"{event.get('step')})"
                        )
        while not receiver.arrived.empty():
            delivery = receiver.arrived.get_nowait()
            signed = "signature ok" if delivery.signed else "BAD SIGNATURE"
            if delivery.kind == "alert" and delivery.body.get("case_id") in case_ids:
                alert = delivery.body
                print(
                    f"   [{_since(started)}] webhook -> {delivery.recipient}: ALERT step "
                    f"{alert['step']}: {alert['reason']} ({signed})"
                )
                if alert["step"] == 1:
                    print(f"   [{_since(started)}] {delivery.recipient} does not answer...")
                else:
                    print(f"   [{_since(started)}] {delivery.recipient} follows the link")
                    async with httpx.AsyncClient() as client:
                        taken = (await client.post(alert["ack_url"])).json()
            elif delivery.kind == "celebration":
                text = str(delivery.body.get("text", "")).strip()
                print(
                    f"   [{_since(started)}] webhook -> {delivery.recipient}: {text!r} ({signed})"
                )
            elif delivery.kind != "alert":
                # Messages to the person supported: never name them next to their crisis.
                staff = {name for name, _team, _roles in STAFF}
                who = delivery.recipient if delivery.recipient in staff else "the person"
                print(f"   [{_since(started)}] webhook -> {who}: {delivery.kind} ({signed})")
    if taken is None:
        print("   (no acknowledgement within a minute: see `make status` and the logs)")
        return
    print(f"8. case {taken['status']} by {taken['responder_id']}: escalation stops.")
    case_id, responder = taken["case_id"], taken["responder_id"]
    async with httpx.AsyncClient(base_url=ESCALATION_URL, headers=AUTH) as client:
        await client.post(f"/v1/cases/{case_id}/contact", json={"person_id": responder})
        resolved = await client.post(
            f"/v1/cases/{case_id}/resolve", json={"outcome": "supported", "person_id": responder}
        )
    print(
        f"   {responder} reaches the person, then resolves the case: "
        f"{resolved.json().get('outcome')} (feedback requested, follow-up in 72 h)"
    )
    alerts = [d for d in receiver.deliveries if d.kind == "alert"]
    print(
        f"   summary: {len(alerts)} alerts, each delivered once and signed; "
        f"time to acknowledge {_since(started)}"
    )


def _kudos(sender: str, to: str, message: str) -> dict[str, object]:
    return {
        "id": f"demo-kudos-{uuid.uuid4().hex[:12]}",
        "from_person_id": sender,
        "to_person_id": to,
        "message": message,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "kinship-demo",
    }


async def _celebrate(producer: AIOKafkaProducer, receiver: DemoReceiver) -> None:
    """Live: kudos over HTTP and Kafka, each celebrated once on the recipient's webhook."""
    print("9. kudos for rosa: ada over HTTP, ben over Kafka (with markup, which is removed)")
    started = asyncio.get_running_loop().time()
    async with httpx.AsyncClient(base_url=RECOGNITION_URL, headers=AUTH) as client:
        sent = await client.post("/v1/kudos", json=_kudos("ada", "rosa", "Thanks for today"))
        print(f"   POST /v1/kudos -> {sent.status_code} {sent.json().get('status', sent.text)}")
    kudos = _kudos("ben", "rosa", "<b>You were there</b> when it mattered")
    await producer.send_and_wait(
        "recognition.kudos.submitted", json.dumps(kudos).encode(), key=b"rosa"
    )
    staff = {name for name, _team, _roles in STAFF}
    celebrations = 0
    deadline = started + 30
    while celebrations < 2 and asyncio.get_running_loop().time() < deadline:
        try:
            delivery = await asyncio.wait_for(receiver.arrived.get(), timeout=0.5)
        except TimeoutError:
            continue
        if delivery.kind != "celebration" or delivery.recipient not in staff:
            continue
        celebrations += delivery.recipient == "rosa"
        signed = "signature ok" if delivery.signed else "BAD SIGNATURE"
        text = str(delivery.body.get("text", "")).strip()
        print(f"   [{_since(started)}] webhook -> {delivery.recipient}: {text!r} ({signed})")
    if celebrations < 2:
        print("   (celebrations did not arrive in 30 s: see `make status` and the logs)")


async def _report() -> None:
    """The programme report a coordinator reads: aggregates only, every group k >= 5."""
    print("10. the programme report (coordinators): only groups of at least 5 people")
    async with httpx.AsyncClient(base_url=RECOGNITION_URL, headers=AUTH) as client:
        report = (await client.get("/v1/reports/programme", params={"weeks": 4})).json()
        week = report["weeks"][-1]
        participation = week["participation"]
        if participation is not None:
            print(
                f"   this week: {participation['people']} of {participation['members']} "
                "people checked in"
            )
        for reason in week["withheld"]:
            print(f"   withheld: {reason}")
        chart = await client.get("/v1/reports/programme/chart.svg", params={"weeks": 4})
    CHART.parent.mkdir(parents=True, exist_ok=True)
    CHART.write_bytes(chart.content)
    print(f"   chart: {CHART} (gaps are weeks with fewer than 5 people)")


def _since(started: float) -> str:
    return f"{asyncio.get_running_loop().time() - started:5.1f}s"


if __name__ == "__main__":
    asyncio.run(main())

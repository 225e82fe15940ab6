"""The demo scenario: a demo organisation checks in, and the platform's events are shown live.

Today the platform runs the check-in and escalation services; notifications (delivery to
webhooks and email) and recognition join the scenario as they land (see the project's
issues). Until then the demo shows the alert requests the escalation service publishes.
"""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

CHECKIN_URL = "http://127.0.0.1:8001"
BOOTSTRAP = "127.0.0.1:19092"
AUTH = {"Authorization": "Bearer kinship-dev-key"}
TEAM = [
    ("ada", "platform"),
    ("ben", "platform"),
    ("cleo", "platform"),
    ("dev", "platform"),
    ("eli", "platform"),
    ("fay", "support"),
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
                "channels": {},
                "active": True,
            }
            await producer.send_and_wait(
                "directory.people", json.dumps(person_record).encode(), key=person.encode()
            )
        await asyncio.sleep(1)
        async with httpx.AsyncClient(base_url=CHECKIN_URL, headers=AUTH) as client:
            print("2. check-ins over HTTP (mood, WHO-5, a private note)")
            for person, _team in TEAM[:5]:
                response = await client.post(
                    "/v1/checkins",
                    json=_checkin(person, mood=4, who5=[3, 3, 4, 3, 3], note="a private note"),
                )
                print(f"   {person}: HTTP {response.status_code} {response.json()['status']}")
            print("3. a check-in showing immediate risk: crisis resources come back at once")
            response = await client.post(
                "/v1/checkins",
                json=_checkin("fay", mood=1, phq9=[2, 2, 1, 1, 1, 1, 1, 1, 1], wants_contact=True),
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
                            print(
                                f"   recorded {event['id']} subject {event['subject_id'][:12]}… "
                                f"team {event.get('team_id')} mood {event.get('mood')} "
                                f"scores {event['scores']} note? {event['has_note']}"
                            )
            trend = (await client.get("/v1/teams/platform/trends")).json()
            print(
                f"6. team 'platform' trend (k >= 5): {trend['message']}; overall {trend['overall']}"
            )
            trend = (await client.get("/v1/teams/support/trends")).json()
            print(f"   team 'support': {trend['message']}")
        await _follow_escalation(escalation)
    finally:
        await escalation.stop()
        await consumer.stop()
        await producer.stop()
    print("done. `make down` stops the stack; logs are under .kinship/stack/logs/")


async def _follow_escalation(consumer: AIOKafkaConsumer) -> None:
    """Show fay's case opening, the alert to the on-call responder, and its acknowledgement."""
    print("7. the escalation service opened a case for fay's check-in and alerted a responder:")
    ack_url = None
    case_ids: set[str] = set()  # only the demo's critical case, whatever else is going on
    deadline = asyncio.get_running_loop().time() + 20
    while ack_url is None and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                event = json.loads(record.value)
                if record.topic == "escalation.cases" and "sequence" in event:
                    if event["kind"] == "opened" and "immediate_risk" in event["rules"]:
                        case_ids.add(event["case_id"])
                    if event["case_id"] not in case_ids:
                        continue
                    print(
                        f"   case {event['case_id'][:8]}… {event['kind']}: severity "
                        f"{event['severity']}, rules {event['rules']}"
                    )
                elif event.get("case_id") not in case_ids:
                    continue
                elif event.get("kind") == "alert":
                    alert = event["alert"]
                    who = event["recipient"]["person_id"]
                    print(f"   ALERT to {who} (step {alert['step']}): {alert['reason']}")
                    print(f"         acknowledge: {alert['ack_url']}")
                    ack_url = alert["ack_url"]
                elif event.get("kind") == "crisis_resources":
                    print("   crisis resources requested for the person (critical)")
    if ack_url is None:
        print("   (no alert yet: is the escalation service running? `make status`)")
        return
    print("8. the responder follows the link and takes the case; escalation stops")
    async with httpx.AsyncClient() as client:
        taken = (await client.post(ack_url)).json()
    print(f"   case status: {taken['status']}, responder {taken['responder_id']}")


if __name__ == "__main__":
    asyncio.run(main())

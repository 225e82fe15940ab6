"""The demo scenario: a demo organisation checks in, and the platform's events are shown live.

Today the platform runs the check-in service; the escalation, notification and recognition
services join the scenario as they land (see the project's issues).
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
    await asyncio.sleep(1)
    try:
        print("1. the directory: six people in two teams (published to directory.people)")
        for person, team in TEAM:
            person_record = {
                "person_id": person,
                "display_name": person.title(),
                "team_id": team,
                "timezone": "Europe/London",
                "roles": [],
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
    finally:
        await consumer.stop()
        await producer.stop()
    print("done. `make down` stops the stack; logs are under .kinship/stack/logs/")


if __name__ == "__main__":
    asyncio.run(main())

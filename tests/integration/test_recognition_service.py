"""The recognition service against the real broker and database."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from kinship_recognition.composition import create_app as create_recognition_app
from tests.escalation_support import AUTH, SUBJECTS, encode_person, recorded
from tests.kafka_reading import encode, publish, read_all
from tests.notifications_support import Recognition, kudos

pytestmark = pytest.mark.integration


async def consumed_to_end(service: Recognition, group: str, topic: str, count: int) -> bool:
    """Whether ``group`` committed offsets past all ``count`` records of ``topic`` (20 s)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=service.endpoints.bootstrap_servers)
    await admin.start()
    try:
        for _ in range(200):
            offsets = await admin.list_consumer_group_offsets(group)
            committed = sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)
            if committed >= count:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await admin.close()


async def messages(service: Recognition, topic: str, expect: int) -> list[dict[str, Any]]:
    records = await read_all(service.endpoints.bootstrap_servers, service.topic(topic), expect)
    return [json.loads(r.value) for r in records]


async def test_kudos_over_http_and_kafka_give_one_award_and_one_celebration_each(
    recognition: Recognition,
) -> None:
    first = await recognition.client.post(
        "/v1/kudos", json=kudos("k-http", message="<b>Great</b> handover"), headers=AUTH
    )
    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    again = await recognition.client.post("/v1/kudos", json=kudos("k-http"), headers=AUTH)
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    topic = recognition.topic("recognition.kudos.submitted")
    payload = encode(kudos("k-kafka", sender="cat"))
    await publish(recognition.endpoints.bootstrap_servers, topic, [(b"bob", payload)] * 2)
    assert await recognition.wait_for("SELECT count(*) FROM kudos", 2) == 2
    stored = await recognition.rows("SELECT message FROM kudos WHERE id = 'k-http'")
    assert stored[0]["message"] == "Great handover"

    awards = await messages(recognition, "recognition.awards", expect=2)
    assert sorted(a["id"] for a in awards) == ["kudos:k-http", "kudos:k-kafka"]
    requests = await messages(recognition, "notifications.requests", expect=2)
    celebrations = [r for r in requests if r["kind"] == "celebration"]
    assert sorted(r["id"] for r in celebrations) == [
        "celebration:kudos:k-http",
        "celebration:kudos:k-kafka",
    ]
    assert all(r["recipient"] == {"person_id": "bob"} for r in celebrations)


async def test_self_kudos_and_the_daily_limit_are_refused(recognition: Recognition) -> None:
    own = await recognition.client.post("/v1/kudos", json=kudos("k-self", to="ann"), headers=AUTH)
    assert own.status_code == 422
    assert own.json()["detail"][0]["type"] == "self_kudos"
    for n in range(3):  # the test's limit is 3 a day
        sent = await recognition.client.post("/v1/kudos", json=kudos(f"k-{n}"), headers=AUTH)
        assert sent.status_code == 202
    over = await recognition.client.post("/v1/kudos", json=kudos("k-over"), headers=AUTH)
    assert over.status_code == 429
    topic = recognition.topic("recognition.kudos.submitted")
    await publish(
        recognition.endpoints.bootstrap_servers,
        topic,
        [(b"dan", encode(kudos("k-self-kafka", sender="dan", to="dan")))],
    )
    dlq = await read_all(recognition.endpoints.bootstrap_servers, f"{topic}.dlq", 1)
    assert [dict(r.headers)["kinship-dlq-code"] for r in dlq] == [b"self_kudos"]


async def test_four_weekly_checkins_earn_the_streak_award_once_even_when_replayed(
    recognition: Recognition,
) -> None:
    await publish(
        recognition.endpoints.bootstrap_servers,
        recognition.topic("directory.people"),
        [
            encode_person(
                "eve",
                "team-e",
                {},
            )
        ],
    )
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 1) == 1
    now = datetime.now(UTC)
    weekly = [recorded(f"c-{w}", "eve", now - timedelta(weeks=3 - w), mood=2) for w in range(4)]
    topic = recognition.topic("wellbeing.checkins.recorded")
    await publish(recognition.endpoints.bootstrap_servers, topic, weekly)
    assert await recognition.wait_for("SELECT count(*) FROM awards", 1) == 1
    await publish(recognition.endpoints.bootstrap_servers, topic, weekly)  # replay
    assert await recognition.wait_for("SELECT count(*) FROM checkin_weeks", 4) == 4
    # A second instance with a new consumer group reads the whole topic from its start.
    fresh = recognition.settings.model_copy(
        update={"consumer_group_prefix": f"{recognition.settings.consumer_group_prefix}-replay"}
    )
    app = create_recognition_app(fresh)
    async with app.router.lifespan_context(app):
        group = fresh.consumer_group("checkins")
        assert await consumed_to_end(recognition, group, topic, 8)
    stored = await recognition.rows("SELECT id FROM awards")
    assert [row["id"] for row in stored] == [f"streak:{SUBJECTS.subject_id('eve')}:4"]
    awards = await messages(recognition, "recognition.awards", expect=1)
    subject = SUBJECTS.subject_id("eve")
    assert [(a["id"], a["count"]) for a in awards] == [(f"streak:{subject}:4", 4)]
    assert all("mood" not in a and "eve" not in json.dumps(a) for a in awards)


def case_event(kind: str, sequence: int, **fields: Any) -> tuple[bytes, bytes]:
    body = {
        "id": f"case-1:{sequence}",
        "case_id": "case-1",
        "sequence": sequence,
        "kind": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject_id": SUBJECTS.subject_id("w"),
        "status": "resolved",
        "severity": "high",
        "rules": ["self_referral"],
        "responder_id": "resp-a",
        **fields,
    }
    return b"case-1", encode(body)


async def test_responders_are_appreciated_for_cases_supported_and_thanks(
    recognition: Recognition,
) -> None:
    topic = recognition.topic("escalation.cases")
    proposal = {
        "id": "defusing:sig-1",
        "team_id": "team-x",
        "kind": "defusing",
        "reason": "critical_incident",
        "offer_by": datetime.now(UTC).isoformat(),
        "window_start": datetime.now(UTC).isoformat(),
        "window_end": datetime.now(UTC).isoformat(),
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    await publish(
        recognition.endpoints.bootstrap_servers,
        topic,
        [(b"team-x", encode(proposal))],
        headers=[("ce_type", b"kinship.case.group_session_proposed.v1")],
    )
    resolved = case_event("resolved", 6, outcome="supported")
    await publish(recognition.endpoints.bootstrap_servers, topic, [resolved, resolved])
    await publish(
        recognition.endpoints.bootstrap_servers,
        topic,
        [case_event("feedback_received", 7, feedback_score=5, feedback_from="person")],
    )
    assert await recognition.wait_for("SELECT count(*) FROM awards", 2) == 2
    awards = await messages(recognition, "recognition.awards", expect=2)
    assert sorted((a["id"], a["person_id"]) for a in awards) == [
        ("supported:resp-a:1", "resp-a"),
        ("thanks:case-1", "resp-a"),
    ]
    assert all(SUBJECTS.subject_id("w") not in json.dumps(a) for a in awards)
    dlq = await read_all(recognition.endpoints.bootstrap_servers, f"{topic}.dlq", 0, timeout=2)
    assert dlq == []

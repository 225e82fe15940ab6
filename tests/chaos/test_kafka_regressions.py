"""Issue 14's Kafka cases, against the real broker with the four services in-process.

- Check-ins dated year 1 or 9999 reaching escalation's consumer (the recorded topic) are
  dead-lettered and the partition moves on: a critical neighbour behind them opens its case.
- A header value that is not UTF-8 costs no record, in any of the four services.
- Dead-letter reasons never echo a submitted value or an unknown field's name.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.chaos.inprocess import InProcessPlatform
from tests.escalation_support import SUBJECTS, encode_person, recorded_event
from tests.kafka_reading import checkin, encode, publish, read_all
from tests.notifications_support import kudos, signed_headers

pytestmark = pytest.mark.chaos


@pytest.fixture
def platform(shared_platform: InProcessPlatform) -> InProcessPlatform:
    return shared_platform


@pytest.fixture
def tag() -> str:
    """Ids of this test's records start with it (the platform is shared)."""
    return f"x{uuid.uuid4().hex[:6]}-"


def recorded_at(id_: str, person: str, occurred_at: str, **answers: Any) -> tuple[bytes, bytes]:
    """A recorded check-in with ``occurred_at`` written as given (any RFC 3339 text)."""
    body = json.loads(recorded_event(id_, person, datetime.now(UTC), **answers).model_dump_json())
    body["occurred_at"] = occurred_at
    return SUBJECTS.subject_id(person).encode(), encode(body)


def reasons(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(dict(r.headers)["kinship-dlq-reason"]) for r in records]


async def seed_staff(platform: InProcessPlatform) -> None:
    staff = [
        encode_person(
            "resp-a", "team-r", {"webhook": "http://127.0.0.1:9/resp-a"}, "peer_responder"
        ),
        encode_person(
            "coord-1", "team-c", {"webhook": "http://127.0.0.1:9/coord-1"}, "coordinator"
        ),
    ]
    await publish(platform.bootstrap, platform.topic("directory.people"), staff)
    sql = "SELECT count(*) FROM directory_people WHERE person_id IN ('resp-a', 'coord-1')"
    for service in ("escalation", "notifications"):
        assert await platform.wait_for(service, sql, 2) == 2


async def test_year_1_and_9999_on_the_recorded_topic_do_not_stop_escalations_partition(
    platform: InProcessPlatform, tag: str
) -> None:
    await seed_staff(platform)
    now = datetime.now(UTC)
    good = (now - timedelta(hours=1)).isoformat()
    person = f"{tag}worker"  # one key: every record below is on the same partition, in order
    subject = SUBJECTS.subject_id(person)
    extreme = {
        f"{tag}year-1": "0001-01-01T00:00:00Z",
        f"{tag}year-9999": "9999-12-31T23:59:59Z",
        f"{tag}year-1-east": "0001-01-01T00:00:00+14:00",
        f"{tag}year-9999-west": "9999-12-31T23:59:59-12:00",
    }
    records = [
        recorded_at(f"{tag}before", person, good, mood=3),
        *(recorded_at(id_, person, at, mood=2) for id_, at in extreme.items()),
        recorded_at(f"{tag}critical-after", person, now.isoformat(), phq9=[0] * 8 + [2]),
    ]
    topic = platform.topic("wellbeing.checkins.recorded")
    for key, value in records:  # each with its id as ce_id, to find its dead letter
        await publish(
            platform.bootstrap,
            topic,
            [(key, value)],
            headers=[("ce_id", json.loads(value)["id"].encode())],
        )

    cases = "SELECT count(*) FROM cases WHERE subject_id = $1"
    assert await platform.wait_for("escalation", cases, 1, subject) == 1
    assert await platform.settle() == {}, "no consumer group is stuck"
    observed = {
        row["id"]
        for row in await platform.rows(
            "escalation", "SELECT id FROM observations WHERE subject_id = $1", subject
        )
    }
    assert {f"{tag}before", f"{tag}critical-after"} <= observed, "both neighbours evaluated"
    alerts = "SELECT count(*) FROM alerts JOIN cases ON cases.id = case_id WHERE subject_id = $1"
    assert await platform.count("escalation", alerts, subject) == 1
    dead = [
        record
        for record in await read_all(platform.bootstrap, f"{topic}.dlq", timeout=5)
        if dict(record.headers).get("ce_id", b"").decode().startswith(tag)
    ]
    escalations = platform.settings["escalation"].consumer_group("events")
    set_aside = {
        dict(record.headers)["ce_id"].decode()
        for record in dead
        if dict(record.headers)["kinship-dlq-consumer"].decode() == escalations
    }
    # Each extreme record was either evaluated (a date PostgreSQL can hold) or set aside with
    # a reason: never retried forever, never holding the partition.
    assert set_aside == set(extreme) - observed, (observed, set_aside)
    assert f"{tag}year-1" in set_aside, "year 1 overflows date arithmetic (issue 14)"
    for reason in reasons(dead):
        assert reason["code"] in ("processing_failed", "validation_failed")
        assert "0001" not in json.dumps(reason) and "9999" not in json.dumps(reason)


BAD_HEADERS = [
    ("x-origin", b"\xff\xfe\xfd"),
    ("x-origin", b"\xc3\x28 twice, not UTF-8"),
    ("traceparent", b"\x80\x81"),
    ("ce_source", b"\xed\xa0\x80"),  # an encoded surrogate: not UTF-8 either
]


async def test_a_header_that_is_not_utf8_costs_no_record_in_any_service(
    platform: InProcessPlatform, tag: str
) -> None:
    await seed_staff(platform)
    now = datetime.now(UTC).isoformat()

    # Every record is valid; half of them carry header values that are not UTF-8.
    def headers(id_: str, i: int) -> list[tuple[str, bytes]]:
        return [("ce_id", id_.encode()), *(BAD_HEADERS if i % 2 else [])]

    sends: list[tuple[str, str, dict[str, Any], str]] = []
    for i in range(6):
        person = f"{tag}p{i}"
        sends += [
            ("wellbeing.checkins.submitted", person, checkin(f"{tag}c-{i}", person), "id"),
            (
                "wellbeing.signals.submitted",
                person,
                {
                    "id": f"{tag}s-{i}",
                    "person_id": person,
                    "kind": "overtime",
                    "severity": 2,
                    "occurred_at": now,
                    "source": "tests",
                },
                "id",
            ),
            (
                "recognition.kudos.submitted",
                f"{tag}q{i}",
                kudos(f"{tag}k-{i}", f"{tag}ann{i}", f"{tag}q{i}"),
                "id",
            ),
            (
                "programme.pulse.submitted",
                person,
                {
                    "id": f"{tag}u-{i}",
                    "person_id": person,
                    "survey_id": "2026-11",
                    "occurred_at": now,
                    "source": "tests",
                    "answers": {"programme_helps": 4},
                },
                "id",
            ),
            (
                "directory.people",
                person,
                json.loads(encode_person(person, "team-x", {})[1]),
                "person_id",
            ),
            (
                "privacy.erasure.requested",
                f"{tag}gone-{i}",
                {
                    "id": f"{tag}e-{i}",
                    "person_id": f"{tag}gone-{i}",
                    "requested_at": now,
                    "source": "tests",
                },
                "id",
            ),
            (
                "notifications.requests",
                "coord-1",
                {
                    "id": f"{tag}n-{i}",
                    "kind": "checkin_reminder",
                    "recipient": {"person_id": "coord-1"},
                    "template": "checkin_reminder",
                    "created_at": now,
                },
                "id",
            ),
        ]
    for index, (name, key, body, id_field) in enumerate(sends):
        value = encode(body)
        # Notification requests are signed by the Kinship service that makes them.
        signature = signed_headers(value) if name == "notifications.requests" else []
        await publish(
            platform.bootstrap,
            platform.topic(name),
            [(key.encode(), value)],
            headers=[*headers(body[id_field], index // 7), *signature],
        )

    assert await platform.settle() == {}, "no consumer group is stuck"
    mine = tag + "%"
    counts = {
        "checkins": ("checkin", "SELECT count(*) FROM checkins WHERE id LIKE $1"),
        "erasures": ("checkin", "SELECT count(*) FROM erasures WHERE erasure_id LIKE $1"),
        "signals": (
            "escalation",
            "SELECT count(*) FROM processed_events WHERE consumer = 'signals' AND event_id LIKE $1",
        ),
        "requests": ("notifications", "SELECT count(*) FROM deliveries WHERE id LIKE $1"),
        "kudos": ("recognition", "SELECT count(*) FROM kudos WHERE id LIKE $1"),
        "pulse": ("recognition", "SELECT count(*) FROM pulse_responses WHERE response_id LIKE $1"),
        **{
            f"directory:{service}": (
                service,
                "SELECT count(*) FROM directory_people WHERE person_id LIKE $1",
            )
            for service in ("checkin", "escalation", "notifications", "recognition")
        },
    }
    found = {name: await platform.wait_for(s, sql, 6, mine) for name, (s, sql) in counts.items()}
    assert found == dict.fromkeys(counts, 6), found
    for name in {name for name, *_ in sends}:
        dead = [
            record
            for record in await read_all(
                platform.bootstrap, platform.topic(f"{name}.dlq"), timeout=2
            )
            if dict(record.headers).get("ce_id", b"").startswith(tag.encode())
        ]
        assert dead == [], f"nothing of this test on {name}.dlq"


PLANTED = "planted-secret-7f3a"
UNKNOWN_KEY = "person-ssn-123-45-6789"


async def test_dead_letter_reasons_never_echo_values_or_unknown_field_names(
    platform: InProcessPlatform,
) -> None:
    now = datetime.now(UTC).isoformat()
    bad: dict[str, list[dict[str, Any]]] = {
        "wellbeing.checkins.submitted": [
            checkin("c-1", **{UNKNOWN_KEY: PLANTED}),
            checkin("c-2", mood=PLANTED),
            checkin("c-3", note=PLANTED + "\x00"),
            checkin("c-4", occurred_at=PLANTED),
            {PLANTED: {UNKNOWN_KEY: [PLANTED]}},
        ],
        "wellbeing.signals.submitted": [
            {
                "id": "s-1",
                "person_id": PLANTED,
                "kind": PLANTED,
                "severity": 9,
                "occurred_at": now,
                "source": "t",
                UNKNOWN_KEY: 1,
            },
        ],
        "recognition.kudos.submitted": [
            kudos("k-1") | {UNKNOWN_KEY: PLANTED},
            kudos("k-2", message=PLANTED + "\ud800"),
        ],
        "programme.pulse.submitted": [
            {
                "id": "u-1",
                "person_id": "p",
                "survey_id": "s",
                "occurred_at": now,
                "source": "t",
                "answers": {UNKNOWN_KEY: 3, "programme_helps": PLANTED},
            },
        ],
        "directory.people": [
            {
                "person_id": "p-1",
                "display_name": "P",
                "team_id": "t",
                "timezone": PLANTED,
                "channels": {UNKNOWN_KEY: PLANTED},
            },
        ],
        "privacy.erasure.requested": [
            {
                "id": "e-1",
                "person_id": "p-1",
                "requested_at": PLANTED,
                "source": "t",
                UNKNOWN_KEY: PLANTED,
            },
        ],
    }
    for name, payloads in bad.items():
        key = b"p-1"
        await publish(
            platform.bootstrap,
            platform.topic(name),
            [(key, json.dumps(payload).encode()) for payload in payloads],
            headers=[("ce_id", PLANTED.encode())],
        )
    assert await platform.settle() == {}
    for name, payloads in bad.items():
        dead = await read_all(
            platform.bootstrap, platform.topic(f"{name}.dlq"), expect=len(payloads), timeout=10
        )
        assert len(dead) >= len(payloads), name
        for record in dead:
            headers = dict(record.headers)
            reason = headers["kinship-dlq-reason"].decode()
            assert PLANTED not in reason and UNKNOWN_KEY not in reason, (name, reason)
            assert json.loads(reason)["code"]
            # Only the original's CloudEvents headers stay readable; the value is sealed.
            assert PLANTED.encode() not in (record.value or b"")
            assert UNKNOWN_KEY.encode() not in (record.value or b"")

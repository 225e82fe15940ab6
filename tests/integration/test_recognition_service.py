"""The recognition service against the real broker and database."""

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, request_signed
from kinship_recognition.composition import MIGRATIONS
from kinship_recognition.composition import create_app as create_recognition_app
from kinship_runtime.database import apply_migrations, migrate_schema, superseded_checksums
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.conftest import Endpoints
from tests.database import open_dead_letters
from tests.escalation_support import AUTH, SUBJECTS, encode_person, recorded
from tests.kafka_reading import encode, publish, read_all
from tests.notifications_support import kudos
from tests.recognition_support import RunningRecognition as Recognition
from tests.recognition_support import consumed_to_end
from tests.vault_support import VaultOverAsgi

pytestmark = pytest.mark.integration


async def records(service: Recognition, topic: str, expect: int) -> list[Any]:
    return await read_all(service.endpoints.bootstrap_servers, service.topic(topic), expect)


async def messages(service: Recognition, topic: str, expect: int) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in await records(service, topic, expect)]


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

    stored = await recognition.rows("SELECT id, person_id, subject_id FROM awards ORDER BY id")
    assert [tuple(row) for row in stored] == [
        ("kudos:k-http", "bob", None),
        ("kudos:k-kafka", "bob", None),
    ]
    bob = await recognition.subject("bob")
    awards = await messages(recognition, "recognition.awards", expect=2)
    assert [a["subject_id"] for a in awards] == [bob, bob]
    requests = await records(recognition, "notifications.requests", expect=2)
    celebrations = [json.loads(r.value) for r in requests]
    assert sorted(r["id"] for r in celebrations) == sorted(f"celebration:{a['id']}" for a in awards)
    assert all(r["recipient"] == {"subject_id": bob} for r in celebrations)
    assert all(r.key == bob.encode() for r in requests)
    key = DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"].encode()  # the dev profile's
    for record in requests:
        signature = dict(record.headers)[REQUEST_SIGNATURE_HEADER].decode()
        assert request_signed(key, record.value, signature)
    published = b"".join(r.value for r in requests) + json.dumps(awards).encode()
    assert b"bob" not in published and b"k-http" not in published  # nothing to join on


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


async def test_refused_kudos_reach_the_dlq_when_their_batch_is_retried_record_by_record(
    recognition: Recognition,
) -> None:
    # Issue 14. The database refuses one kudos for good (a trigger, standing in for any lasting
    # failure), so the batch is retried record by record: the self-kudos refused on the way
    # must still be dead-lettered, and the valid kudos awarded.
    schema = recognition.settings.owned_schema()
    await recognition.rows(
        f'CREATE FUNCTION "{schema}".refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$'
        " BEGIN IF NEW.id = 'k-poison' THEN RAISE EXCEPTION 'poisoned'; END IF;"
        " RETURN NEW; END $$"
    )
    await recognition.rows(
        f'CREATE TRIGGER refuse_poison BEFORE INSERT ON "{schema}".kudos'
        f' FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse_poison()'
    )
    topic = recognition.topic("recognition.kudos.submitted")
    batch = [
        kudos("k-self", sender="dan", to="dan"),
        kudos("k-ok", sender="ann", to="bob"),
        kudos("k-poison", sender="cat", to="bob"),
    ]
    await publish(
        recognition.endpoints.bootstrap_servers, topic, [(b"one", encode(k)) for k in batch]
    )
    dlq = await read_all(recognition.endpoints.bootstrap_servers, f"{topic}.dlq", 2)
    originals = await open_dead_letters(
        recognition.endpoints.database_url, recognition.settings, dlq
    )
    assert all(record.value != original for record, original in zip(dlq, originals, strict=True))
    codes = sorted(
        (json.loads(original or b"")["id"], dict(r.headers)["kinship-dlq-code"].decode())
        for r, original in zip(dlq, originals, strict=True)
    )
    assert codes == [("k-poison", "processing_failed"), ("k-self", "self_kudos")]
    assert await recognition.wait_for("SELECT count(*) FROM kudos", 1) == 1
    awards = await messages(recognition, "recognition.awards", expect=1)
    assert [a["subject_id"] for a in awards] == [await recognition.subject("bob")]
    assert [row["id"] for row in await recognition.rows("SELECT id FROM awards")] == ["kudos:k-ok"]


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
    assert await recognition.rows("SELECT subject_id FROM directory_people") == [(None,)]
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
    app = create_recognition_app(fresh, VaultOverAsgi(recognition.checkin_app))
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
    stored = await recognition.rows("SELECT id, person_id, subject_id FROM awards ORDER BY id")
    assert [tuple(row) for row in stored] == [
        ("supported:resp-a:1", "resp-a", None),
        ("thanks:case-1", "resp-a", None),
    ]
    awards = await messages(recognition, "recognition.awards", expect=2)
    responder = await recognition.subject("resp-a")
    assert [a["subject_id"] for a in awards] == [responder, responder]
    assert all("resp-a" not in json.dumps(a) and "case-1" not in json.dumps(a) for a in awards)
    assert all(SUBJECTS.subject_id("w") not in json.dumps(a) for a in awards)
    dlq = await read_all(recognition.endpoints.bootstrap_servers, f"{topic}.dlq", 0, timeout=2)
    assert dlq == []


# The 0.1 text of 0001_recognition.sql: today's, with its own outbox (now the runtime's).
_OLD_HEADER = (
    "-- Kudos, check-in weeks, awards, the directory view and the outbox of the recognition"
    " service.\n"
)
_OLD_OUTBOX = """
CREATE TABLE outbox (
    seq bigserial PRIMARY KEY,
    event_id text NOT NULL,
    topic text NOT NULL,
    key bytea,
    value bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kinship_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox();
"""


def old_migrations(directory: Path) -> Path:
    """The recognition service's migrations as 0.1 shipped them (0001-0003)."""
    body = (MIGRATIONS / "0001_recognition.sql").read_text().split("\n", 2)[2]
    old = _OLD_HEADER + body + _OLD_OUTBOX
    checksum = hashlib.sha256(old.encode()).hexdigest()
    assert ("0001_recognition.sql", checksum) in superseded_checksums(MIGRATIONS)
    (directory / "0001_recognition.sql").write_text(old)
    for name in ("0002_responders.sql", "0003_teams_and_evaluation.sql"):
        shutil.copy(MIGRATIONS / name, directory / name)
    return directory


async def test_a_schema_from_before_the_runtime_projection_keeps_its_directory(
    endpoints: Endpoints, database: str, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await apply_migrations(conn, database, old_migrations(tmp_path))
        await conn.execute(
            f'INSERT INTO "{database}".people (person_id, subject_id, timezone, team_id, active)'
            " VALUES ('ann', 's-ann', 'Europe/Berlin', 'team-a', true),"
            " ('bob', 's-bob', 'UTC', 'team-b', false)"
        )
        await conn.execute(
            f"INSERT INTO \"{database}\".outbox (event_id, topic, value) VALUES ('e', 't', 'v')"
        )
        applied = await migrate_schema(conn, database, MIGRATIONS)
        assert [name for name in applied if not name.startswith("runtime/")] == [
            "0004_directory_people.sql",
            "0005_trust.sql",
            "0006_report_weeks.sql",
            "0007_erased_ids.sql",
            "0008_erased_people.sql",
        ]
        people = await conn.fetch(
            "SELECT person_id, subject_id, timezone, team_id, active, roles"
            f' FROM "{database}".directory_people ORDER BY person_id'
        )
        # The people are kept; their subject ids are not (0005: no person next to a subject).
        assert [tuple(row) for row in people] == [
            ("ann", None, "Europe/Berlin", "team-a", True, []),
            ("bob", None, "UTC", "team-b", False, []),
        ]
        assert await conn.fetchval("SELECT to_regclass($1)", f"{database}.people") is None
        assert await conn.fetchval(f'SELECT count(*) FROM "{database}".outbox') == 1
        assert await migrate_schema(conn, database, MIGRATIONS) == []
    finally:
        await conn.close()

"""The notifications schema of an earlier release upgrades in place: the amended 0001 is
accepted (``superseded.txt``), 0003 moves ``recipients`` into the runtime's
``directory_people``, so that nobody has to re-read the compacted directory topic, and 0004
forgets every link between a person and a subject id (issue 11); 0005 marks which deliveries
count against the daily limit (issue 12)."""

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

import kinship_notifications
from kinship_contracts.directory import Channels
from kinship_notifications.adapters.postgres import PostgresNotificationsUnitOfWork
from kinship_runtime.database import apply_migrations, migrate_schema
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints

pytestmark = pytest.mark.integration

MIGRATIONS = Path(kinship_notifications.__file__).resolve().parent.parent / "migrations"

# 0001_notifications.sql as release 0.1 applied it (its checksum is in superseded.txt).
RELEASE_0_1 = """-- Deliveries, recipients, preferences and the outbox of the notifications service.

CREATE TABLE recipients (
    person_id text PRIMARY KEY,
    subject_id text NOT NULL,
    timezone text NOT NULL,
    channels jsonb NOT NULL,
    active boolean NOT NULL
);
CREATE INDEX recipients_by_subject ON recipients (subject_id);

CREATE TABLE preferences (
    person_id text PRIMARY KEY,
    locale text NOT NULL DEFAULT 'en',
    quiet_start time,
    quiet_end time,
    recognition_opt_out boolean NOT NULL DEFAULT false,
    max_per_day integer NOT NULL DEFAULT 5,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per request: its id is the delivery id, so a redelivered request is a no-op.
CREATE TABLE deliveries (
    id text PRIMARY KEY,
    kind text NOT NULL,
    critical boolean NOT NULL,
    request jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until timestamptz,
    channel text,
    last_error text,
    person_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_sent_by_person ON deliveries (person_id, finished_at)
    WHERE status = 'delivered' AND NOT critical;

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


@pytest.fixture
async def conn(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(endpoints.database_url)
    yield connection
    await connection.close()


async def tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    return {row["tablename"] for row in rows}


async def test_recipients_of_an_earlier_release_move_into_the_directory_projection(
    conn: asyncpg.Connection, database: str, endpoints: Endpoints, tmp_path: Path
) -> None:
    superseded = (MIGRATIONS / "superseded.txt").read_text()
    assert hashlib.sha256(RELEASE_0_1.encode()).hexdigest() in superseded
    (tmp_path / "0001_notifications.sql").write_text(RELEASE_0_1)
    (tmp_path / "0002_trace_context.sql").write_text(
        (MIGRATIONS / "0002_trace_context.sql").read_text()
    )
    await apply_migrations(conn, database, tmp_path)  # release 0.1: no runtime migrations
    hook = {"email": None, "webhook": "http://127.0.0.1:9/hooks/p-1", "slack_webhook": None}
    await conn.executemany(
        f'INSERT INTO "{database}".recipients (person_id, subject_id, timezone, channels, active)'
        " VALUES ($1, $2, $3, $4::text::jsonb, $5)",
        [
            ("p-1", "subject-1", "Europe/London", json.dumps(hook), True),
            ("p-2", "subject-2", "UTC", json.dumps({"email": "p-2@example.org"}), False),
        ],
    )

    reminder = {"id": "d-1", "kind": "checkin_reminder", "template": "checkin_reminder"}
    old_rows = [
        # Delivered to a subject: the row recorded the person it reached (a link).
        ("d-1", {"subject_id": "subject-1"}, "p-1", "delivered", None),
        # A request naming both (recognition did): it keeps the person id only.
        ("d-2", {"person_id": "p-1", "subject_id": "subject-1"}, None, "pending", "http_503"),
        ("d-3", {"person_id": "p-2"}, None, "pending", "transport:ConnectError"),
        ("d-4", {"person_id": "p-2"}, "p-2", "failed", "smtp:SMTPRecipientsRefused"),
    ]
    await conn.executemany(
        f'INSERT INTO "{database}".deliveries (id, kind, critical, request, next_attempt_at,'
        " person_id, status, last_error) VALUES ($1, 'checkin_reminder', false,"
        " $2::text::jsonb, now(), $3, $4, $5)",
        [
            (id_, json.dumps(reminder | {"id": id_, "recipient": to}), person, status, error)
            for id_, to, person, status, error in old_rows
        ],
    )

    later = [  # a follow-up reminder is care; a celebration is held to the daily limit
        ("f-1", "checkin_reminder", {"purpose": "follow_up"}),
        ("o-1", "checkin_reminder", {"purpose": "overdue"}),
        ("c-1", "celebration", {"text": "Well done"}),
    ]
    await conn.executemany(
        f'INSERT INTO "{database}".deliveries (id, kind, critical, request, next_attempt_at,'
        " person_id, status) VALUES ($1, $2, false, $3::text::jsonb, now(), 'p-1', 'delivered')",
        [
            (id_, kind, json.dumps(reminder | {"id": id_, "kind": kind, "params": params}))
            for id_, kind, params in later
        ],
    )

    link = "http://127.0.0.1:8002/v1/alerts/a-1/acknowledge"
    alert = {
        "alert_id": "a-1",
        "case_id": "k-1",
        "severity": "critical",
        "step": 1,
        "reason": "r",
        "opened_at": "2026-11-24T10:00:00Z",
        "ack_url": f"{link}?token=v1.9.abc",
    }
    await conn.executemany(
        f'INSERT INTO "{database}".deliveries (id, kind, critical, request, next_attempt_at,'
        " person_id, status) VALUES ($1, 'alert', true, $2::text::jsonb, now(), 'p-1', $3)",
        [
            (id_, json.dumps(reminder | {"id": id_, "kind": "alert", "alert": alert}), status)
            for id_, status in (("a-sent", "delivered"), ("a-pending", "pending"))
        ],
    )

    applied = await migrate_schema(conn, database, MIGRATIONS)

    assert "0003_directory_people.sql" in applied
    assert "0004_pseudonyms.sql" in applied
    assert "0005_care_messages.sql" in applied
    assert "0001_notifications.sql" not in applied  # accepted as amended, not applied again
    assert "recipients" not in await tables(conn, database)
    rows = await conn.fetch(
        f'SELECT person_id, team_id, timezone, roles, active, subject_id FROM "{database}"'
        ".directory_people ORDER BY person_id"
    )
    assert [tuple(row) for row in rows] == [  # the people stay; their subject ids do not
        ("p-1", "", "Europe/London", [], True, None),
        ("p-2", "", "UTC", [], False, None),
    ]
    deliveries = await conn.fetch(
        f"SELECT id, person_id, subject_id, last_error, request->'recipient' AS recipient,"
        f" waits FROM \"{database}\".deliveries WHERE id LIKE 'd-%' ORDER BY id"
    )
    assert [
        (r["id"], r["person_id"], r["subject_id"], r["last_error"], json.loads(r["recipient"]))
        for r in deliveries
    ] == [
        ("d-1", None, "subject-1", None, {"subject_id": "subject-1"}),
        ("d-2", "p-1", None, "rejected_by_receiver", {"person_id": "p-1"}),
        ("d-3", "p-2", None, "failed", {"person_id": "p-2"}),
        ("d-4", "p-2", None, "failed", {"person_id": "p-2"}),
    ]
    assert {r["waits"] for r in deliveries} == {0}
    limited = await conn.fetch(
        f'SELECT id FROM "{database}".deliveries WHERE limited ORDER BY id'
    )  # plain reminders count against the daily limit; critical alerts never did
    assert [r["id"] for r in limited] == ["c-1", "d-1", "d-2", "d-3", "d-4", "o-1"]
    links = await conn.fetch(
        f"SELECT id, request->'alert'->>'ack_url' AS link FROM \"{database}\".deliveries"
        " WHERE kind = 'alert' ORDER BY id"
    )
    # A sent alert keeps no usable token; a pending one still needs its old link.
    assert [(r["id"], r["link"]) for r in links] == [
        ("a-pending", f"{link}?token=v1.9.abc"),
        ("a-sent", link),
    ]
    pool = await asyncpg.create_pool(
        endpoints.database_url, min_size=1, max_size=1, server_settings={"search_path": database}
    )
    try:
        async with PostgresNotificationsUnitOfWork(pool, DirectoryProjection()) as uow:
            found = await uow.reachable("p-1")
            inactive = await uow.reachable("p-2")
    finally:
        await pool.close()
    assert found is not None
    assert (found.person_id, found.timezone, found.active) == ("p-1", "Europe/London", True)
    assert found.channels == Channels(webhook="http://127.0.0.1:9/hooks/p-1")
    assert inactive is not None and not inactive.active
    assert await migrate_schema(conn, database, MIGRATIONS) == []


async def test_a_new_schema_never_has_a_recipients_table(
    conn: asyncpg.Connection, database: str
) -> None:
    applied = await migrate_schema(conn, database, MIGRATIONS)
    own = sorted(path.name for path in MIGRATIONS.glob("*.sql"))
    assert applied[-len(own) :] == own
    found = await tables(conn, database)
    assert {"deliveries", "preferences", "directory_people", "outbox"} <= found
    assert "recipients" not in found

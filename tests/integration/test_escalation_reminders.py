"""Overdue-check-in reminders over the real PostgreSQL and Kafka: the adapter arms many
reminder timers in one statement (created, or moved and armed again); a recorded check-in
whose period has passed brings exactly one signed ``checkin_reminder`` (purpose overdue) on
``notifications.requests``, addressed to the subject id."""

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, request_signed
from kinship_contracts.notifications import NotificationRequest
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.reminders import reminder_request_id
from kinship_escalation.domain.timers import checkin_reminder, checkin_reminder_id
from kinship_runtime.directory import DirectoryProjection
from tests.escalation_support import STAFF, SUBJECTS, Escalation, recorded, seed_directory
from tests.kafka_reading import publish, read_all

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
WEEK = timedelta(days=7)


def last(checkin_id: str, at: datetime = NOW) -> CheckinObservation:
    return CheckinObservation(checkin_id, at)


async def test_rearm_creates_or_moves_many_reminders_in_one_statement(
    escalation_pool: asyncpg.Pool,
) -> None:
    uow = PostgresEscalationUnitOfWork(escalation_pool, DirectoryProjection())
    async with uow:
        await uow.timers.rearm([])  # nothing to do: no statement
        await uow.timers.rearm(
            [
                checkin_reminder("s-1", last("c-1"), 1, NOW + WEEK),
                checkin_reminder("s-2", last("d-1"), 1, NOW),
            ]
        )
    async with uow:
        (fired,) = await uow.timers.claim_due(NOW, 10)  # s-2's: fired, its row kept
        assert fired.id == checkin_reminder_id("s-2")
    async with uow:
        await uow.timers.rearm(
            [
                checkin_reminder("s-2", last("d-2", NOW + WEEK), 1, NOW + 2 * WEEK),
                checkin_reminder("s-3", last("e-1"), 1, NOW),
                checkin_reminder("s-3", last("e-2"), 1, NOW + WEEK),  # the last of an id wins
            ]
        )
        rows = await uow.conn.fetch(
            "SELECT id, kind, due_at, subject_id, payload, fired_at FROM timers ORDER BY id"
        )
    assert [(r["id"], r["kind"], r["due_at"], r["subject_id"], r["fired_at"]) for r in rows] == [
        (checkin_reminder_id("s-1"), "checkin_reminder", NOW + WEEK, "s-1", None),
        # Fired, then moved by a newer check-in: armed again.
        (checkin_reminder_id("s-2"), "checkin_reminder", NOW + 2 * WEEK, "s-2", None),
        (checkin_reminder_id("s-3"), "checkin_reminder", NOW + WEEK, "s-3", None),
    ]
    payloads = [r["payload"] for r in rows]
    assert [(p["last_checkin"], p["number"]) for p in payloads] == [
        ("c-1", 1),
        ("d-2", 1),
        ("e-2", 1),
    ]
    assert payloads[1]["last_at"] == (NOW + WEEK).isoformat()


async def test_an_overdue_checkin_brings_one_signed_reminder_to_the_subject(
    escalation: Escalation,
) -> None:
    """A check-in a week and a minute old when it is recorded: its reminder is due at once,
    the timer worker fires it, and the next one waits a week."""
    await seed_directory(escalation, STAFF)
    subject_id = SUBJECTS.subject_id("worker-1")
    at = datetime.now(UTC).replace(microsecond=0) - WEEK - timedelta(minutes=1)
    servers = escalation.endpoints.bootstrap_servers
    await publish(
        servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [recorded("c-old", "worker-1", at, mood=4)],
    )
    timer = checkin_reminder_id(subject_id)
    armed_again = (
        "SELECT count(*) FROM timers WHERE kind = 'checkin_reminder'"
        " AND payload->>'number' = '2' AND fired_at IS NULL"
    )
    assert await escalation.wait_for(armed_again, 1) == 1
    records = await read_all(servers, escalation.topic("notifications.requests"), expect=1)
    reminders = [r for r in records if json.loads(r.value)["kind"] == "checkin_reminder"]
    assert len(reminders) == 1, [json.loads(r.value)["kind"] for r in records]
    (record,) = reminders
    key = escalation.settings.request_signature_key()
    assert request_signed(
        key, record.value, dict(record.headers)[REQUEST_SIGNATURE_HEADER].decode()
    )
    request = NotificationRequest.model_validate_json(record.value)
    assert record.key == subject_id.encode()
    assert request.id == reminder_request_id(subject_id, "c-old", 1)
    assert request.recipient.subject_id == subject_id and request.recipient.person_id is None
    assert request.params == {"purpose": "overdue", "last_checkin_at": at.isoformat()}
    assert request.limited
    (row,) = await escalation.rows("SELECT due_at, fired_at FROM timers WHERE id = $1", timer)
    assert row["fired_at"] is None and row["due_at"] > datetime.now(UTC) + WEEK - timedelta(
        minutes=1
    )

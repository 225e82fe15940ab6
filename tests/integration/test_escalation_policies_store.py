"""Escalation policies in a real PostgreSQL: rows written in the form policies had before
per-team policies (one text ``target`` per step), in the ``policies`` table and in an open
case's copy, still load, route, and are found and rewritten by an erasure."""

import json

import asyncpg
import pytest

from kinship_contracts.cases import Severity
from kinship_contracts.privacy import ErasureRequested
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.policies import (
    CoordinatorsTarget,
    OnCallRotation,
    PeopleTarget,
    ScheduleTarget,
)
from kinship_escalation.handlers.configuration import policy_for
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_people
from kinship_runtime.directory import DirectoryProjection
from tests.unit.escalation.conftest import NOW, STAFF, Clock, checkin, context, subject
from tests.unit.fakes.escalation import FakeVault

pytestmark = pytest.mark.integration

OLD_POLICY = {
    "name": "default",
    "steps": [
        {"target": "rotation:weekday", "timeout_seconds": 300, "repeat": 2},
        {"target": "person:resp-b", "timeout_seconds": 600, "repeat": 1},
    ],
    "contact_timeout_seconds": 1800,
}
"""A default policy as stored before per-team policies (no urgency or reminder settings)."""


@pytest.fixture
def pool(escalation_pool: asyncpg.Pool) -> asyncpg.Pool:
    return escalation_pool


async def test_an_old_form_policy_row_and_case_copy_load_route_and_are_erased(
    pool: asyncpg.Pool,
) -> None:
    ctx = context(Clock(), vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO policies (name, body) VALUES ('default', $1::text::jsonb)",
            json.dumps(OLD_POLICY),
        )
    async with uow:
        await uow.directory.apply(STAFF)
        rotation = OnCallRotation(name="weekday", members=["resp-a", "resp-b"], starts_at=NOW)
        await uow.on_call.save_rotation(rotation)
        loaded = await uow.on_call.policy()
        assert loaded is not None and loaded == (await uow.on_call.policies())[0]
        assert [(s.targets, s.repeat) for s in loaded.steps] == [
            ((ScheduleTarget(schedule="weekday"),), 2),
            ((PeopleTarget(people=("resp-b",)),), 1),
            ((CoordinatorsTarget(),), 1),
        ]
        assert (loaded.contact_timeout_seconds, loaded.unanswered_interval_seconds) == (1800, 900)
        assert await policy_for("team-x", Severity.HIGH, uow, ctx) == loaded

        # A case opened now follows it: the rotation's member on call is alerted.
        await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], uow, ctx)
    (row,) = await pool.fetch("SELECT id, policy FROM cases")
    new_copy_id = row["id"]
    assert row["policy"]["steps"][0]["targets"] == [{"kind": "schedule", "schedule": "weekday"}]
    (alert,) = await pool.fetch("SELECT recipient_id FROM alerts")
    assert alert["recipient_id"] == "resp-a"

    # Another case whose stored copy is in the old form (written before the upgrade).
    async with uow:
        await handle_checkins(
            [checkin("c-2", "worker-2", team="team-y", wants_contact=True)], uow, ctx
        )
    old_copy_id = next(
        r["id"] for r in await pool.fetch("SELECT id FROM cases") if r["id"] != new_copy_id
    )
    await pool.execute(
        "UPDATE cases SET policy = $2::text::jsonb WHERE id = $1",
        old_copy_id,
        json.dumps(OLD_POLICY),
    )
    async with uow:
        stored = await uow.cases.get(old_copy_id)
        assert stored is not None and stored.policy == loaded
        found = sorted(s.case.id for s in await uow.cases.following_person("resp-b"))
        assert found == sorted([new_copy_id, old_copy_id])
        assert await uow.cases.following_person("resp-c") == []

        request = ErasureRequested(id="e-1", person_id="resp-b", requested_at=NOW, source="hr")
        await erase_people([request], uow, ctx)
    expected = [
        [{"kind": "schedule", "schedule": "weekday"}],
        [{"kind": "coordinators"}],
        [{"kind": "coordinators"}],
    ]
    for row in await pool.fetch("SELECT policy FROM cases"):
        assert [s["targets"] for s in row["policy"]["steps"]] == expected
    (body,) = await pool.fetch("SELECT body FROM policies")
    assert [s["targets"] for s in body["body"]["steps"]] == expected
    assert "resp-b" not in json.dumps(body["body"])

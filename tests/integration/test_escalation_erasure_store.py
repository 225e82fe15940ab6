"""The escalation adapter's erasure statements against a real PostgreSQL, driven by the real
handlers: after both halves a ``pg_dump`` of the schema holds neither the person's id nor
their subject id (their case's subject is a random stand-in), feedback is kept for the
programme's measures, another person's case is intact, and the receipt is queued once."""

import json
from datetime import timedelta

import asyncpg
import pytest

from kinship_contracts.cases import CaseOutcome
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.policies import OnCallRotation
from kinship_escalation.domain.programme import FactKind
from kinship_escalation.handlers.cases import acknowledge, list_cases, resolve
from kinship_escalation.handlers.configuration import save_default_policy
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.erasure import erase_people, erase_subject_sets
from kinship_escalation.handlers.feedback import give_feedback
from kinship_escalation.handlers.signals import handle_signals
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints
from tests.escalation_support import mentions, pg_dump
from tests.unit.escalation.conftest import (
    CRITICAL_PHQ9,
    NOW,
    RECEIPTS,
    STAFF,
    Clock,
    checkin,
    context,
    person,
    policy,
    signal,
    subject,
)
from tests.unit.fakes.escalation import FakeVault

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(escalation_pool: asyncpg.Pool) -> asyncpg.Pool:
    return escalation_pool


async def test_both_halves_leave_nothing_that_names_the_person_or_their_subject(
    pool: asyncpg.Pool, endpoints: Endpoints, database: str
) -> None:
    clock = Clock()
    ctx = context(clock, vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    # resp-c: a responder (rotation, policy, cases handled and held, rest) and, in the end,
    # the subject of a case of their own.
    async with uow:
        await uow.directory.apply([*STAFF, person("resp-c", "team-t", "peer_responder")])
        await uow.on_call.save_rotation(
            OnCallRotation(name="day", members=["resp-c", "resp-a"], starts_at=NOW)
        )
        await save_default_policy(policy(("person:resp-c", 60), ("responders", 60)), uow)
        await handle_checkins([checkin("c-1", "worker-1", phq9=CRITICAL_PHQ9)], uow, ctx)
    async with uow:
        (handled,) = [row["id"] for row in await uow.conn.fetch("SELECT id FROM cases")]
        await acknowledge(handled, "resp-c", uow, ctx)
        await resolve(handled, "resp-c", CaseOutcome.SUPPORTED, uow, ctx)
        await give_feedback(handled, "responder", 4, "resp-c", uow, ctx)
        await handle_checkins([checkin("c-2", "worker-2", wants_contact=True)], uow, ctx)
    async with uow:
        held = await uow.conn.fetchval("SELECT id FROM cases WHERE id <> $1", handled)
        await acknowledge(held, "resp-c", uow, ctx)
        await list_cases("resp-c", False, "resp-c", uow)
        clock.advance(hours=1)
        await handle_checkins([checkin("c-3", "resp-c", clock.now, phq9=CRITICAL_PHQ9)], uow, ctx)
        overtime = SignalSubmitted.model_validate(
            signal("sig-2", clock.now, person_id="resp-c").model_dump() | {"kind": "overtime"}
        )
        await handle_signals([signal("sig-1", clock.now, person_id="resp-c"), overtime], uow, ctx)
        theirs = await uow.conn.fetchval(
            "SELECT id FROM cases WHERE subject_id = $1", subject("resp-c")
        )
        # Feedback on their case (as if given on an earlier resolution): erasure keeps it.
        await uow.conn.execute(
            "INSERT INTO feedback (case_id, given_by, score, at) VALUES ($1, 'person', 2, $2)",
            theirs,
            clock.now,
        )
        for ref in ("resp-c", subject("resp-c"), "resp-a"):  # dead letters naming people
            await uow.conn.execute(
                "INSERT INTO dead_letter_keys (key_id, wrapped_key, expires_at)"
                " VALUES ($1, 'k', now() + interval '1 day')",
                f"dlk-{ref}",
            )
            await uow.conn.execute(
                "INSERT INTO dead_letter_key_people VALUES ($1, $2)", f"dlk-{ref}", ref
            )
    before = await pg_dump(endpoints, database)
    assert mentions(before, "resp-c") and mentions(before, subject("resp-c"))

    request = ErasureRequested(id="er-1", person_id="resp-c", requested_at=NOW, source="hr")
    subjects = SubjectsErased(
        id="er-1:subjects", erasure_id="er-1", subject_ids=[subject("resp-c")], occurred_at=NOW
    )
    async with uow:
        await erase_people([request], uow, ctx)
    async with uow:
        await erase_subject_sets([subjects, subjects], uow, ctx)
    async with uow:  # replays change nothing
        await erase_people([request], uow, ctx)
        await erase_subject_sets([subjects], uow, ctx)
        await uow.conn.execute(
            "DELETE FROM outbox WHERE topic <> $1", RECEIPTS
        )  # the relay sent the rest

    dump = await pg_dump(endpoints, database)
    assert not mentions(dump, "resp-c")
    assert not mentions(dump, subject("resp-c"))
    assert mentions(dump, subject("worker-1")) and mentions(dump, "resp-a")  # others kept

    async with uow:
        cases = {
            row["id"]: row
            for row in await uow.conn.fetch(
                "SELECT id, subject_id, status, outcome, responder_id, team_id FROM cases"
            )
        }
        receipts = await uow.conn.fetch("SELECT value FROM outbox WHERE topic = $1", RECEIPTS)
        dead = await uow.conn.fetch("SELECT key_id FROM dead_letter_keys ORDER BY key_id")
        timers = await uow.conn.fetch("SELECT id, case_id, subject_id FROM timers")
        explained = await uow.conn.fetch("SELECT DISTINCT case_id FROM case_evidence")
        signals_kept = await uow.conn.fetchval("SELECT count(*) FROM signal_observations")
    stand_in = cases[theirs]["subject_id"]
    assert (stand_in.startswith("erased:"), cases[theirs]["status"]) == (True, "resolved")
    assert cases[theirs]["team_id"] is None
    # Feedback stays for the programme's measures, on their case too (now under the
    # stand-in): erasure anonymises what the measures count, never deletes it.
    async with uow:
        kept = await uow.conn.fetch("SELECT case_id, given_by, score FROM feedback")
        facts = await uow.cases.programme_facts(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert sorted(tuple(row) for row in kept) == sorted(
        [(handled, "responder", 4), (theirs, "person", 2)]
    )
    assert (FactKind.FEEDBACK, stand_in, 2) in {(f.kind, f.subject, f.score) for f in facts}
    assert (cases[handled]["subject_id"], cases[handled]["outcome"]) == (
        subject("worker-1"),
        "supported",
    )
    assert cases[handled]["responder_id"] is None  # handled by someone who is gone
    assert cases[held]["status"] == "assigned"  # back to its policy, someone else alerted
    assert cases[held]["responder_id"] in ("resp-a", "resp-b")
    assert [row["key_id"] for row in dead] == ["dlk-resp-a"]
    assert all(t["case_id"] != theirs and t["subject_id"] != subject("resp-c") for t in timers)
    # Their overdue-check-in reminder went; the others' stay (workers 1 and 2 checked in).
    assert {t["subject_id"] for t in timers} - {None} == {subject("worker-1"), subject("worker-2")}
    # Their case keeps its rules, not what they rested on (check-ins, dates, scores).
    assert {row["case_id"] for row in explained} == {handled, held}
    assert signals_kept == 0
    (receipt,) = [json.loads(row["value"]) for row in receipts]
    assert receipt["removed"]["open_cases_closed"] == 1
    assert (
        receipt["removed"]["dead_letter_keys"],
        receipt["removed"]["subject_dead_letter_keys"],
    ) == (1, 1)

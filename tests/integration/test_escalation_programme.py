"""The escalation service's programme measures over the real database: the adapter's query
buckets each fact by when the service recorded it (first acknowledgement and contact per
case, each resolution with its own outcome, feedback on arrival), closed weeks only."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from kinship_contracts.privacy import SubjectsErased
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.programme import programme_measures
from kinship_escalation.handlers.erasure import erase_subject_sets
from kinship_escalation.handlers.programme import programme_report
from kinship_runtime.directory import DirectoryProjection
from tests.escalation_support import (
    AUTH,
    STAFF,
    Escalation,
    bearer,
    recorded,
    seed_directory,
)
from tests.kafka_reading import publish
from tests.unit.escalation.conftest import NOW, Clock, context, policy, subject
from tests.unit.fakes.escalation import FakeVault

pytestmark = pytest.mark.integration

_CASE = (
    "INSERT INTO cases (id, subject_id, status, severity, rules, observation_ids, step,"
    " attempt, opened_at, contacted_at, resolved_at, outcome, sequence, policy)"
    " VALUES ($1, $2, 'resolved', 'high', '{}', '{}', 1, 1, $3, $4, $5, $6, 1, '{}')"
)
_AUDIT = (
    "INSERT INTO case_audit (case_id, case_ids, subject_ids, action, actor, at, outcome)"
    " VALUES ($1, ARRAY[$1], ARRAY[$2], $3, 'person:resp-a', $4, $5)"
)

POLICY = policy(("responders", 60)).model_dump_json()


async def measures(service: Escalation, weeks: int) -> dict[str, Any]:
    answer = await service.client.get(
        "/v1/metrics/programme", params={"weeks": str(weeks)}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


async def test_each_fact_counts_once_in_the_week_it_was_recorded(escalation: Escalation) -> None:
    now = datetime.now(UTC)
    closing = now - timedelta(hours=1)  # a week is published an hour after it ends
    this_monday = datetime.combine(closing.date() - timedelta(days=closing.weekday()), time(), UTC)
    week = this_monday - timedelta(weeks=2)
    day = week + timedelta(days=2, hours=10)
    later = week + timedelta(weeks=1, days=1)  # the next (closed) week
    for n in range(6):
        case_id, subject = f"p-{n}", f"subject-{n}"
        contacted = day + timedelta(seconds=600 * (n + 1)) if n < 5 else None
        outcome = "declined" if n == 0 else "supported"
        await escalation.rows(_CASE, case_id, subject, day, contacted, day, outcome)
        if n == 5:
            continue  # opened, never acknowledged
        first_ack = day + timedelta(seconds=60 * (n + 1))
        await escalation.rows(_AUDIT, case_id, subject, "acknowledged", first_ack, None)
        # A second acknowledgement (after a missed contact) counts nowhere.
        await escalation.rows(_AUDIT, case_id, subject, "acknowledged", later, None)
        await escalation.rows(_AUDIT, case_id, subject, "contacted", day + timedelta(hours=2), None)
        await escalation.rows(
            _AUDIT, case_id, subject, "resolved", day + timedelta(hours=3), "supported"
        )
        await escalation.rows(
            "INSERT INTO feedback (case_id, given_by, score, at) VALUES ($1, 'person', $2, $3)",
            case_id,
            n + 1,
            day + timedelta(hours=4),
        )
    # p-0 was reopened and resolved again, declined, this week: its first resolution stays.
    await escalation.rows(_AUDIT, "p-0", "subject-0", "resolved", now, "declined")
    await escalation.rows(_CASE, "p-open", "subject-9", now, None, None, None)

    found = await measures(escalation, 3)
    assert found["end"] == this_monday.date().isoformat()
    assert [w["week"] for w in found["weeks"]][-2:] == [
        week.date().isoformat(),
        (week + timedelta(weeks=1)).date().isoformat(),
    ]
    shown, following = found["weeks"][-2:]
    assert shown["cases_opened"] == 6
    assert shown["acknowledged"] == 5
    assert shown["time_to_acknowledge_seconds"] == {"median": 180.0, "p90": 276.0}
    assert shown["time_to_first_contact_seconds"] == {"median": 1800.0, "p90": 2760.0}
    assert shown["outcomes"]["supported"] == 5
    assert shown["outcomes"]["declined"] == "withheld"
    assert shown["feedback"] == {
        "person": {"count": 5, "mean_score": 3.0},
        "responder": "withheld",
    }
    assert following["acknowledged"] == "withheld"  # the second acknowledgements
    assert following["cases_opened"] == "withheld"


async def test_a_resolution_recorded_over_http_keeps_its_outcome(escalation: Escalation) -> None:
    """The write side: the 'resolved' audit record carries the outcome (migration 0010), and
    the week in progress is in no figure."""
    await seed_directory(escalation, STAFF)
    topic = escalation.topic("wellbeing.checkins.recorded")
    message = recorded("c-1", "worker-1", datetime.now(UTC), wants_contact=True, mood=3)
    await publish(escalation.endpoints.bootstrap_servers, topic, [message])
    assert await escalation.wait_for("SELECT count(*) FROM alerts", 1) == 1
    case = (await escalation.rows("SELECT id, responder_id FROM cases"))[0]
    who = bearer(case["responder_id"], "peer_responder")
    for action in ("acknowledge", "contact"):
        done = await escalation.client.post(f"/v1/cases/{case['id']}/{action}", headers=who)
        assert done.status_code == 200, done.text
    resolved = await escalation.client.post(
        f"/v1/cases/{case['id']}/resolve", json={"outcome": "supported"}, headers=who
    )
    assert resolved.status_code == 200, resolved.text
    audit = await escalation.rows(
        "SELECT action, outcome FROM case_audit WHERE case_id = $1 AND action = 'resolved'",
        case["id"],
    )
    assert [(r["action"], r["outcome"]) for r in audit] == [("resolved", "supported")]
    found = await measures(escalation, 52)
    assert len(found["weeks"]) == 52
    assert all(w["cases_opened"] == "withheld" for w in found["weeks"])
    refused = await escalation.client.get(
        "/v1/metrics/programme", headers=bearer("resp-a", "peer_responder")
    )
    assert refused.status_code == 403


async def test_a_week_once_served_is_unchanged_by_an_erasure(escalation_pool: asyncpg.Pool) -> None:
    """The adapter stores a closed week's released figures when first served (migration 0011)
    and serves them ever after, and erasure anonymises one person's cases and keeps their
    feedback: reading before and after it, or recomputing after it, gives the same figures,
    so nothing can be subtracted; the stored rows hold no id."""
    clock = Clock()
    ctx = context(clock, vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(escalation_pool, DirectoryProjection())
    monday = datetime.combine(NOW.date() - timedelta(days=NOW.weekday()), time(), UTC)
    day = monday + timedelta(days=1, hours=10)
    async with uow:
        for n in range(1, 7):
            case_id, person_id = f"f-{n}", f"worker-{n}"
            await uow.conn.execute(
                _CASE.replace("'{}')", "$7::text::jsonb)"),
                case_id,
                subject(person_id),
                day,
                day,
                day,
                "supported",
                POLICY,
            )
            await uow.conn.execute(
                "INSERT INTO feedback (case_id, given_by, score, at) VALUES ($1, 'person', $2, $3)",
                case_id,
                1 if n == 6 else 5,
                day + timedelta(hours=n),
            )
    now = monday + timedelta(weeks=2, days=1)
    async with uow:
        before = await programme_report(uow, 3, now)
    (week,) = [w for w in before.weeks if w.week == monday.date()]
    assert week.model_dump()["feedback"]["person"] == {"count": 6, "mean_score": 4.33}

    erased = SubjectsErased(
        id="er-1:subjects", erasure_id="er-1", subject_ids=[subject("worker-6")], occurred_at=now
    )
    async with uow:
        await erase_subject_sets([erased], uow, ctx)
        left = await uow.conn.fetchval("SELECT count(*) FROM feedback")
        stand_in = await uow.conn.fetchval("SELECT subject_id FROM cases WHERE id = 'f-6'")
        stored = await uow.conn.fetch("SELECT figures::text AS figures FROM programme_weeks")
    # The erased person's feedback stays, their case under a stand-in subject ...
    assert left == 6 and stand_in.startswith("erased:") and subject("worker-6") not in stand_in
    async with uow:
        after = await programme_report(uow, 3, now)
    assert after == before  # ... and the week is as first served
    assert len(stored) == 3
    assert not any("worker" in row["figures"] or "f-" in row["figures"] for row in stored)
    async with uow:  # ... and as a first computation after the erasure would give it
        facts = await uow.cases.programme_facts(monday, now)
    assert programme_measures(facts, now, 3) == before

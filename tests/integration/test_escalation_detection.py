"""Detection against the real broker and database: a backfilled history in one batch still
detects withdrawal; cases keep their explanation (rules version, thresholds, observations)
in PostgreSQL and publish the rules version; load signals open a case and explain it."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.domain.timers import missed_checkins_id
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.signals import handle_signals
from kinship_runtime.directory import DirectoryProjection
from tests.escalation_support import (
    STAFF,
    SUBJECTS,
    Escalation,
    Starter,
    checkin_vault,
    recorded,
    recorded_event,
    seed_directory,
)
from tests.kafka_reading import encode, publish
from tests.unit.escalation.conftest import NOW, Clock, checkin, context, subject
from tests.unit.escalation.conftest import STAFF as STAFF_CHANGES
from tests.unit.fakes.escalation import FakeVault

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(escalation_pool: asyncpg.Pool) -> asyncpg.Pool:
    return escalation_pool


async def test_the_store_keeps_a_cases_explanation_as_evidence_accumulates(
    pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    ctx = context(clock, vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    async with uow:
        await uow.directory.apply(STAFF_CHANGES)
        await handle_checkins([checkin("c-1", mood=3, who5=[2, 2, 2, 2, 2])], uow, ctx)
    async with uow:
        later = clock.advance(days=1)
        await handle_checkins([checkin("c-2", at=later, mood=3, who5=[1, 1, 1, 1, 1])], uow, ctx)
        # The same check-in judged again (the other lane) adds nothing.
        await handle_checkins([checkin("c-2", at=later, mood=3, who5=[1, 1, 1, 1, 1])], uow, ctx)
    async with uow:
        case_id = await uow.conn.fetchval("SELECT id FROM cases")
        version = await uow.conn.fetchval("SELECT rules_version FROM cases")
        explanation = await uow.evidence.explain(case_id)
        assert await uow.evidence.explain("no-such-case") is None
    assert version == ctx.rules.version
    assert explanation is not None
    assert explanation.rules_version == ctx.rules.version
    (poor,) = explanation.rules
    assert (poor.rule, poor.severity.value) == ("poor_wellbeing", "high")
    assert [(o.checkin_id, o.at, o.scores) for o in poor.observations] == [
        ("c-1", NOW, {"who5_raw": 10}),
        ("c-2", later, {"who5_raw": 5}),
    ]
    assert [(t.setting, t.condition) for t in poor.thresholds] == [
        ("who5_poor_below", "who5_raw < 13"),
        ("who5_high_at_or_below", "who5_raw <= 7"),
    ]
    assert "Topp" in poor.thresholds[0].source
    assert (poor.first_fired_at, poor.last_fired_at) == (NOW, later)


async def test_load_signals_are_kept_by_subject_without_their_ids_and_explain_the_case(
    pool: asyncpg.Pool,
) -> None:
    clock = Clock()
    ctx = context(clock, vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    overtime = {
        "kind": "overtime",
        "severity": 2,
        "source": "rota",
        "person_id": "worker-1",
    }
    signals = [
        SignalSubmitted.model_validate(
            {**overtime, "id": f"ot-{n}", "occurred_at": (NOW - timedelta(days=n)).isoformat()}
        )
        for n in (1, 5)
    ]
    async with uow:
        await uow.directory.apply(STAFF_CHANGES)
        await handle_checkins([checkin("c-1", at=NOW - timedelta(days=2), mood=2)], uow, ctx)
        await handle_signals(signals, uow, ctx)
    async with uow:
        kept = await uow.conn.fetch("SELECT * FROM signal_observations ORDER BY at")
        case_id = await uow.conn.fetchval("SELECT id FROM cases")
        explanation = await uow.evidence.explain(case_id)
    assert [(r["subject_id"], r["kind"], r["severity"]) for r in kept] == [
        (subject("worker-1"), "overtime", 2),
        (subject("worker-1"), "overtime", 2),
    ]
    assert not any("ot-" in str(value) for row in kept for value in row.values())
    assert explanation is not None
    (load,) = explanation.rules
    assert load.rule == "sustained_load"
    assert [(o.checkin_id, o.signal_kind, o.scores) for o in load.observations] == [
        (None, "overtime", {"severity": 2}),
        ("c-1", None, {"mood": 2}),
        (None, "overtime", {"severity": 2}),
    ]


async def test_a_checkin_and_signals_about_one_person_at_once_are_judged_one_after_the_other(
    pool: asyncpg.Pool,
) -> None:
    """The check-ins consumer and the signals consumer run at once: without the subject's
    detection lock each would miss what the other had not committed yet, and neither would
    see the low reading under sustained load."""
    ctx = context(Clock(), vault=FakeVault(subject))
    setup = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    async with setup:
        await setup.directory.apply(STAFF_CHANGES)
    signals = [
        SignalSubmitted.model_validate(
            {
                "id": f"ot-{n}",
                "kind": "overtime",
                "severity": 2,
                "source": "rota",
                "person_id": "worker-1",
                "occurred_at": (NOW - timedelta(days=n)).isoformat(),
            }
        )
        for n in (1, 5)
    ]
    checkins = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    signalled = PostgresEscalationUnitOfWork(pool, DirectoryProjection())

    async def signals_meanwhile() -> None:
        async with signalled:
            await handle_signals(signals, signalled, ctx)

    async with checkins:
        await handle_checkins([checkin("c-1", at=NOW - timedelta(days=2), mood=2)], checkins, ctx)
        meanwhile = asyncio.create_task(signals_meanwhile())
        await asyncio.sleep(0.5)
        assert not meanwhile.done()  # it waits for this unit of work's subject lock
    await asyncio.wait_for(meanwhile, timeout=10)
    async with setup:
        rules = await setup.conn.fetch("SELECT rules FROM cases")
    assert [list(row["rules"]) for row in rules] == [["sustained_load"]]


async def test_a_whole_history_handled_as_one_batch_keeps_the_withdrawal_watch(
    pool: asyncpg.Pool,
) -> None:
    ctx = context(Clock(), vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    history = [
        checkin(f"c-{i}", "w-1", NOW + timedelta(days=i), mood=m)
        for i, m in enumerate([4, 4, 4, 2, 2])
    ]
    async with uow:
        await uow.directory.apply(STAFF_CHANGES)
        await handle_checkins(history, uow, ctx)
    async with uow:
        row = await uow.conn.fetchrow(
            "SELECT due_at, payload FROM timers WHERE id = $1", missed_checkins_id(subject("w-1"))
        )
    assert row is not None
    assert (row["due_at"], row["payload"]["last_checkin"]) == (NOW + timedelta(days=6), "c-4")


def kinds_of(events: list[dict[str, object]], case_id: str) -> list[object]:
    return [e["kind"] for e in events if e.get("case_id") == case_id]


async def test_a_backfilled_history_in_one_batch_is_detected_as_withdrawal(
    start_escalation: Starter,
) -> None:
    """A backfill: the history is on the topic before the service starts, so its first poll
    takes it whole; the silence after its low trend has already lasted long enough."""
    now = datetime.now(UTC).replace(microsecond=0)
    moods = [4, 4, 4, 4, 2, 2]  # daily, then low twice: a low trend, then three days' silence
    history = [
        recorded(f"b-{day}", "worker-7", now - timedelta(days=3 + len(moods) - 1 - day), mood=m)
        for day, m in enumerate(moods)
    ]
    watch = missed_checkins_id(SUBJECTS.subject_id("worker-7"))
    async with start_escalation() as first:  # creates the topics and the schema
        await seed_directory(first, STAFF)
        topic = first.topic("wellbeing.checkins.recorded")
    await publish(first.endpoints.bootstrap_servers, topic, history)
    async with start_escalation() as service:
        assert await service.wait_for("SELECT count(*) FROM cases", 1, timeout=20) == 1
        (case,) = await service.rows("SELECT id, severity, rules, observation_ids FROM cases")
        (timer,) = await service.rows(
            "SELECT due_at, payload, fired_at FROM timers WHERE id = $1", watch
        )
        evidence = await service.rows(
            "SELECT rule, ref, scores, rules_version FROM case_evidence ORDER BY seq"
        )
        events = await service.messages("escalation.cases", expect=2)
    assert (case["severity"], list(case["rules"])) == ("medium", ["withdrawal"])
    assert list(case["observation_ids"]) == ["b-4", "b-5"]
    # The watch the newest check-in set survived the batch (a daily habit: due two days
    # after it) and fired.
    assert json.loads(timer["payload"])["last_checkin"] == "b-5"
    assert timer["due_at"] == now - timedelta(days=3) + timedelta(days=2)
    assert timer["fired_at"] is not None
    assert [(e["rule"], e["ref"], json.loads(e["scores"])) for e in evidence] == [
        ("withdrawal", "b-4", {"mood": 2}),
        ("withdrawal", "b-5", {"mood": 2}),
    ]
    assert {e["rules_version"] for e in evidence} == {DetectionRules().version}
    opened = [e for e in events if e["kind"] == "opened"]
    assert [(e["rules_version"], e["evidence_rules"]) for e in opened] == [
        (DetectionRules().version, ["withdrawal"])
    ]
    assert kinds_of(events, case["id"])[:2] == ["opened", "assigned"]


async def test_overtime_signals_and_a_low_checkin_open_a_load_case_over_the_broker(
    escalation: Escalation,
) -> None:
    """Signals name the person; their subject comes from the check-in service's vault."""
    await seed_directory(escalation, STAFF)
    async with checkin_vault(escalation.settings) as vault:
        subject_id = (await vault.subjects(["worker-1"]))["worker-1"]
    now = datetime.now(UTC).replace(microsecond=0)
    reading = recorded_event("c-low", "worker-1", now - timedelta(days=1), mood=2)
    reading = reading.model_copy(update={"subject_id": subject_id})
    signals = [
        {
            "id": f"ot-{n}",
            "person_id": "worker-1",
            "kind": kind,
            "severity": severity,
            "occurred_at": (now - timedelta(days=n)).isoformat(),
            "source": "rota",
        }
        for n, kind, severity in ((1, "overtime", 1), (4, "overtime", 2), (6, "on_call_load", 3))
    ]
    servers = escalation.endpoints.bootstrap_servers
    await publish(
        servers,
        escalation.topic("wellbeing.signals.submitted"),
        [(b"worker-1", encode(signal)) for signal in signals],
    )
    await publish(
        servers,
        escalation.topic("wellbeing.checkins.recorded"),
        [(subject_id.encode(), reading.model_dump_json().encode())],
    )
    assert await escalation.wait_for("SELECT count(*) FROM cases", 1) == 1
    (case,) = await escalation.rows("SELECT id, subject_id, severity, rules FROM cases")
    assert (case["subject_id"], case["severity"], list(case["rules"])) == (
        subject_id,
        "medium",
        ["sustained_load"],
    )
    assert await escalation.wait_for("SELECT count(*) FROM signal_observations", 3) == 3
    kept = await escalation.rows("SELECT * FROM signal_observations")
    assert {row["subject_id"] for row in kept} == {subject_id}
    assert not any("ot-" in str(value) for row in kept for value in row.values())
    evidence = await escalation.rows(
        "SELECT ref, checkin_id, signal_kind, scores FROM case_evidence WHERE case_id = $1"
        " ORDER BY observed_at",
        case["id"],
    )
    # The severity-1 signal counts for nothing; the others by kind and severity only.
    assert [(e["checkin_id"], e["signal_kind"], json.loads(e["scores"])) for e in evidence] == [
        (None, "on_call_load", {"severity": 3}),
        (None, "overtime", {"severity": 2}),
        ("c-low", None, {"mood": 2}),
    ]


async def test_histories_come_oldest_first_by_time_and_id_in_pythons_order(
    pool: asyncpg.Pool,
) -> None:
    """Detection finds a check-in's history by bisection over what the port returns, so the
    order must be Python's (code points), not the database's collation: "B" < "a" < "b" <
    "é" however the server collates text."""
    clock = Clock()
    ctx = context(clock, vault=FakeVault(subject))
    uow = PostgresEscalationUnitOfWork(pool, DirectoryProjection())
    ids = ["b", "é", "B", "a", "Z-2", "a-1"]
    async with pool.acquire() as conn:  # as a server collating by language would
        await conn.execute('ALTER TABLE observations ALTER COLUMN id TYPE text COLLATE "und-x-icu"')
        icu = await conn.fetch(
            'SELECT id FROM unnest($1::text[]) AS id ORDER BY id COLLATE "und-x-icu"', ids
        )
    assert [r["id"] for r in icu] != sorted(ids)  # so this test can tell the orders apart
    async with uow:
        await handle_checkins([checkin(i, mood=4) for i in ids], uow, ctx)
        await handle_checkins([checkin("later", at=clock.advance(days=1), mood=4)], uow, ctx)
    async with uow:
        found = await uow.observations.histories([subject("worker-1")], NOW - timedelta(days=1))
    history = found[subject("worker-1")]
    assert [o.id for o in history] == [*sorted(ids), "later"]
    assert history == sorted(history, key=lambda o: (o.at, o.id))

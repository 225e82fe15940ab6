"""Signals about an erased person that the escalation service consumes only after the erasure
(a backlog: its signals consumer was down while Erin was erased; then a replay, the consumer
group reset to the start of ``wellbeing.signals.submitted``) are skipped before the vault is
asked, against the real broker and database (the check-in service in-process beside it as the
vault): the vault mints Erin no new subject id and no exposure follow-up is armed for her,
while Bob's signal in the same backlog is acted on, and a signal about Erin produced after her
erasure is a new one and acted on too. Nothing is dead-lettered. And the record's SQL on the
service's schema: person digests (with their time) beside subject digests in one table."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kinship_escalation.adapters.postgres import PostgresEscalationUnitOfWork
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints
from tests.database import schema_pool
from tests.escalation_support import (
    Escalation,
    Services,
    bearer,
    escalation_beside_checkin,
    person,
)
from tests.kafka_reading import encode, publish, read_all, reset_to_start
from tests.recognition_support import consumed_to_end

pytestmark = pytest.mark.integration

ERIN, BOB = "worker-1", "worker-2"
PEOPLE = [
    person("resp-a", "team-r", "peer_responder"),
    person("coord-1", "team-c", "coordinator"),
    person(ERIN, "team-x"),
    person(BOB, "team-x"),
]
FOLLOW_UPS = "SELECT subject_id FROM timers WHERE kind = 'exposure_follow_up' ORDER BY id"
COUNT_FOLLOW_UPS = "SELECT count(*) FROM timers WHERE kind = 'exposure_follow_up'"


def incident(person_id: str) -> tuple[bytes, bytes]:
    """A critical incident exposing ``person_id``, keyed by them, as the incident tool sends."""
    body: dict[str, Any] = {
        "id": f"sig-{uuid.uuid4().hex[:10]}",
        "person_id": person_id,
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "source": "incident-tool",
    }
    return person_id.encode(), encode(body)


async def pseudonym_of(services: Services, person_id: str) -> list[str]:
    """The person's subject ids in the check-in service's vault."""
    found = await services.checkin_rows(
        "SELECT subject_id FROM pseudonyms WHERE person_id = $1", person_id
    )
    return [row["subject_id"] for row in found]


async def test_a_backlog_and_a_replay_of_signals_after_an_erasure_skip_the_erased_person(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = endpoints.bootstrap_servers
    down = service_env | {"KINSHIP_EXCLUDED_CONSUMERS": "signals"}
    up = service_env | {"KINSHIP_EXCLUDED_CONSUMERS": ""}

    # The signals consumer is down: Erin's and Bob's incidents wait in the topic while Erin
    # is erased (the person half records her id's digest with the request's time).
    async with escalation_beside_checkin(down, endpoints, monkeypatch) as services:
        escalation = services.escalation
        signals = escalation.topic("wellbeing.signals.submitted")
        group = escalation.settings.consumer_group("signals")
        await services.directory(PEOPLE)
        await publish(servers, signals, [incident(ERIN), incident(BOB)])
        await asyncio.sleep(0.05)  # the erasure strictly after their records' timestamps
        erased = await services.checkin.post(f"/v1/people/{ERIN}/erasure", headers=bearer(ERIN))
        assert erased.status_code == 202, erased.text
        done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
        assert await escalation.wait_for(done, 1, timeout=30) == 1
        ((digest, erased_at, expires_at),) = await escalation.rows(
            "SELECT digest, erased_at, expires_at FROM erased_ids WHERE erased_at IS NOT NULL"
        )
        assert ERIN.encode() not in bytes(digest) and len(bytes(digest)) == 32
        assert timedelta(days=15) <= expires_at - erased_at < timedelta(days=15, minutes=1)
        assert await escalation.rows(FOLLOW_UPS) == []

    # Back up: the backlog is consumed. Bob's incident is acted on; Erin's is skipped.
    async with escalation_beside_checkin(up, endpoints, monkeypatch) as services:
        escalation = services.escalation
        assert await consumed_to_end(escalation, group, signals, 2)
        assert await escalation.wait_for(COUNT_FOLLOW_UPS, 2) == 2
        (bob,) = await pseudonym_of(services, BOB)
        assert [row["subject_id"] for row in await escalation.rows(FOLLOW_UPS)] == [bob, bob]
        assert await pseudonym_of(services, ERIN) == []  # the vault was not asked about her

        # A new incident exposes Erin after her erasure: acted on, under a new subject id.
        await publish(servers, signals, [incident(ERIN)])
        assert await consumed_to_end(escalation, group, signals, 3)
        assert await escalation.wait_for(COUNT_FOLLOW_UPS, 4) == 4
        (erin,) = await pseudonym_of(services, ERIN)
        assert sorted(row["subject_id"] for row in await escalation.rows(FOLLOW_UPS)) == sorted(
            [bob, bob, erin, erin]
        )

    # A replay from the start: the old incident (never acted on, so never marked processed)
    # comes again and is skipped again; nothing else changes.
    assert await reset_to_start(servers, group, signals) >= 1
    async with escalation_beside_checkin(up, endpoints, monkeypatch) as services:
        escalation = services.escalation
        assert await consumed_to_end(escalation, group, signals, 3)
        await asyncio.sleep(0.5)  # a wrongly handled replay would show by now
        assert len(await escalation.rows(FOLLOW_UPS)) == 4
        assert await pseudonym_of(services, ERIN) == [erin]

    dead = await read_all(servers, f"{signals}.dlq", timeout=1.0)
    assert dead == []  # skipped, not dead-lettered


async def test_person_digests_keep_the_later_times_beside_subject_digests_and_expire(
    escalation: Escalation,
) -> None:
    now = datetime.now(UTC)
    # Erasure times ahead of the clock, so that they are kept as given (the time kept is the
    # later of the given one and the clock once the erasure holds the lock).
    first, later = now + timedelta(hours=1), now + timedelta(hours=2)
    a, b, s = b"a" * 32, b"b" * 32, b"s" * 32
    async with schema_pool(escalation.endpoints, escalation.settings.owned_schema()) as pool:

        def uow() -> PostgresEscalationUnitOfWork:
            return PostgresEscalationUnitOfWork(pool, DirectoryProjection())

        async with uow() as one:
            await one.erasure.remember_erased_people([a], later, later + timedelta(days=7))
            await one.erasure.remember_erased([s], now + timedelta(days=30))  # a subject's
        async with uow() as two:  # erased again, earlier and shorter: the later times win
            await two.erasure.remember_erased_people([a, b], first, first + timedelta(days=1))
        async with uow() as check:
            assert await check.erasure.erased_since([a, b], now) == {a: later, b: first}
            assert await check.erasure.erased_among([s, a], now) == {s, a}
            assert await check.erasure.erased_since([b], first + timedelta(days=1)) == {}
        async with uow() as expiry:  # both kinds, each at its own time
            assert await expiry.erasure.forget_erased(first + timedelta(days=1), 1000) == 1
            assert await expiry.erasure.forget_erased(now + timedelta(days=29), 1000) == 1
        async with uow() as check:
            assert await check.erasure.erased_since([a, b], now) == {}
            assert await check.erasure.erased_among([s], now) == {s}
        kept = await escalation.rows("SELECT digest, erased_at FROM erased_ids")
        assert [(bytes(row["digest"]), row["erased_at"]) for row in kept] == [(s, None)]

"""Kudos, pulse answers and case transitions naming an erased person, read again after the
erasure (the recognition consumer groups reset to the start of their topics: a replay), are
skipped, against the real broker and database with the real check-in service (the vault)
in-process: Ann's old kudos do not come back, her old pulse answer gets her no new subject
id, the responder Rita (erased too) is not thanked or appreciated again; the kudos Ann sent
after her erasure, and Bob's, are kept. The record's SQL (the erasure's time kept beside the
subject ids' digests) on the service's own schema."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kinship_recognition.adapters.postgres import PostgresRecognitionUnitOfWork
from kinship_runtime.directory import DirectoryProjection
from tests.conftest import Endpoints
from tests.database import schema_pool
from tests.escalation_support import AUTH, encode_person, escalation_env
from tests.integration.test_recognition_erasure import case_record
from tests.kafka_reading import encode, publish, read_all, reset_to_start
from tests.notifications_support import kudos
from tests.recognition_support import RunningRecognition, consumed_to_end, recognition_running

pytestmark = pytest.mark.integration

ANN, BOB, RITA = "ann-4e21aa", "bob-9d0c3b", "rita-77f1e0"
ANN_WROTE = "ann-private-kudos-6b2f"


def pulse_answer(id_: str, person: str, score: int) -> bytes:
    return encode(
        {
            "id": id_,
            "person_id": person,
            "survey_id": "2026-11",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "tests",
            "answers": {"programme_helps": score},
        }
    )


@pytest.fixture
def schema(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    return f"{service_env['KINSHIP_DATABASE_SCHEMA']}_r"


@pytest.fixture
async def first_run(schema: str, endpoints: Endpoints) -> AsyncIterator[RunningRecognition]:
    async with recognition_running(schema, endpoints) as recognition:
        yield recognition


async def erase(recognition: RunningRecognition, person: str, done: int) -> None:
    asked = await recognition.checkin.client.post(f"/v1/people/{person}/erasure", headers=AUTH)
    assert asked.status_code == 202
    receipts = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
    assert await recognition.wait_for(receipts, done) == done


async def pseudonyms(recognition: RunningRecognition, person: str) -> list[Any]:
    return await recognition.checkin.rows(
        "SELECT subject_id FROM pseudonyms WHERE person_id = $1", person
    )


async def test_a_replay_after_an_erasure_skips_the_persons_kudos_pulse_answers_and_thanks(
    schema: str, endpoints: Endpoints
) -> None:
    servers = endpoints.bootstrap_servers
    async with recognition_running(schema, endpoints) as recognition:
        topic = recognition.topic
        kudos_topic, pulse_topic = (
            topic("recognition.kudos.submitted"),
            topic("programme.pulse.submitted"),
        )
        cases_topic = topic("escalation.cases")
        people = [encode_person(p, "team-a", {}) for p in (ANN, BOB, RITA)]
        await publish(servers, topic("directory.people"), people)
        assert await recognition.wait_for("SELECT count(*) FROM directory_people", 3) == 3
        wes = await recognition.subject("wes-5a")  # the person Rita supports: not erased
        await publish(
            servers,
            kudos_topic,
            [
                (BOB.encode(), encode(kudos("k-1", ANN, BOB, ANN_WROTE))),
                (ANN.encode(), encode(kudos("k-2", BOB, ANN))),
            ],
        )
        await publish(
            servers,
            pulse_topic,
            [
                (ANN.encode(), pulse_answer("p-1", ANN, 1)),
                (BOB.encode(), pulse_answer("p-2", BOB, 5)),
            ],
        )
        resolved = case_record("case-w", 2, "resolved", wes, responder_id=RITA, outcome="supported")
        thanked = case_record(
            "case-w", 3, "feedback_received", wes, feedback_score=5, feedback_from="person"
        )
        await publish(servers, cases_topic, [(b"case-w", resolved), (b"case-w", thanked)])
        assert await recognition.wait_for("SELECT count(*) FROM kudos", 2) == 2
        assert await recognition.wait_for("SELECT count(*) FROM pulse_responses", 2) == 2
        rita_awards = f"SELECT count(*) FROM awards WHERE person_id = '{RITA}'"
        assert await recognition.wait_for(rita_awards, 2) == 2  # supported, and thanked
        assert await pseudonyms(recognition, ANN)  # her pulse answer: she has a subject id

        await erase(recognition, ANN, 1)
        await erase(recognition, RITA, 2)
        assert await recognition.rows("SELECT id FROM kudos") == []
        assert await pseudonyms(recognition, ANN) == []
        assert await recognition.rows(rita_awards) == [(0,)]
        kept = await recognition.rows(
            "SELECT digest, erased_at, expires_at FROM erased_ids WHERE erased_at IS NOT NULL"
        )
        assert len(kept) == 2  # Ann and Rita, as keyed hashes with when they were erased
        for digest, erased_at, expires_at in kept:
            assert ANN.encode() not in bytes(digest) and len(bytes(digest)) == 32
            assert expires_at - erased_at == timedelta(days=38)
        pulse_rows = await recognition.rows(
            "SELECT respondent, response_id FROM pulse_responses ORDER BY response_id"
        )

        # After her erasure Ann sends Bob kudos: new, and given.
        await asyncio.sleep(0.05)  # its record's timestamp strictly after the erasure's
        await publish(servers, kudos_topic, [(BOB.encode(), encode(kudos("k-3", ANN, BOB)))])
        assert await recognition.wait_for("SELECT count(*) FROM kudos", 1) == 1
        settings = recognition.settings
        for group, name, count in (("kudos", kudos_topic, 3), ("pulse", pulse_topic, 2)):
            assert await consumed_to_end(recognition, settings.consumer_group(group), name, count)
        assert await consumed_to_end(recognition, settings.consumer_group("cases"), cases_topic, 2)
        awards = await recognition.rows("SELECT id, person_id FROM awards ORDER BY id")

    # Each consumer group is reset to the start of its topic (a replay) and the service reads
    # every record again, with their original timestamps.
    groups = {"kudos": kudos_topic, "pulse": pulse_topic, "cases": cases_topic}
    for group, name in groups.items():
        assert await reset_to_start(servers, settings.consumer_group(group), name) >= 1
    async with recognition_running(schema, endpoints) as recognition:
        for group, name, count in (("kudos", kudos_topic, 3), ("pulse", pulse_topic, 2)):
            assert await consumed_to_end(recognition, settings.consumer_group(group), name, count)
        assert await consumed_to_end(recognition, settings.consumer_group("cases"), cases_topic, 2)
        await asyncio.sleep(0.5)  # a wrongly stored replay would show by now

        assert await recognition.rows("SELECT id FROM kudos") == [("k-3",)]
        assert ANN_WROTE not in str(await recognition.rows("SELECT * FROM kudos"))
        assert await pseudonyms(recognition, ANN) == []  # no new subject id minted for her
        assert (
            await recognition.rows(
                "SELECT respondent, response_id FROM pulse_responses ORDER BY response_id"
            )
            == pulse_rows
        )
        assert await recognition.rows(rita_awards) == [(0,)]  # not thanked, not appreciated
        assert await recognition.rows("SELECT count(*) FROM supported_cases") == [(0,)]
        assert await recognition.rows("SELECT id, person_id FROM awards ORDER BY id") == awards
        for name in (kudos_topic, pulse_topic, cases_topic):
            assert await read_all(servers, f"{name}.dlq", timeout=1.0) == []  # not dead letters


async def test_the_records_sql_keeps_person_times_beside_subject_digests(
    first_run: RunningRecognition, endpoints: Endpoints
) -> None:
    now = datetime.now(UTC)
    # Erasure times ahead of the clock, so that they are kept as given (the time kept is the
    # later of the given one and the clock once the erasure holds the lock).
    first, later = now + timedelta(hours=1), now + timedelta(hours=2)
    person, subject = b"p" * 32, b"s" * 32
    async with schema_pool(endpoints, first_run.settings.owned_schema()) as pool:

        def uow() -> PostgresRecognitionUnitOfWork:
            return PostgresRecognitionUnitOfWork(pool, DirectoryProjection())

        async with uow() as one:
            await one.remember_erased([person], later + timedelta(days=30), erased_at=later)
            await one.remember_erased([subject], later + timedelta(days=30))
        async with uow() as two:  # erased again, earlier and shorter: the later times win
            await two.remember_erased([person], first + timedelta(days=1), erased_at=first)
        async with uow() as check:
            assert await check.erased_since([person], now) == {person: later}
            assert await check.erased_among([person, subject], now) == {person, subject}
        async with uow() as expiry:
            assert await expiry.forget_erased(later + timedelta(days=30), 1000) == 2
        async with uow() as check:
            assert await check.erased_since([person], now) == {}

"""Events about an erased person that the recognition service consumes only after the
erasure (a backlog, a replay of the topics) are skipped, against the real broker and
database with the real check-in service (the vault) in-process: after Erin's erasure, her
own check-ins and case transitions published again store nothing under her subject id or
case id, move no programme figure and thank no responder twice; Bob's events still count.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kinship_recognition.adapters.postgres import PostgresRecognitionUnitOfWork
from kinship_recognition.domain.reports import Window, monday_of
from kinship_runtime.database import create_pool
from kinship_runtime.directory import DirectoryProjection
from tests.escalation_support import AUTH, encode_person
from tests.integration.test_recognition_erasure import case_record, schema_dump
from tests.kafka_reading import checkin, publish, read_all
from tests.recognition_support import RunningRecognition, consumed_to_end

pytestmark = pytest.mark.integration

ERIN, BOB = "erin-0c5d2e", "bob-7f3a91"


async def figures(recognition: RunningRecognition) -> list[Any]:
    """The programme figures over the last five weeks, this open one included."""
    now = datetime.now(UTC)
    window = Window(
        monday_of(now.date()) - timedelta(weeks=4), monday_of(now.date()) + timedelta(weeks=1)
    )
    pool = await create_pool(recognition.settings)
    try:
        uow = PostgresRecognitionUnitOfWork(pool, DirectoryProjection())
        async with uow:
            return [
                await uow.participation(window),
                await uow.team_participation(window),
                await uow.cases(window),
                await uow.feedback(window),
            ]
    finally:
        await pool.close()


async def test_events_about_an_erased_subject_consumed_after_the_erasure_are_not_stored(
    recognition: RunningRecognition,
) -> None:
    servers = recognition.endpoints.bootstrap_servers
    people = [encode_person(ERIN, "team-e", {}), encode_person(BOB, "team-e", {})]
    await publish(servers, recognition.topic("directory.people"), people)
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 2) == 2
    now = datetime.now(UTC)
    for n in range(2):
        at = (now - timedelta(weeks=n)).isoformat()
        body = checkin(f"c-erin-{n}", ERIN, occurred_at=at)
        sent = await recognition.checkin.client.post("/v1/checkins", json=body, headers=AUTH)
        assert sent.status_code == 202
    erin, bob = await recognition.subject(ERIN), await recognition.subject(BOB)
    cases = recognition.topic("escalation.cases")
    await publish(
        servers,
        cases,
        [
            (b"case-e", case_record("case-e", 1, "opened", erin)),
            (
                b"case-e",
                case_record("case-e", 2, "resolved", erin, responder_id=BOB, outcome="supported"),
            ),
            (
                b"case-e",
                case_record(
                    "case-e", 3, "feedback_received", erin, feedback_score=5, feedback_from="person"
                ),
            ),
        ],
    )
    assert await recognition.wait_for("SELECT count(*) FROM checkin_weeks", 2) == 2
    assert await recognition.wait_for("SELECT count(*) FROM case_feedback", 1) == 1
    thanks = "SELECT count(*) FROM awards WHERE id LIKE 'thanks:%'"
    assert await recognition.wait_for(thanks, 1) == 1

    asked = await recognition.checkin.client.post(f"/v1/people/{ERIN}/erasure", headers=AUTH)
    assert asked.status_code == 202
    done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
    assert await recognition.wait_for(done, 1) == 1
    erased = await schema_dump(recognition)
    assert erin not in erased and '"case-e"' not in erased
    subjects = "SELECT digest FROM erased_ids WHERE erased_at IS NULL"  # her person id: 0008
    assert len(await recognition.rows(subjects)) == 1
    before = await figures(recognition)
    assert before[0] and before[2] and before[3]  # the test is real: her rows count, anonymised

    # Her check-ins and her case, consumed again (a replay of the topics, or a backlog).
    checkins_topic = recognition.topic("wellbeing.checkins.recorded")
    recorded = await read_all(servers, checkins_topic, 2)
    transitions = await read_all(servers, cases, 3)
    assert len(recorded) == 2 and len(transitions) == 3
    await publish(servers, checkins_topic, [(r.key, r.value) for r in recorded])
    await publish(servers, cases, [(r.key, r.value) for r in transitions])
    settings = recognition.settings
    assert await consumed_to_end(
        recognition, settings.consumer_group("checkins"), checkins_topic, 4
    )
    assert await consumed_to_end(recognition, settings.consumer_group("cases"), cases, 6)

    after = await schema_dump(recognition)
    assert erin not in after and '"case-e"' not in after
    assert await figures(recognition) == before
    assert await recognition.rows(thanks) == [(1,)]  # her responder is not thanked twice
    dead = await read_all(servers, recognition.topic("escalation.cases.dlq"), 0, timeout=2)
    dead += await read_all(
        servers, recognition.topic("wellbeing.checkins.recorded.dlq"), 0, timeout=2
    )
    assert dead == []  # skipped, not dead-lettered

    # Someone else's events are still kept.
    sent = await recognition.checkin.client.post(
        "/v1/checkins", json=checkin("c-bob-0", BOB, occurred_at=now.isoformat()), headers=AUTH
    )
    assert sent.status_code == 202
    await publish(servers, cases, [(b"case-b", case_record("case-b", 1, "opened", bob))])
    assert (
        await recognition.wait_for(
            f"SELECT count(*) FROM checkin_weeks WHERE subject_id = '{bob}'", 1
        )
        == 1
    )
    assert (
        await recognition.wait_for("SELECT count(*) FROM case_facts WHERE case_id = 'case-b'", 1)
        == 1
    )

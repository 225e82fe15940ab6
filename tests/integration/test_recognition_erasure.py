"""Erasure in the recognition service against the real broker and database, with the real
check-in service (the vault) in-process: after ``POST /v1/people/{id}/erasure`` both halves
reach the recognition service, which then holds nothing about the person (a dump of its
schema finds neither their id, their subject id, their case's id nor their kudos text) —
what the programme reports count is kept, anonymised — can open none of their dead letters,
and sends one receipt; everyone else's data stays; a replay is harmless.
"""

import json
import shutil
import subprocess
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from kinship_recognition.adapters.postgres import PostgresRecognitionUnitOfWork
from kinship_recognition.domain.reports import Sources, Window, monday_of, release_weeks
from kinship_runtime.database import create_pool
from kinship_runtime.directory import DirectoryProjection
from tests.database import open_dead_letters
from tests.escalation_support import AUTH, encode_person
from tests.kafka_reading import checkin, encode, publish, read_all
from tests.notifications_support import kudos
from tests.recognition_support import RunningRecognition, consumed_to_end

pytestmark = pytest.mark.integration

ERIN, BOB = "erin-5e1f7a", "bob-9a2d4c"
ERIN_WROTE = "erin-wrote-this-thank-you-8c1"
TO_ERIN = "bob-thanked-erin-for-this-3f9"
BOB_WROTE = "bob-wrote-this-to-cat-71d"


def case_record(case_id: str, sequence: int, kind: str, subject: str, **fields: Any) -> bytes:
    body = {
        "id": f"{case_id}:{sequence}",
        "case_id": case_id,
        "sequence": sequence,
        "kind": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject_id": subject,
        "status": "resolved" if kind == "resolved" else "opened",
        "severity": "high",
        "rules": ["self_referral"],
        **fields,
    }
    return encode(body)


async def schema_dump(recognition: RunningRecognition) -> str:
    """Every row of every table of the service's schema, as text."""
    tables = await recognition.rows(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    text = []
    for (table,) in tables:
        rows = await recognition.rows(f'SELECT row_to_json(t)::text FROM "{table}" t')
        text += [f"{table}: {row[0]}" for row in rows]
    return "\n".join(text)


def pg_dump(recognition: RunningRecognition) -> str:
    """``pg_dump`` of the service's schema (schema and data)."""
    dumped = subprocess.run(
        [
            str(shutil.which("pg_dump")),
            "--no-owner",
            f"--schema={recognition.settings.owned_schema()}",
            recognition.endpoints.database_url,
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return dumped.stdout.decode()


async def give_both_people_a_history(recognition: RunningRecognition) -> tuple[str, str]:
    """Kudos both ways, weekly check-ins through the check-in service, pulse answers, a case
    about each, a case Erin supported as a responder, and dead letters naming each. Returns
    the subject ids the vault gave them."""
    servers = recognition.endpoints.bootstrap_servers
    people = [encode_person(ERIN, "team-e", {}), encode_person(BOB, "team-e", {})]
    await publish(servers, recognition.topic("directory.people"), people)
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 2) == 2
    for body in (
        kudos("k-1", ERIN, BOB, ERIN_WROTE),
        kudos("k-2", BOB, ERIN, TO_ERIN),
        kudos("k-3", BOB, "cat", BOB_WROTE),
    ):
        assert (
            await recognition.client.post("/v1/kudos", json=body, headers=AUTH)
        ).status_code == 202
    now = datetime.now(UTC)
    for person in (ERIN, BOB):
        for n in range(4):
            at = (now - timedelta(weeks=n)).isoformat()
            body = checkin(f"c-{person}-{n}", person, occurred_at=at)
            sent = await recognition.checkin.client.post("/v1/checkins", json=body, headers=AUTH)
            assert sent.status_code == 202
        answer = {
            "id": f"p-{person}",
            "person_id": person,
            "survey_id": "2026-11",
            "occurred_at": now.isoformat(),
            "source": "tests",
            "answers": {"programme_helps": 4},
        }
        assert (
            await recognition.client.post("/v1/pulse", json=answer, headers=AUTH)
        ).status_code == 202
    erin, bob = await recognition.subject(ERIN), await recognition.subject(BOB)
    cases = recognition.topic("escalation.cases")
    await publish(
        servers,
        cases,
        [
            (b"case-e", case_record("case-e", 1, "opened", erin)),
            (
                b"case-e",
                case_record(
                    "case-e", 2, "feedback_received", erin, feedback_score=5, feedback_from="person"
                ),
            ),
            (b"case-b", case_record("case-b", 1, "opened", bob)),
            (
                b"case-b",
                case_record("case-b", 2, "resolved", bob, responder_id=ERIN, outcome="supported"),
            ),
            (b"case-x", encode({"id": "case-x:1", "subject_id": erin})),  # invalid: a dead letter
        ],
    )
    await publish(
        servers,
        recognition.topic("recognition.kudos.submitted"),
        [
            (ERIN.encode(), encode(kudos("k-self-e", ERIN, ERIN, ERIN_WROTE))),  # dead letters
            (BOB.encode(), encode(kudos("k-self-b", BOB, BOB, BOB_WROTE))),
        ],
    )
    assert await recognition.wait_for("SELECT count(*) FROM checkin_weeks", 8) == 8
    assert await recognition.wait_for("SELECT count(*) FROM case_facts", 2) == 2
    assert await recognition.wait_for("SELECT count(*) FROM supported_cases", 1) == 1
    assert await recognition.wait_for("SELECT count(*) FROM dead_letter_keys", 3) == 3
    return erin, bob


async def dead_letters(recognition: RunningRecognition) -> list[tuple[str, bytes | None]]:
    """(topic, opened original or None) of each of the service's dead letters."""
    servers = recognition.endpoints.bootstrap_servers
    found = [
        *await read_all(servers, recognition.topic("escalation.cases.dlq"), 1),
        *await read_all(servers, recognition.topic("recognition.kudos.submitted.dlq"), 2),
    ]
    opened = await open_dead_letters(
        recognition.endpoints.database_url, recognition.settings, found
    )
    return [(record.topic, value) for record, value in zip(found, opened, strict=True)]


async def test_after_erasure_nothing_in_the_schema_names_the_person_and_others_stay(
    recognition: RunningRecognition,
) -> None:
    erin, bob = await give_both_people_a_history(recognition)
    before = await schema_dump(recognition)
    assert all(text in before for text in (ERIN, erin, ERIN_WROTE, TO_ERIN))  # the test is real
    letters = await dead_letters(recognition)
    assert all(value is not None for _, value in letters)

    asked = await recognition.checkin.client.post(f"/v1/people/{ERIN}/erasure", headers=AUTH)
    assert asked.status_code == 202
    erasure_id = asked.json()["erasure_id"]
    done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
    assert await recognition.wait_for(done, 1) == 1
    assert await recognition.wait_for("SELECT 1 - count(*) FROM outbox", 1) == 1  # relayed

    after = await schema_dump(recognition)
    # Not her id, her subject id, her words, nor the id of her case (case-e) or of the case
    # she supported (case-b, Bob's: its id stays; hers as a responder is gone).
    for gone in (ERIN, erin, ERIN_WROTE, TO_ERIN, '"case-e"'):
        assert gone not in after, gone
    for kept in (BOB, bob, BOB_WROTE, '"case-b"'):
        assert kept in after, kept
    if shutil.which("pg_dump"):
        dumped = pg_dump(recognition)
        assert all(gone not in dumped for gone in (ERIN, erin, ERIN_WROTE, TO_ERIN, "case-e"))
        assert BOB_WROTE in dumped
    assert [row[0] for row in await recognition.rows("SELECT id FROM kudos")] == ["k-3"]
    # What the programme reports count is anonymised, not deleted: her check-in weeks, pulse
    # answer, case facts and feedback stay under random stand-ins, fresh per table.
    weeks = await recognition.rows("SELECT subject_id, count(*) FROM checkin_weeks GROUP BY 1")
    assert sorted(n for _, n in weeks) == [4, 4] and bob in {s for s, _ in weeks}
    (weeks_stand_in,) = {s for s, _ in weeks} - {bob}
    answers = await recognition.rows("SELECT respondent, response_id FROM pulse_responses")
    (answer,) = [row for row in answers if row[0] != bob]
    facts = await recognition.rows("SELECT case_id, subject_id, team_id FROM case_facts")
    (fact,) = [row for row in facts if row[0] != "case-b"]
    (feedback,) = await recognition.rows("SELECT case_id, subject_id, score FROM case_feedback")
    assert fact[2] is None and feedback[2] == 5 and answer[1] != f"p-{ERIN}"
    stand_ins = {weeks_stand_in, answer[0], fact[0], fact[1], feedback[0], feedback[1]}
    assert len(stand_ins) == 6 and all(len(s) == 32 for s in stand_ins)

    # Erin's dead letters (one naming her, one her subject id) can no longer be opened.
    opened = [
        json.loads(value)["id"] if value else None for _, value in await dead_letters(recognition)
    ]
    assert opened.count(None) == 2 and "k-self-b" in opened

    # The check-in service sees the recognition service's receipt.
    status = await recognition.checkin.client.get(f"/v1/erasures/{erasure_id}", headers=AUTH)
    assert status.json()["services"]["recognition"] is not None

    # Both halves again (a replay of the topics): nothing changes, no second receipt.
    servers = recognition.endpoints.bootstrap_servers
    requested = await read_all(servers, recognition.topic("privacy.erasure.requested"), 1)
    subjects = await read_all(servers, recognition.topic("privacy.erasure.subjects"), 1)
    await publish(
        servers,
        recognition.topic("privacy.erasure.requested"),
        [(r.key, r.value) for r in requested],
    )
    await publish(
        servers, recognition.topic("privacy.erasure.subjects"), [(r.key, r.value) for r in subjects]
    )
    settings = recognition.settings
    for purpose, topic in (
        ("erasure", "privacy.erasure.requested"),
        ("erasure-subjects", "privacy.erasure.subjects"),
    ):  # the replay has been read and committed
        assert await consumed_to_end(
            recognition, settings.consumer_group(purpose), settings.topic(topic), 2
        )
    receipts = await read_all(servers, recognition.topic("privacy.erasure.receipts"), 2, timeout=5)
    mine = [
        json.loads(r.value) for r in receipts if json.loads(r.value)["service"] == "recognition"
    ]
    assert len(mine) == 1 and mine[0]["removed"]["kudos"] == 2
    assert ERIN.encode() not in b"".join(r.value for r in receipts)
    assert await schema_dump(recognition) == after

    # What the service published before names Erin by subject only, and never her words.
    published = [
        *await read_all(servers, recognition.topic("recognition.awards"), 1),
        *await read_all(servers, recognition.topic("notifications.requests"), 1),
    ]
    assert published and all(
        ERIN.encode() not in (r.key or b"") + r.value and ERIN_WROTE.encode() not in r.value
        for r in published
    )


async def test_a_report_week_read_before_an_erasure_is_served_unchanged_after_it(
    recognition: RunningRecognition,
) -> None:
    # Six people of one team took part in the week before last (Tuesday 10:00 UTC, closed
    # whatever the day and hour now), written as the service recorded it then: checked in,
    # answered the pulse survey (the sixth 1, the others 5) and gave feedback (likewise).
    people = [f"fz-{n}" for n in range(1, 7)]
    servers = recognition.endpoints.bootstrap_servers
    await publish(
        servers,
        recognition.topic("directory.people"),
        [encode_person(person, "team-z", {}) for person in people],
    )
    assert await recognition.wait_for("SELECT count(*) FROM directory_people", 6) == 6
    week = monday_of(datetime.now(UTC).date()) - timedelta(weeks=2)
    at = datetime.combine(week + timedelta(days=1), time(10), UTC)
    subjects = [await recognition.subject(person) for person in people]
    for n, subject in enumerate(subjects, start=1):
        low = n == 6
        await recognition.rows(
            "INSERT INTO checkin_weeks (subject_id, week_start, team_id, recorded_at)"
            " VALUES ($1, $2, 'team-z', $3)",
            subject,
            week,
            at,
        )
        await recognition.rows(
            "INSERT INTO pulse_responses (survey_id, respondent, response_id, team_id,"
            " answered_at, programme_helps, recorded_at) VALUES ('fz', $1, $2, 'team-z', $3,"
            " $4, $3)",
            subject,
            f"fz-r{n}",
            at,
            1 if low else 5,
        )
        await recognition.rows(
            "INSERT INTO case_feedback (case_id, given_by, subject_id, score, given_at,"
            " recorded_at) VALUES ($1, 'person', $2, $3, $4, $4)",
            f"fz-case-{n}",
            subject,
            1 if low else 5,
            at,
        )

    async def read(team_id: str | None = None) -> dict[str, Any]:
        params = {"weeks": "3"} | ({"team_id": team_id} if team_id else {})
        answer = await recognition.client.get("/v1/reports/programme", params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        body.pop("generated_at")
        for figures in body["weeks"]:  # the directory's members are of today
            if figures["participation"] is not None:
                figures["participation"].pop("members")
                figures["participation"].pop("rate")
        return body

    before, team_before = await read(), await read("team-z")
    (shown,) = [w for w in before["weeks"] if w["week"] == week.isoformat()]
    assert shown["pulse"]["respondents"] == 6
    assert shown["pulse"]["mean_agreement"]["programme_helps"] == round(26 / 6, 2)
    assert shown["satisfaction"]["person"] == {"responses": 6, "mean_score": round(26 / 6, 2)}
    assert shown["participation"]["people"] == 6

    asked = await recognition.checkin.client.post(f"/v1/people/{people[5]}/erasure", headers=AUTH)
    assert asked.status_code == 202
    done = "SELECT count(*) FROM erasure_progress WHERE receipt_sent_at IS NOT NULL"
    assert await recognition.wait_for(done, 1) == 1
    for table, column in (
        ("checkin_weeks", "subject_id"),
        ("pulse_responses", "respondent"),
        ("case_feedback", "subject_id"),
    ):  # anonymised, not deleted: six rows of six distinct people, none of them the sixth
        (row,) = await recognition.rows(
            f"SELECT count(*), count(DISTINCT {column}),"
            f" count(*) FILTER (WHERE {column} = $1) FROM {table}",
            subjects[5],
        )
        assert tuple(row) == (6, 6, 0), table
    gone = await recognition.rows(
        "SELECT 1 FROM case_feedback WHERE case_id = 'fz-case-6' UNION ALL"
        " SELECT 1 FROM pulse_responses WHERE response_id = 'fz-r6'"
    )
    assert gone == []
    # Recomputed from the rows now, the week is the same as the copy served before.
    pool = await create_pool(recognition.settings)
    try:
        uow = PostgresRecognitionUnitOfWork(pool, DirectoryProjection())
        async with uow:
            window = Window.closed(datetime.now(UTC), 3)
            live = release_weeks(
                Sources(
                    window=window,
                    members=0,
                    participation=await uow.participation(window),
                    cases=await uow.cases(window),
                    feedback=await uow.feedback(window),
                    pulse=await uow.pulse(window),
                    team_participation=await uow.team_participation(window),
                    team_pulse=await uow.team_pulse(window),
                )
            )
    finally:
        await pool.close()
    (recomputed,) = [w for w in live if w.week == week]
    figures = recomputed.organisation
    assert figures.pulse is not None and figures.pulse.respondents == 6
    assert figures.pulse.mean_agreement["programme_helps"] == round(26 / 6, 2)
    assert figures.satisfaction["person"].model_dump() == shown["satisfaction"]["person"]
    assert figures.participation is not None and figures.participation.people == 6

    assert await read() == before
    assert await read("team-z") == team_before
    stored = " ".join(
        row[0] for row in await recognition.rows("SELECT figures::text FROM report_weeks")
    )
    assert "team-z" in stored  # the test is real
    assert not any(
        person in stored or subject in stored
        for person, subject in zip(people, subjects, strict=True)
    )

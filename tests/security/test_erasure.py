"""Erasure (issue 11, "Why" 5): after a person asks to be forgotten, nothing readable or
linkable about them remains in any service's tables or on any topic Kinship produces, while
everybody else's data stays; replaying the erasure is harmless.

Erin is active everywhere first: check-ins with notes (one of them critical, so a case is open
and a responder alerted), crisis resources and a celebration delivered to her, kudos both
ways (and so awards), a pulse answer, and dead letters naming her. Fay, in the same team, has
a check-in with a note, kudos and a dead letter of her own. Then the HR portal (the weakest
credential allowed to) asks for Erin's erasure, after a colleague, the survey tool and a
token claiming ``coordinator`` were refused.

The scans are the issue's: a ``pg_dump`` of every service's schema holds neither Erin's
person id, her subject id, display name, email nor anything she wrote; no current record of
a topic Kinship produces (dead letters included) holds her person id, name, email or words in
clear. Documented exceptions (docs/privacy.md, "When an erasure is complete on Kafka"): the
ingestion topics other systems write, ``privacy.erasure.requested`` (the request itself) and
``directory.people``, whose current record for her is a tombstone. Her subject id stays on
topics that are keyed by it, but no record on any topic names it next to the erasure id (the
request names her next to that id), and once the erasure is complete the check-in service no
longer tells anyone which subject ids it concerned.
"""

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from kinship_contracts.topics import TOPICS
from tests.security.flows import (
    alerted,
    check_in,
    deliveries_to,
    new_id,
    open_case,
    pulse_body,
    send_kudos,
)
from tests.security.stack import SERVICES, Stack, mentions, record_mentions, until

pytestmark = pytest.mark.security

SUFFIX = secrets.token_hex(3)
ERIN_NOTE = f"Erin's private note about the night shifts {SUFFIX}"
ERIN_CRISIS_NOTE = f"Erin cannot go on like this {SUFFIX}"
ERIN_KUDOS = f"Erin thanks Fay for covering the rota {SUFFIX}"
ERIN_DEAD_NOTE = f"Erin's words in a refused check-in {SUFFIX}"
FAY_NOTE = f"Fay's own note stays {SUFFIX}"
FAY_KUDOS = f"Fay thanks the coordinator {SUFFIX}"

INGESTION = {spec.name for spec in TOPICS if spec.ingestion}
"""Topics other systems write (bounded retention, docs/privacy.md): not Kinship's records."""


@dataclass
class Erased:
    """What the fixture did and saw."""

    erasure_id: str
    subject: str
    fay_subject: str
    case_id: str
    needles: dict[str, str]
    """What must not remain about Erin, by what it is."""
    dumps_before: dict[str, str]
    erin_dead_letters: list[Any]
    fay_dead_letters: list[Any]
    fay_before: dict[str, Any]
    alert_emails_at_erasure: int


def bad_checkin(person_id: str, note: str) -> tuple[bytes, bytes]:
    """A check-in another system submits that cannot be used (mood out of range)."""
    body = {
        "id": new_id("ck"),
        "person_id": person_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "survey",
        "mood": 9,
        "note": note,
    }
    return person_id.encode(), json.dumps(body).encode()


async def dead_letters_of(stack: Stack, topic: str, needle: str, count: int) -> list[Any]:
    """The dead letters of ``topic`` whose sealed bytes hold ``needle`` (opened as an
    operator with every key), once there are ``count`` of them."""

    async def found() -> list[Any]:
        opened = []
        for record in await stack.read(f"{topic}.dlq"):
            original = await stack.open_dead_letter(record)
            if original is not None and needle.encode() in original:
                opened.append(record)
        return opened if len(opened) >= count else []

    records: list[Any] = await until(found, timeout=90)
    assert len(records) == count, f"{count} dead letter(s) naming {needle} on {topic}.dlq"
    return records


async def fay_state(stack: Stack, subject: str) -> dict[str, Any]:
    """Fay's rows in every service (what erasing Erin must leave alone)."""
    fay = stack.people.fay
    return {
        "checkins": await stack.value(
            "checkin",
            "SELECT count(*) FROM checkins WHERE subject_id = $1 AND note_ciphertext IS NOT NULL",
            subject,
        ),
        "vault": await stack.value(
            "checkin", "SELECT count(*) FROM pseudonyms WHERE person_id = $1", fay.id
        ),
        "kudos": await stack.value(
            "recognition", "SELECT count(*) FROM kudos WHERE from_person_id = $1", fay.id
        ),
        "directory": [
            await stack.value(
                service, "SELECT count(*) FROM directory_people WHERE person_id = $1", fay.id
            )
            for service in SERVICES
        ],
    }


def case_emails(stack: Stack, case_id: str) -> int:
    """How many emails mention the case (alerts, reminders, escalations)."""
    from tests.security.flows import text_of

    return sum(1 for message in stack.smtp.messages if case_id in text_of(message))


@pytest.fixture(scope="module")
async def erased(stack: Stack) -> Erased:
    erin, fay, coordinator = stack.people.erin, stack.people.fay, stack.people.coordinator
    # Erin everywhere.
    await check_in(stack, erin, mood=2, stress=4, note=ERIN_NOTE)
    case_id = await open_case(stack, erin, note=ERIN_CRISIS_NOTE)
    await alerted(stack, case_id)
    await send_kudos(stack, coordinator, erin, "Thank you for the handover notes")
    await send_kudos(stack, erin, fay, ERIN_KUDOS)
    pulse = await stack.call(
        "POST", "recognition", "/v1/pulse", stack.bearer(erin.id), json=pulse_body(erin)
    )
    assert pulse.status_code == 202, pulse.text
    # Fay, alongside.
    await check_in(stack, fay, mood=4, note=FAY_NOTE)
    await send_kudos(stack, fay, coordinator, FAY_KUDOS)
    # Dead letters naming each of them.
    await stack.publish(
        "wellbeing.checkins.submitted",
        [bad_checkin(erin.id, ERIN_DEAD_NOTE), bad_checkin(fay.id, FAY_NOTE)],
    )
    erin_dead = await dead_letters_of(stack, "wellbeing.checkins.submitted", ERIN_DEAD_NOTE, 1)
    fay_dead = await dead_letters_of(stack, "wellbeing.checkins.submitted", FAY_NOTE, 1)

    async def settled() -> bool:
        kinds = {d["kind"] for d in await deliveries_to(stack, erin) if d["status"] == "delivered"}
        return {"crisis_resources", "celebration"} <= kinds

    assert await until(settled, timeout=90), await deliveries_to(stack, erin)
    subject, fay_subject = await stack.subject_of(erin.id), await stack.subject_of(fay.id)
    assert subject is not None and fay_subject is not None
    awards = await stack.value(
        "recognition", "SELECT count(*) FROM awards WHERE person_id = $1", erin.id
    )
    assert awards, "Erin was awarded for the kudos she received"

    needles = {
        "person id": erin.id,
        "subject id": subject,
        "display name": erin.name,
        "email": erin.email or "",
        "note": ERIN_NOTE,
        "crisis note": ERIN_CRISIS_NOTE,
        "kudos text": ERIN_KUDOS,
        "dead-lettered note": ERIN_DEAD_NOTE,
    }
    dumps_before = {service: await stack.pg_dump(service) for service in SERVICES}
    fay_before = await fay_state(stack, fay_subject)

    # Who may not ask: a colleague, systems without erasure:request, a token claiming a role.
    path = f"/v1/people/{erin.id}/erasure"
    refused = [
        stack.bearer(fay.id),
        stack.bearer(fay.id, roles=["coordinator"], realm_access={"roles": ["coordinator"]}),
        stack.key("survey-tool"),
        stack.key("bi-tool"),
    ]
    for credential in refused:
        answer = await stack.call("POST", "checkin", path, credential)
        assert answer.status_code == 403, answer.text
    assert await stack.subject_of(erin.id) == subject  # nothing was erased by them

    emails_at_erasure = case_emails(stack, case_id)
    asked = await stack.call("POST", "checkin", path, stack.key("hr-portal"))
    assert asked.status_code == 202, asked.text
    erasure_id = asked.json()["erasure_id"]
    status_path = asked.json()["status_url"]

    async def complete() -> dict[str, Any] | None:
        answer = await stack.call("GET", "checkin", status_path, stack.bearer(coordinator.id))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body if body["complete"] else None

    status = await until(complete, timeout=90)
    assert status, "every service completed the erasure"
    assert set(status["services"]) == set(SERVICES)
    return Erased(
        erasure_id,
        subject,
        fay_subject,
        case_id,
        needles,
        dumps_before,
        erin_dead,
        fay_dead,
        fay_before,
        emails_at_erasure,
    )


async def test_no_schema_holds_anything_about_the_erased_person(
    stack: Stack, erased: Erased
) -> None:
    # Before, every service's dump named her: the scan can see what it looks for.
    for service, dump in erased.dumps_before.items():
        assert mentions(dump, erased.needles["person id"]) or mentions(
            dump, erased.needles["subject id"]
        ), service
    assert mentions(erased.dumps_before["recognition"], ERIN_KUDOS)
    for service in SERVICES:
        dump = await stack.pg_dump(service)
        left = [what for what, needle in erased.needles.items() if mentions(dump, needle)]
        assert left == [], (service, left)
    # The scan is of live schemas: Fay is still in them.
    assert mentions(await stack.pg_dump("checkin"), stack.people.fay.id)
    assert mentions(await stack.pg_dump("recognition"), FAY_KUDOS)


async def test_recognition_keeps_her_case_for_the_reports_anonymised_under_no_known_id(
    stack: Stack, erased: Erased
) -> None:
    # Recognition kept her case's facts by its id; they stay, for the programme reports
    # (escalation publishes the same cells), but under random stand-ins for the case and
    # subject ids (decision 76). Escalation keeps the case by its id, with a stand-in subject.
    assert mentions(erased.dumps_before["recognition"], erased.case_id)
    assert not mentions(await stack.pg_dump("recognition"), erased.case_id)
    facts = await stack.rows("recognition", "SELECT case_id, subject_id, team_id FROM case_facts")
    assert erased.subject not in {row["subject_id"] for row in facts}
    # Other tests of the session add cases of their own people (their ids can be 32 hex
    # digits too): her case's stand-in is a case id new since the erasure, with no team.
    token = re.compile("[0-9a-f]{32}")
    before = erased.dumps_before["recognition"]
    anonymised = [
        row
        for row in facts
        if row["case_id"] not in before
        and row["team_id"] is None
        and token.fullmatch(row["case_id"])
        and token.fullmatch(row["subject_id"])
    ]
    assert anonymised, facts


async def test_no_topic_kinship_produces_names_the_erased_person(
    stack: Stack, erased: Erased
) -> None:
    erin = stack.people.erin
    topics = await stack.read_many(await stack.topics())
    clear = {k: v for k, v in erased.needles.items() if k != "subject id"}
    scanned = 0
    for name, records in topics.items():
        if name in INGESTION:
            continue
        scanned += len(records)
        for record in records:
            left = [what for what, needle in clear.items() if record_mentions(record, needle)]
            assert left == [], (name, record.offset, left)
    assert scanned > 0
    # The documented exceptions: the directory's current record for her is a tombstone...
    directory = [r for r in topics["directory.people"] if r.key == erin.id.encode()]
    assert directory and directory[-1].value is None, "Erin is tombstoned on directory.people"
    # ...and her id is on privacy.erasure.requested only as the request itself.
    for record in topics["privacy.erasure.requested"]:
        if record_mentions(record, erin.id):
            assert json.loads(record.value)["id"] == erased.erasure_id
    # Nothing links the erasure (whose request names her) to her subject id: no record on any
    # topic, ingestion topics included, names both; the subjects event names the erasure only.
    subject = erased.needles["subject id"]
    for name, records in topics.items():
        for record in records:
            linked = record_mentions(record, erased.erasure_id) and record_mentions(record, subject)
            assert not linked, (name, record.offset)
    announced = [
        json.loads(r.value)
        for r in topics["privacy.erasure.subjects"]
        if json.loads(r.value)["erasure_id"] == erased.erasure_id
    ]
    assert announced and all(a["subject_ids"] == [] and a["subjects_in_vault"] for a in announced)
    assert not [r for r in topics["privacy.erasure.subjects"] if record_mentions(r, subject)]
    # Every receipt names the erasure and counts, never the person.
    receipts = [
        json.loads(r.value)
        for r in topics["privacy.erasure.receipts"]
        if json.loads(r.value)["erasure_id"] == erased.erasure_id
    ]
    assert sorted(r["service"] for r in receipts) == sorted(SERVICES)


async def test_once_complete_nobody_can_ask_which_subjects_the_erasure_concerned(
    stack: Stack, erased: Erased
) -> None:
    path = f"/v1/erasures/{erased.erasure_id}/subjects"
    # The services that had to forget them asked while it was open; now it is complete.
    for service in ("escalation", "notifications", "recognition"):
        answer = await stack.call("GET", "checkin", path, stack.key(service))
        assert answer.status_code == 410, (service, answer.text)
        assert erased.subject not in answer.text
    # Nobody else ever could: other keys, the coordinator, the person who asked.
    for credential in (
        stack.key("hr-portal"),
        stack.key("survey-tool"),
        stack.bearer(stack.people.coordinator.id),
    ):
        assert (await stack.call("GET", "checkin", path, credential)).status_code == 403
    held = await stack.value(
        "checkin", "SELECT count(*) FROM erasure_subjects WHERE erasure_id = $1", erased.erasure_id
    )
    assert held == 0
    # Each service's ask is in the audit trail, with the erasure and a count, no subject id.
    asks = await stack.rows(
        "checkin",
        "SELECT actor, subject_id, detail::text AS detail FROM audit"
        " WHERE action = 'erasure_subjects' AND detail->>'erasure_id' = $1",
        erased.erasure_id,
    )
    assert {row["actor"] for row in asks} >= {
        "system:escalation",
        "system:notifications",
        "system:recognition",
    }
    assert all(row["subject_id"] is None and erased.subject not in row["detail"] for row in asks)


async def test_the_erased_persons_dead_letters_no_longer_open_and_others_still_do(
    stack: Stack, erased: Erased
) -> None:
    for record in erased.erin_dead_letters:
        assert await stack.open_dead_letter(record) is None
    for record in erased.fay_dead_letters:
        opened = await stack.open_dead_letter(record)
        assert opened is not None and FAY_NOTE.encode() in opened


async def test_the_open_case_is_closed_as_erased_without_alerting_anyone(
    stack: Stack, erased: Erased
) -> None:
    case = await stack.rows(
        "escalation", "SELECT status, subject_id FROM cases WHERE id = $1", erased.case_id
    )
    # Closed (resolved, with no event) and pointing at nobody (a random stand-in for the
    # subject); timings stay for the measures.
    ((status, stand_in),) = [(row["status"], row["subject_id"]) for row in case]
    assert (status, stand_in[:7]) == ("resolved", "erased:") and erased.subject not in stand_in
    subject = await stack.rows(
        "escalation", "SELECT id FROM cases WHERE subject_id = $1", erased.subject
    )
    assert subject == []
    await asyncio.sleep(3)  # six timer polls: an escalation step would have fired by now
    assert case_emails(stack, erased.case_id) == erased.alert_emails_at_erasure
    pending = await stack.rows(
        "notifications",
        "SELECT id FROM deliveries WHERE status = 'pending' AND request::text LIKE $1",
        f"%{erased.case_id}%",
    )
    assert pending == []


async def test_everyone_elses_data_is_intact(stack: Stack, erased: Erased) -> None:
    assert await fay_state(stack, erased.fay_subject) == erased.fay_before
    assert erased.fay_before["checkins"] >= 1 and erased.fay_before["kudos"] >= 1
    assert erased.fay_before["directory"] == [1] * len(SERVICES)


async def test_replaying_the_erasure_is_harmless(stack: Stack, erased: Erased) -> None:
    erin = stack.people.erin
    requests = [
        r
        for r in await stack.read("privacy.erasure.requested")
        if json.loads(r.value)["id"] == erased.erasure_id
    ]
    assert len(requests) == 1
    # The same request twice more, as the HR portal might replay it...
    await stack.publish("privacy.erasure.requested", [(requests[0].key, requests[0].value)] * 2)
    # ...and a second request for the same person, by a coordinator.
    again = await stack.call(
        "POST",
        "checkin",
        f"/v1/people/{erin.id}/erasure",
        stack.bearer(stack.people.coordinator.id),
    )
    assert again.status_code == 202, again.text
    second = again.json()["erasure_id"]
    assert second != erased.erasure_id

    async def second_complete() -> bool:
        answer = await stack.call(
            "GET", "checkin", f"/v1/erasures/{second}", stack.bearer(stack.people.coordinator.id)
        )
        return bool(answer.json()["complete"])

    assert await until(second_complete, timeout=90)
    await asyncio.sleep(2)  # time for the replayed records to be consumed
    receipts = [
        json.loads(r.value)
        for r in await stack.read("privacy.erasure.receipts")
        if json.loads(r.value)["erasure_id"] == erased.erasure_id
    ]
    assert sorted(r["service"] for r in receipts) == sorted(SERVICES)  # one each, no more
    assert await fay_state(stack, erased.fay_subject) == erased.fay_before
    for service in SERVICES:
        dump = await stack.pg_dump(service)
        assert not [n for n in erased.needles.values() if mentions(dump, n)], service
    # The replay made nobody a new subject id (the vault would otherwise link her again).
    assert await stack.subject_of(erin.id) is None

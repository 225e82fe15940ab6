"""Dead letters (issue 11, "Why" 9): a bad record on any ingestion topic, full of a person's
name, email and words, ends up on ``<topic>.dlq`` sealed, keyed by a key id (never a person
id), and dead-lettered by exactly one service.
"""

import asyncio
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.security.flows import new_id
from tests.security.stack import SERVICES, Stack, record_mentions, until

pytestmark = pytest.mark.security

SUFFIX = secrets.token_hex(3)
PERSON = f"mallory-{SUFFIX}"
NAME = f"Mallory Deadletter {SUFFIX}"
EMAIL = f"mallory.{SUFFIX}@example.org"
TEXT = f"nobody may read these private words {SUFFIX}"
SECRETS = (PERSON, NAME, EMAIL, TEXT)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def bad_records() -> dict[str, list[tuple[bytes, bytes]]]:
    """Invalid records of every ingestion topic, each naming Mallory in every way."""
    now = datetime.now(UTC).isoformat()
    key = PERSON.encode()
    everything = f"{NAME} <{EMAIL}>: {TEXT}"
    return {
        "wellbeing.checkins.submitted": [
            (key, _json({"id": new_id("ck"), "person_id": PERSON, "occurred_at": now,
                         "source": "survey", "mood": 9, "note": everything})),
            (key, everything.encode()),  # not even JSON
        ],
        "wellbeing.signals.submitted": [
            (key, _json({"id": new_id("sig"), "person_id": PERSON, "kind": "critical_incident",
                         "severity": 9, "occurred_at": now, "source": "incidents",
                         "summary": everything})),
        ],
        "directory.people": [
            (key, _json({"person_id": PERSON, "display_name": NAME, "team_id": "team-d",
                         "timezone": "Not/AZone", "channels": {"email": EMAIL},
                         "roles": [], "active": True})),
        ],
        "recognition.kudos.submitted": [
            (b"someone", _json({"id": new_id("kudos"), "from_person_id": PERSON,
                                "to_person_id": "someone", "message": everything,
                                "source": "chat"})),
        ],
        "programme.pulse.submitted": [
            (key, _json({"id": new_id("pulse"), "person_id": PERSON, "survey_id": "s",
                         "occurred_at": now, "source": everything,
                         "answers": {"programme_helps": 9}})),
        ],
        "privacy.erasure.requested": [
            (key, _json({"id": new_id("er"), "person_id": PERSON, "requested_at": "yesterday",
                         "source": everything})),
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
async def dead_letters(stack: Stack) -> dict[str, list[Any]]:
    """The dead letters the bad records became, by topic."""
    records = bad_records()
    dlqs = [f"{topic}.dlq" for topic in records]
    before = {name: len(found) for name, found in (await stack.read_many(dlqs)).items()}
    for topic, items in records.items():
        await stack.publish(topic, items)

    async def arrived() -> bool:
        now = await stack.read_many(dlqs)
        return all(len(now[f"{t}.dlq"]) - before[f"{t}.dlq"] >= len(i) for t, i in records.items())

    assert await until(arrived, timeout=90), "every bad record reached its dead-letter topic"
    await asyncio.sleep(3)  # time for a second service to dead-letter the same record, if any
    now = await stack.read_many(dlqs)
    return {topic: now[f"{topic}.dlq"][before[f"{topic}.dlq"] :] for topic in records}


@pytest.mark.parametrize("topic", list(bad_records()))
async def test_a_bad_record_is_dead_lettered_sealed_keyed_by_a_key_id_by_one_service(
    stack: Stack, dead_letters: dict[str, list[Any]], topic: str
) -> None:
    found = dead_letters[topic]
    assert len(found) == len(bad_records()[topic]), "one dead letter per record: one owner"
    for record in found:
        for secret in SECRETS:
            assert not record_mentions(record, secret), (topic, secret)
        headers = dict(record.headers)
        key_id = headers["kinship-dlq-sealed"].decode()
        assert record.key == key_id.encode() and key_id.startswith("dlk-")
        owners = await stack.dead_letter_owners(key_id)
        assert len(owners) == 1 and owners[0] in SERVICES, owners
        # Only the key kept by its owner (wrapped with KINSHIP_DEAD_LETTER_KEY) opens it.
        opened = await stack.open_dead_letter(record)
        assert opened is not None and NAME.encode() in opened
        reason = json.loads(headers["kinship-dlq-reason"])
        assert not [s for s in SECRETS if s in json.dumps(reason)], reason

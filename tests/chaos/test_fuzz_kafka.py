"""Property-based fuzz of every ingestion contract over the real broker (issue 14), the four
services in-process.

For each contract a Hypothesis corpus (derandomized: the same examples every run) of records
valid by construction or carrying exactly one defect, with random header values (not UTF-8,
duplicate names, garbage trace context), is published as one mixed stream, so valid records
share batches with invalid ones. Then:

- every valid record has exactly one effect (its row, by id) and no dead letter;
- every invalid record has exactly one dead letter, from the topic's owner, whose reason is a
  code with field errors by location, and echoes nothing the sender chose;
- no consumer group is left behind (no stuck partition), every service is still ready.
"""

import uuid
import zlib
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.chaos.fuzzing import EXAMPLES, corpus, echoes, make_unique, reason_is_safe
from tests.chaos.inprocess import InProcessPlatform
from tests.chaos.strategies import Case, cases
from tests.kafka_reading import read_all

pytestmark = pytest.mark.chaos

TOPIC = {
    "checkin": "wellbeing.checkins.submitted",
    "signal": "wellbeing.signals.submitted",
    "kudos": "recognition.kudos.submitted",
    "pulse": "programme.pulse.submitted",
    "erasure": "privacy.erasure.requested",
    "person": "directory.people",
}
OWNER = {
    "checkin": "checkin",
    "signal": "escalation",
    "kudos": "recognition",
    "pulse": "recognition",
    "erasure": "checkin",
    "person": "checkin",
}
EFFECT: dict[str, list[tuple[str, str]]] = {
    "checkin": [("checkin", "SELECT count(*) FROM checkins WHERE id = $1")],
    "signal": [
        (
            "escalation",
            "SELECT count(*) FROM processed_events WHERE consumer = 'signals' AND event_id = $1",
        )
    ],
    "kudos": [("recognition", "SELECT count(*) FROM kudos WHERE id = $1")],
    "pulse": [("recognition", "SELECT count(*) FROM pulse_responses WHERE response_id = $1")],
    "erasure": [("checkin", "SELECT count(*) FROM erasures WHERE erasure_id = $1")],
    "person": [
        (service, "SELECT count(*) FROM directory_people WHERE person_id = $1")
        for service in ("checkin", "escalation", "notifications", "recognition")
    ],
}


async def publish_cases(
    bootstrap: str, platform: InProcessPlatform, batch: list[Case]
) -> dict[tuple[str, int, int], Case]:
    """Publish every case (one stream, in order); their positions on the topics."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = []
        for case in batch:
            topic = platform.topic(TOPIC[case.contract])
            future = await producer.send(
                topic,
                value=case.body(),
                key=(case.key or "k").encode(),
                headers=case.headers,
            )
            sent.append((topic, case, future))
        positions = {}
        for topic, case, future in sent:
            metadata = await future
            positions[(topic, metadata.partition, metadata.offset)] = case
        return positions
    finally:
        await producer.stop()


async def test_every_ingestion_contract_under_fuzz_over_kafka(
    shared_platform: InProcessPlatform,
) -> None:
    platform = shared_platform
    tag = f"f{uuid.uuid4().hex[:6]}-"
    corpora = {contract: corpus(cases(contract), EXAMPLES) for contract in TOPIC}
    batch: list[Case] = []
    for contract, drawn in corpora.items():
        make_unique(drawn, f"{tag}{contract[:2]}")
        batch += drawn
    # Interleave the contracts: one stream, every topic at once.
    batch.sort(key=lambda c: zlib.crc32(f"{c.key}{c.contract}".encode()))
    positions = await publish_cases(platform.bootstrap, platform, batch)

    assert await platform.settle(timeout=120) == {}, "no consumer group is stuck"
    ready = {
        name: (await client.get("/readyz")).status_code for name, client in platform.clients.items()
    }
    assert ready == dict.fromkeys(platform.clients, 200)

    dead = await dead_letters_by_position(platform, positions)
    problems: list[str] = []
    for position, case in positions.items():
        letters = dead.get(position, [])
        if case.valid:
            problems += await valid_problems(platform, case, letters)
        else:
            problems += invalid_problems(platform, case, letters)
    assert problems == [], "\n".join(problems[:30])
    valid = sum(case.valid for case in positions.values())
    invalid = len(positions) - valid
    print(f"\nKafka fuzz: {valid} valid and {invalid} invalid records over {len(TOPIC)} topics")
    assert valid >= len(TOPIC) and invalid >= len(TOPIC), "the corpus has both kinds"


async def dead_letters_by_position(
    platform: InProcessPlatform, positions: dict[tuple[str, int, int], Case]
) -> dict[tuple[str, int, int], list[Any]]:
    """The dead letters of the published cases, by the original record's position."""
    dead: dict[tuple[str, int, int], list[Any]] = {}
    for contract in TOPIC:
        topic = platform.topic(TOPIC[contract])
        for record in await read_all(platform.bootstrap, f"{topic}.dlq", timeout=5):
            headers = dict(record.headers)
            position = (
                headers["kinship-dlq-topic"].decode(),
                int(headers["kinship-dlq-partition"]),
                int(headers["kinship-dlq-offset"]),
            )
            if position in positions:
                dead.setdefault(position, []).append(record)
    return dead


async def valid_problems(platform: InProcessPlatform, case: Case, letters: list[Any]) -> list[str]:
    """A valid record: no dead letter, exactly one effect in every service that keeps it."""
    if letters:
        reasons = [dict(r.headers)["kinship-dlq-reason"].decode() for r in letters]
        return [f"valid {case.contract} dead-lettered: {reasons} {case.payload!r:.200}"]
    if case.tombstone:
        return []
    problems = []
    for service, sql in EFFECT[case.contract]:
        found = await platform.count(service, sql, _id(case))
        if found != 1:
            problems.append(
                f"valid {case.contract} has {found} effects in {service}: {case.payload!r:.200}"
            )
    return problems


def invalid_problems(platform: InProcessPlatform, case: Case, letters: list[Any]) -> list[str]:
    """An invalid record: one dead letter from the topic's owner, with a safe reason."""
    owner = platform.settings[OWNER[case.contract]].consumer_group("events")
    mine = [r for r in letters if dict(r.headers)["kinship-dlq-consumer"].decode() == owner]
    if len(mine) != 1:
        return [f"{case.contract} with {case.defect}: {len(mine)} dead letters from its owner"]
    reason_text = dict(mine[0].headers)["kinship-dlq-reason"].decode()
    reason = reason_is_safe(reason_text)
    problems = []
    if echoed := echoes(case, reason_text):
        problems.append(f"{case.contract} {case.defect}: reason echoes {echoed}: {reason}")
    fields = case.defect.startswith(("field:", "missing:", "unknown"))
    if fields and not reason.get("errors"):
        problems.append(f"{case.contract} {case.defect}: no field errors in {reason}")
    return problems


def _id(case: Case) -> str:
    return str(case.payload["person_id" if case.contract == "person" else "id"])

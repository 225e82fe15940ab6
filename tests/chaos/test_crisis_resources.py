"""A person at immediate risk whose check-in came over Kafka receives the crisis resources
message (over HTTP they are in the response too).

Found by the chaos drill and kept here as a strict xfail until main fixed it: the check-in
service gives people random subject ids (its vault) while the notifications service looked
a subject's channels up by the HMAC of the person id, so every crisis-resources delivery
failed as ``unknown_recipient`` (12 of 12 in the drill). The notifications service now asks
the vault for the subject's delivery target.
"""

import asyncio
import uuid

import pytest

from tests.chaos.inprocess import InProcessPlatform
from tests.escalation_support import encode_person
from tests.kafka_reading import checkin, encode, publish
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.chaos


async def test_a_person_at_immediate_risk_receives_crisis_resources(
    shared_platform: InProcessPlatform, webhooks: WebhookReceiver
) -> None:
    platform = shared_platform
    person = f"g{uuid.uuid4().hex[:6]}-at-risk"
    await publish(
        platform.bootstrap,
        platform.topic("directory.people"),
        [encode_person(person, "team-g", {"webhook": webhooks.url(person)})],
    )
    sql = "SELECT count(*) FROM directory_people WHERE person_id = $1"
    assert await platform.wait_for("notifications", sql, 1, person) == 1
    body = checkin(f"{person}-c", person, phq9=[1, 1, 1, 0, 0, 0, 0, 0, 2])
    await publish(
        platform.bootstrap,
        platform.topic("wellbeing.checkins.submitted"),
        [(person.encode(), encode(body))],
    )
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        kinds = {item.headers.get("x-kinship-kind") for item in webhooks.accepted(person)}
        if "crisis_resources" in kinds:
            return
        await asyncio.sleep(0.3)
    failed = await platform.rows(
        "notifications",
        "SELECT status, last_error FROM deliveries WHERE kind = 'crisis_resources'"
        " ORDER BY created_at DESC LIMIT 1",
    )
    raise AssertionError(f"no crisis resources reached the person: {[tuple(r) for r in failed]}")

"""``notifications.requests`` (issue 11, "Why" 10 and 12): a record Kinship did not sign sends
nothing and is dead-lettered; a template that does not exist ends as failed, not pending
forever.

The attacker can write the topic but does not hold ``KINSHIP_REQUEST_SIGNING_KEY``; the tests
play Kinship's services (which do hold it) for the genuine requests.
"""

import asyncio
import json
from datetime import UTC, datetime

import pytest

from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, sign_request
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from tests.security.flows import new_id
from tests.security.stack import Person, Stack, until

pytestmark = pytest.mark.security


async def known_to_notifications(stack: Stack, person: Person) -> None:
    await stack.publish("directory.people", [person.record()])

    async def known() -> bool:
        return bool(
            await stack.value(
                "notifications",
                "SELECT count(*) FROM directory_people WHERE person_id = $1",
                person.id,
            )
        )

    assert await until(known, timeout=60)


def request_to(person: Person, template: str = "celebration") -> NotificationRequest:
    return NotificationRequest(
        id=new_id("req"),
        kind=MessageKind.CELEBRATION,
        recipient=Recipient(person_id=person.id),
        template=template,
        params={"text": "You have been selected for a prize: log in here"},
        created_at=datetime.now(UTC),
    )


async def test_a_request_kinship_did_not_sign_sends_nothing_and_is_dead_lettered(
    stack: Stack,
) -> None:
    target = stack.people.with_webhook("forged", stack.webhooks.url("forged"))
    await known_to_notifications(stack, target)
    dead_before = len(await stack.read("notifications.requests.dlq"))
    genuine, unsigned, wrong_key, copied, garbage = (request_to(target) for _ in range(5))

    def value(request: NotificationRequest) -> bytes:
        return request.model_dump_json().encode()

    attacker_key = b"an-attacker-key-of-a-perfectly-good-length-0123456789"
    forged: list[tuple[NotificationRequest, str | None]] = [
        (unsigned, None),
        (wrong_key, sign_request(attacker_key, value(wrong_key))),
        (copied, stack.sign(value(genuine))),  # a genuine signature, lifted from another
        (garbage, "sha256=" + "0" * 64),
    ]
    for request, signature in forged:
        headers = [(REQUEST_SIGNATURE_HEADER, signature.encode())] if signature else []
        await stack.publish(
            "notifications.requests", [(target.id.encode(), value(request))], headers
        )
    await stack.send_request(genuine)  # after them, on the same partition (same key)

    assert await until(lambda: stack.webhooks.at("forged"), timeout=60)
    received = [json.loads(hook.body)["delivery_id"] for hook in stack.webhooks.at("forged")]
    assert received == [genuine.id]
    ids = [request.id for request, _ in forged]
    stored = await stack.rows("notifications", "SELECT id FROM deliveries WHERE id = ANY($1)", ids)
    assert stored == []

    async def all_dead_lettered() -> bool:
        records = (await stack.read("notifications.requests.dlq"))[dead_before:]
        opened = [await stack.open_dead_letter(record) for record in records]
        return all(any(i.encode() in (o or b"") for o in opened) for i in ids)

    assert await until(all_dead_lettered, timeout=60), "the forged requests are dead letters"
    for record in (await stack.read("notifications.requests.dlq"))[dead_before:]:
        dead = dict(record.headers)
        assert dead["kinship-dlq-code"] in (b"unsigned_request", b"bad_signature"), dead
        assert record.key.startswith(b"dlk-")  # a key id, never the recipient
        assert target.id.encode() not in (record.value or b"")


async def test_a_template_that_does_not_exist_ends_as_failed_not_pending(stack: Stack) -> None:
    target = stack.people.with_webhook("untemplated", stack.webhooks.url("untemplated"))
    await known_to_notifications(stack, target)
    request = request_to(target, template="no_such_template")
    await stack.send_request(request)

    async def finished() -> list[dict[str, object]]:
        rows = await stack.rows(
            "notifications",
            "SELECT status, attempts, lease_until, last_error FROM deliveries"
            " WHERE id = $1 AND status <> 'pending'",
            request.id,
        )
        return [dict(row) for row in rows]

    done = await until(finished, timeout=60)
    assert done == [
        {"status": "failed", "attempts": 1, "lease_until": None, "last_error": "template_error"}
    ]
    receipts = [
        json.loads(r.value)
        for r in await stack.read("notifications.receipts")
        if json.loads(r.value)["request_id"] == request.id
    ]
    assert [(r["status"], r["reason"]) for r in receipts] == [("failed", "template_error")]
    await asyncio.sleep(2)  # ten poll rounds later...
    assert await finished() == done  # ...never claimed again
    assert stack.webhooks.at("untemplated") == []

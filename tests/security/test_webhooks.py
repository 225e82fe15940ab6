"""Webhooks (issue 11, "Why" 8 and 10): no SSRF, coarse failure reasons, a secret per
endpoint and a signed timestamp.

People whose directory webhook points at a loopback address the operator did not admit
(``KINSHIP_WEBHOOK_ALLOWED_HOSTS=127.0.0.1`` admits only that address), at plain http, or at a
receiver that redirects elsewhere are sent a message; a listener on each target counts the
connections it gets: none. No address outside loopback is ever put into the directory.
"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_notifications.domain.signing import endpoint_secret
from tests.receivers import free_port, webhook_problem
from tests.security.flows import new_id, send_kudos
from tests.security.stack import CALLING_SYSTEMS, ConnectionCounter, Person, Stack, until

pytestmark = pytest.mark.security

COARSE = {"failed", "timeout", "rejected_by_receiver", "refused_address", "template_error"}


@dataclass
class Targets:
    """The listeners, and the delivery id sent to each person (by their short name)."""

    on_127_0_0_1: ConnectionCounter
    on_127_0_0_2: ConnectionCounter
    on_ipv6_loopback: ConnectionCounter
    not_http: ConnectionCounter
    deliveries: dict[str, str]


async def deliver_to(stack: Stack, person: Person) -> str:
    """A signed care message to ``person`` (as a Kinship service sends one); its id."""
    request = NotificationRequest(
        id=new_id("care"),
        kind=MessageKind.SELF_CARE,
        recipient=Recipient(person_id=person.id),
        template="self_care",
        created_at=datetime.now(UTC),
    )
    await stack.send_request(request)
    return request.id


@pytest.fixture(scope="module")
async def targets(stack: Stack) -> AsyncIterator[Targets]:
    listeners = [
        ConnectionCounter("127.0.0.1"),
        ConnectionCounter("127.0.0.2"),
        ConnectionCounter("::1"),
        ConnectionCounter("127.0.0.1", greeting=b"SSH-2.0-OpenSSH_9.2\r\n"),
    ]
    for listener in listeners:
        await listener.start()
    one, two, six, ssh = listeners
    receiver = stack.webhooks
    receiver.answers["redirect"] = (
        307,
        [(b"location", f"https://127.0.0.2:{two.port}/x".encode())],
    )
    receiver.answers["unavailable"] = (503, [])
    urls = {
        "http-localhost": f"http://localhost:{one.port}/hook",
        "http-admitted": f"http://127.0.0.1:{one.port}/hook",
        "loopback-2": f"https://127.0.0.2:{two.port}/hook",
        "mapped-loopback-2": f"https://[::ffff:127.0.0.2]:{two.port}/hook",
        "ipv6-loopback": f"https://[::1]:{six.port}/hook",
        "redirected": receiver.url("redirect"),
        "closed-port": f"https://127.0.0.1:{free_port()}/hook",
        "not-http": f"https://127.0.0.1:{ssh.port}/hook",
        "unavailable": receiver.url("unavailable"),
        "fine": receiver.url("fine"),
    }
    people = {short: stack.people.with_webhook(short, url) for short, url in urls.items()}
    await stack.publish("directory.people", [p.record() for p in people.values()])
    expected = [p.id for p in people.values()]

    async def known() -> bool:
        count = await stack.value(
            "notifications",
            "SELECT count(*) FROM directory_people WHERE person_id = ANY($1)",
            expected,
        )
        return bool(count == len(expected))

    assert await until(known, timeout=60)
    deliveries = {short: await deliver_to(stack, person) for short, person in people.items()}

    async def finished() -> bool:
        rows = await stack.rows(
            "notifications",
            "SELECT count(*) AS n FROM deliveries WHERE id = ANY($1) AND status <> 'pending'",
            list(deliveries.values()),
        )
        return int(rows[0]["n"]) == len(deliveries)

    assert await until(finished, timeout=90)
    yield Targets(one, two, six, ssh, deliveries)
    for listener in listeners:
        await listener.stop()


async def view(stack: Stack, delivery_id: str) -> dict[str, Any]:
    """A delivery as a coordinator sees it."""
    answer = await stack.call(
        "GET",
        "notifications",
        f"/v1/deliveries/{delivery_id}",
        stack.bearer(stack.people.coordinator.id),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("short", ["loopback-2", "mapped-loopback-2", "ipv6-loopback"])
async def test_a_loopback_address_the_allowlist_does_not_admit_is_refused_before_connecting(
    stack: Stack, targets: Targets, short: str
) -> None:
    seen = await view(stack, targets.deliveries[short])
    assert (seen["status"], seen["last_error"]) == ("failed", "refused_address")
    assert seen["attempts"] <= 1  # refused for good, never retried
    assert targets.on_127_0_0_2.connections == 0
    assert targets.on_ipv6_loopback.connections == 0


@pytest.mark.parametrize("short", ["http-localhost", "http-admitted"])
async def test_a_plain_http_webhook_is_refused_outside_the_dev_profile(
    stack: Stack, targets: Targets, short: str
) -> None:
    seen = await view(stack, targets.deliveries[short])
    assert (seen["status"], seen["last_error"]) == ("failed", "refused_address")
    assert targets.on_127_0_0_1.connections == 0  # not even to the admitted address


async def test_a_redirect_is_not_followed(stack: Stack, targets: Targets) -> None:
    seen = await view(stack, targets.deliveries["redirected"])
    assert (seen["status"], seen["last_error"]) == ("failed", "rejected_by_receiver")
    assert stack.webhooks.at("redirect")  # the admitted receiver was called...
    assert targets.on_127_0_0_2.connections == 0  # ...and where it pointed, never


async def test_delivery_failures_are_coarse_and_only_coordinators_see_them(
    stack: Stack, targets: Targets
) -> None:
    closed = await view(stack, targets.deliveries["closed-port"])
    other_service = await view(stack, targets.deliveries["not-http"])
    assert targets.not_http.connections >= 1  # it did connect there: an open port
    # A closed port and an open one that is not a web server look the same: no port scan.
    assert {k: v for k, v in closed.items() if k not in ("id", "created_at", "finished_at")} == {
        k: v for k, v in other_service.items() if k not in ("id", "created_at", "finished_at")
    }
    assert closed["last_error"] == "failed"
    unavailable = await view(stack, targets.deliveries["unavailable"])
    assert unavailable["last_error"] == "rejected_by_receiver"
    fine = await view(stack, targets.deliveries["fine"])
    assert (fine["status"], fine["last_error"]) == ("delivered", None)
    for short, delivery_id in targets.deliveries.items():
        seen = await view(stack, delivery_id)
        assert seen["last_error"] is None or seen["last_error"] in COARSE, short
        text = json.dumps(seen)
        for detail in ("Errno", "Connect", "SSL", "certificate", "refused (", "503", "127.0.0"):
            assert detail not in text, (short, detail)
        assert str(targets.not_http.port) not in text
    path = f"/v1/deliveries/{targets.deliveries['closed-port']}"
    for system in CALLING_SYSTEMS:
        assert (
            await stack.call("GET", "notifications", path, stack.key(system))
        ).status_code == 403
    for person in (stack.people.employee, stack.people.responder_a, stack.people.manager):
        answer = await stack.call("GET", "notifications", path, stack.bearer(person.id))
        assert answer.status_code == 403, person.id


async def test_each_webhook_is_signed_with_its_endpoints_own_secret_and_timestamp(
    stack: Stack,
) -> None:
    wes, wyn = stack.people.wes, stack.people.wyn
    for person in (wes, wyn):
        await send_kudos(stack, stack.people.coordinator, person, "Thanks for the release notes")
    receiver = stack.webhooks
    assert await until(lambda: receiver.at("wes") and receiver.at("wyn"), timeout=90)
    master = stack.secrets.webhook.encode()
    secret = {
        short: endpoint_secret(master, person.channels["webhook"]).encode()
        for short, person in (("wes", wes), ("wyn", wyn))
    }
    assert secret["wes"] != secret["wyn"]
    now = datetime.now(UTC)
    for short, other in (("wes", "wyn"), ("wyn", "wes")):
        (hook,) = receiver.at(short)
        body = json.loads(hook.body)
        assert body["delivery_id"] == hook.headers["x-kinship-delivery"]
        assert hook.headers["x-kinship-timestamp"] == body["sent_at"]
        # Its own endpoint's secret verifies it; the other endpoint's and the master don't.
        assert webhook_problem(secret[short], hook.body, hook.headers, now) is None
        assert webhook_problem(secret[other], hook.body, hook.headers, now) == "bad_signature"
        assert webhook_problem(master, hook.body, hook.headers, now) == "bad_signature"
        # The signed timestamp lets a receiver refuse the same body replayed later.
        replayed_at = now + timedelta(minutes=6)
        assert webhook_problem(secret[short], hook.body, hook.headers, replayed_at) == "stale"
        # Nor can the timestamp header be moved on without the signature noticing.
        moved = {**hook.headers, "x-kinship-timestamp": replayed_at.isoformat()}
        assert webhook_problem(secret[short], hook.body, moved, replayed_at) == "stale"

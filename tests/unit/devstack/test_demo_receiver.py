"""The demo's webhook receiver (``kinship_devstack.receiver``) and the tests' receiver verify
webhooks as a real receiver should: their endpoint's secret, a body at most five minutes old.
Over ASGI and the pure checks: nothing listens on a port."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx

from kinship_devstack.receiver import DemoReceiver, endpoint_secret, verified
from kinship_notifications.domain.signing import endpoint_secret as notifications_secret
from tests.receivers import webhook_problem

MASTER = b"kinship-dev-secret"


def signed_call(secret: bytes, sent_at: datetime, **body: object) -> tuple[bytes, dict[str, str]]:
    stamp = sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raw = json.dumps({"delivery_id": "d-1", "kind": "alert", "sent_at": stamp, **body}).encode()
    headers = {
        "x-kinship-signature": "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest(),
        "x-kinship-timestamp": stamp,
        "x-kinship-delivery": "d-1",
        "x-kinship-kind": "alert",
    }
    return raw, headers


def test_the_demo_derives_each_endpoints_secret_as_the_notifications_service_does() -> None:
    url = "http://127.0.0.1:8099/ann"
    assert endpoint_secret(MASTER, url) == notifications_secret(MASTER, url).encode()
    assert endpoint_secret(MASTER, url) != endpoint_secret(MASTER, "http://127.0.0.1:8099/bob")


def test_a_fresh_body_signed_for_the_endpoint_passes_and_anything_else_fails() -> None:
    now = datetime.now(UTC)
    own = endpoint_secret(MASTER, "http://127.0.0.1:8099/ann")
    other = endpoint_secret(MASTER, "http://127.0.0.1:8099/bob")
    raw, headers = signed_call(own, now - timedelta(seconds=5))
    assert verified(own, raw, headers, now)
    assert webhook_problem(own, raw, headers, now) is None
    assert not verified(other, raw, headers, now)  # another receiver's secret
    assert webhook_problem(other, raw, headers, now) == "bad_signature"
    assert not verified(MASTER, raw, headers, now)  # the master secret signs nothing
    stale, stale_headers = signed_call(own, now - timedelta(minutes=6))  # a replay
    assert not verified(own, stale, stale_headers, now)
    assert webhook_problem(own, stale, stale_headers, now) == "stale"
    moved = headers | {"x-kinship-timestamp": now.isoformat()}  # header and body disagree
    assert not verified(own, raw, moved, now)
    assert webhook_problem(own, raw, moved, now) == "stale"
    tampered = raw.replace(b'"d-1"', b'"d-2"')
    assert not verified(own, tampered, headers, now)


async def test_the_demo_receiver_refuses_bad_calls_and_keeps_good_ones_once() -> None:
    receiver = DemoReceiver(MASTER)
    transport = httpx.ASGITransport(app=receiver)
    own = endpoint_secret(MASTER, receiver.url("ann"))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8099") as client:
        raw, headers = signed_call(own, datetime.now(UTC), case_id="k-1")
        forged, forged_headers = signed_call(b"guess", datetime.now(UTC))
        stale, stale_headers = signed_call(own, datetime.now(UTC) - timedelta(minutes=10))
        answers = [
            (await client.post("/ann", content=body, headers=h)).status_code
            for body, h in ((forged, forged_headers), (stale, stale_headers), (raw, headers))
        ]
        again = await client.post("/ann", content=raw, headers=headers)
    assert answers == [401, 401, 200] and again.status_code == 200
    assert receiver.refused == 2
    assert [(d.recipient, d.delivery_id, d.signed) for d in receiver.deliveries] == [
        ("ann", "d-1", True)
    ]

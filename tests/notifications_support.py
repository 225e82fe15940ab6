"""Helpers for notifications and recognition tests: the services run in-process."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from kinship_checkin.composition import create_app as create_checkin_app
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, sign_request
from kinship_contracts.notifications import MessageKind, NotificationRequest, Recipient
from kinship_notifications.domain.signing import endpoint_secret
from kinship_notifications.settings import NotificationSettings
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.conftest import Endpoints
from tests.database import InProcessService
from tests.escalation_support import AUTH
from tests.receivers import WEBHOOK_SECRET

__all__ = ["WEBHOOK_SECRET"]

REQUEST_SIGNING_KEY = DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"].encode()
"""What Kinship's services sign notification requests with in tests (the dev profile's)."""


def signed_headers(value: bytes, key: bytes = REQUEST_SIGNING_KEY) -> list[tuple[str, bytes]]:
    """The header a Kinship service puts on a ``notifications.requests`` record."""
    return [(REQUEST_SIGNATURE_HEADER, sign_request(key, value).encode())]


def secret_of(url: str) -> bytes:
    """The signing secret of the webhook endpoint ``url`` (what its receiver is given)."""
    return endpoint_secret(WEBHOOK_SECRET.encode(), url).encode()


Notifications = InProcessService[NotificationSettings]
"""The notifications service in-process."""

Recognition = InProcessService[RecognitionSettings]
"""The recognition service in-process."""


def kudos(
    id_: str, sender: str = "ann", to: str = "bob", message: str = "Thank you!"
) -> dict[str, Any]:
    """A ``recognition.kudos.submitted`` body (also ``POST /v1/kudos``)."""
    return {
        "id": id_,
        "from_person_id": sender,
        "to_person_id": to,
        "message": message,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "tests",
    }


async def publish_requests(
    bootstrap: str,
    topic: str,
    requests: Sequence[NotificationRequest],
    *,
    key: bytes | None = REQUEST_SIGNING_KEY,
    timestamp_ms: int | None = None,
) -> None:
    """Publish notification requests as a Kinship service does: keyed by recipient, each
    signed (``key=None``: unsigned, as an outsider or an old producer would); with
    ``timestamp_ms``, records produced then (a replayed old record keeps its timestamp)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for request in requests:
            value = request.model_dump_json().encode()
            recipient = request.recipient.person_id or request.recipient.subject_id or request.id
            headers = signed_headers(value, key) if key is not None else []
            await producer.send_and_wait(
                topic, value, key=recipient.encode(), headers=headers, timestamp_ms=timestamp_ms
            )
    finally:
        await producer.stop()


Checkin = InProcessService[CheckinSettings]


@asynccontextmanager
async def checkin_running(
    schema: str, endpoints: Endpoints
) -> AsyncIterator[tuple[FastAPI, Checkin]]:
    """A check-in service (the vault) in-process, on its own schema, settings from the
    environment the notifications fixture set."""
    settings = CheckinSettings(database_schema=schema)
    app = create_checkin_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://checkin.test"
        ) as client,
    ):
        yield app, InProcessService(client, settings, endpoints)


def message(
    id_: str, kind: MessageKind, recipient: Recipient, **fields: Any
) -> NotificationRequest:
    """A notification request of ``kind`` (its template by the same name), created now."""
    return NotificationRequest.model_validate(
        {
            "id": id_,
            "kind": kind,
            "recipient": recipient.model_dump(),
            "template": kind.value,
            "created_at": datetime.now(UTC),
            **fields,
        }
    )


async def until(check: Any, timeout: float = 20.0) -> Any:
    """Await ``check()`` until it finds something (or the timeout passes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    return await check()


async def subject_of(checkin: Checkin, person_id: str) -> str:
    """The subject id the check-in vault gives ``person_id``."""
    found = await checkin.client.post(
        "/v1/subjects/lookup", json={"person_ids": [person_id]}, headers=AUTH
    )
    assert found.status_code == 200, found.text
    return str(found.json()["subjects"][person_id])

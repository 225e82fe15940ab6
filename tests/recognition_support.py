"""Helpers for recognition tests against the real broker and database: the recognition
service in-process with its vault, a real check-in service in-process over ASGI."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI
from pydantic import SecretStr

from kinship_checkin.composition import create_app as create_checkin_app
from kinship_checkin.settings import CheckinSettings
from kinship_recognition.composition import create_app as create_recognition_app
from kinship_recognition.settings import RecognitionSettings
from tests.conftest import Endpoints
from tests.database import InProcessService
from tests.vault_support import TEST_KEY, VaultOverAsgi

Checkin = InProcessService[CheckinSettings]
"""The check-in service in-process: the vault."""


@dataclass
class RunningRecognition(InProcessService[RecognitionSettings]):
    """The recognition service in-process, and the check-in service it asks for subjects."""

    checkin: Checkin
    checkin_app: FastAPI

    async def subject(self, person_id: str) -> str:
        """The subject id the vault gives ``person_id`` (as the recognition service asks)."""
        response = await self.checkin.client.post(
            "/v1/subjects/lookup",
            json={"person_ids": [person_id]},
            headers={"Authorization": f"Bearer {TEST_KEY}"},
        )
        response.raise_for_status()
        return str(response.json()["subjects"][person_id])


@asynccontextmanager
async def checkin_running(
    schema: str, endpoints: Endpoints
) -> AsyncIterator[tuple[FastAPI, Checkin]]:
    """A check-in service on its own schema, with settings from the environment."""
    settings = CheckinSettings(database_schema=schema)
    app = create_checkin_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://checkin.test"
        ) as client,
    ):
        yield app, InProcessService(client, settings, endpoints)


@asynccontextmanager
async def recognition_running(
    schema: str, endpoints: Endpoints, kudos_daily_limit: int = 10
) -> AsyncIterator[RunningRecognition]:
    """A recognition service on ``schema``, its vault a check-in service on ``<schema>_c``;
    other settings from the environment."""
    async with checkin_running(f"{schema}_c", endpoints) as (checkin_app, checkin):
        configured = RecognitionSettings(
            database_schema=schema,
            checkin_api_key=SecretStr(TEST_KEY),
            kudos_daily_limit=kudos_daily_limit,
        )
        app = create_recognition_app(configured, VaultOverAsgi(checkin_app))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://recognition.test"
            ) as client,
        ):
            yield RunningRecognition(client, configured, endpoints, checkin, checkin_app)


async def consumed_to_end(
    service: InProcessService[Any], group: str, topic: str, count: int
) -> bool:
    """Whether ``group`` committed offsets past all ``count`` records of ``topic`` (20 s)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=service.endpoints.bootstrap_servers)
    await admin.start()
    try:
        for _ in range(200):
            offsets = await admin.list_consumer_group_offsets(group)
            committed = sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)
            if committed >= count:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await admin.close()

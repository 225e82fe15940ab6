"""The four services in one process (fast): for the fuzz and the Kafka regressions.

Each service runs its real app (HTTP routes through ``httpx.ASGITransport``, its Kafka
consumers, outbox relay and workers) against the test stack, in a schema of its own; they
share the test's topics, so they form one platform.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kinship_checkin.composition import create_app as create_checkin
from kinship_checkin.settings import CheckinSettings
from kinship_escalation.composition import create_app as create_escalation
from kinship_escalation.settings import EscalationSettings
from kinship_notifications.composition import create_app as create_notifications
from kinship_notifications.settings import NotificationSettings
from kinship_recognition.composition import create_app as create_recognition
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.settings import KinshipSettings
from kinship_runtime.vault import VaultClient
from tests.chaos.harness import (
    API_KEY,
    platform_env,
    receive_operations,
    schema_of,
    wait_for_no_lag,
)
from tests.conftest import Endpoints
from tests.database import rows
from tests.escalation_support import VaultOf, vault_client


@dataclass
class InProcessPlatform:
    """The services' HTTP clients and settings, by service name."""

    endpoints: Endpoints
    clients: dict[str, httpx.AsyncClient]
    settings: dict[str, KinshipSettings]
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.endpoints.bootstrap_servers

    def topic(self, name: str) -> str:
        return self.settings["checkin"].topic(name)

    def schema(self, service: str) -> str:
        return self.settings[service].owned_schema()

    async def rows(self, service: str, sql: str, *args: Any) -> list[Any]:
        return await rows(self.endpoints.database_url, self.schema(service), sql, *args)

    async def count(self, service: str, sql: str, *args: Any) -> int:
        return int((await self.rows(service, sql, *args))[0][0])

    async def wait_for(self, service: str, sql: str, want: int, *args: Any) -> int:
        """Polls a ``SELECT count(*)`` (with ``args``) until it reaches ``want`` or 30 s pass."""
        deadline = asyncio.get_running_loop().time() + 30
        found = await self.count(service, sql, *args)
        while found < want and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            found = await self.count(service, sql, *args)
        return found

    async def settle(self, timeout: float = 60.0) -> dict[str, int]:
        """Waits until every consumer group caught up; returns the groups still behind."""
        return await wait_for_no_lag(self.bootstrap, self.groups, timeout)


def _apps(
    service_env: dict[str, str], vault: VaultClient
) -> dict[str, tuple[FastAPI, KinshipSettings]]:
    """The four apps; the other services reach the check-in service's vault through
    ``vault`` (in-process, like their HTTP client would over the network)."""
    escalation = EscalationSettings(database_schema=schema_of(service_env, "escalation"))
    notifications = NotificationSettings(database_schema=schema_of(service_env, "notifications"))
    recognition = RecognitionSettings(database_schema=schema_of(service_env, "recognition"))
    return {
        "escalation": (create_escalation(escalation, providers=[VaultOf(vault)]), escalation),
        "notifications": (create_notifications(notifications, VaultOf(vault)), notifications),
        "recognition": (create_recognition(recognition, VaultOf(vault)), recognition),
    }


@asynccontextmanager
async def running_platform(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[InProcessPlatform]:
    """All four services of this test, started (their lifespans) and stopped afterwards."""
    for name, value in platform_env(service_env, "checkin").items():
        if name != "KINSHIP_DATABASE_SCHEMA":
            monkeypatch.setenv(name, value)
    checkin = CheckinSettings(database_schema=schema_of(service_env, "checkin"))
    checkin_app = create_checkin(checkin)
    async with AsyncExitStack() as stack:
        vault = await stack.enter_async_context(vault_client(checkin_app, API_KEY))
        apps: dict[str, tuple[FastAPI, KinshipSettings]] = {"checkin": (checkin_app, checkin)}
        apps |= _apps(service_env, vault)
        clients: dict[str, httpx.AsyncClient] = {}
        # One after the other: each creates the registry's topics on its first start.
        for name, (app, _settings) in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                    base_url=f"http://{name}.test",
                )
            )
        platform = InProcessPlatform(
            endpoints, clients, {name: settings for name, (_app, settings) in apps.items()}
        )
        prefix = service_env["KINSHIP_CONSUMER_GROUP_PREFIX"]
        for client in clients.values():
            document = (await client.get("/asyncapi.json")).json()
            platform.groups |= receive_operations(document, prefix)
        await asyncio.sleep(0)
        yield platform

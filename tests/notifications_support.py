"""Helpers for notifications and recognition tests: the services run in-process."""

from dataclasses import dataclass
from typing import Any

import httpx

from kinship_notifications.settings import NotificationSettings
from kinship_recognition.settings import RecognitionSettings
from tests.conftest import Endpoints
from tests.database import rows, wait_for_count

WEBHOOK_SECRET = "test-webhook-secret"


@dataclass
class Notifications:
    """A notifications service run in-process, with its test endpoints."""

    client: httpx.AsyncClient
    settings: NotificationSettings
    endpoints: Endpoints

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await rows(self.endpoints.database_url, self.settings.owned_schema(), sql, *args)

    async def wait_for(self, sql: str, count: int, timeout: float = 20.0) -> int:
        return await wait_for_count(
            self.endpoints.database_url, self.settings.owned_schema(), sql, count, timeout
        )


@dataclass
class Recognition:
    """A recognition service run in-process."""

    client: httpx.AsyncClient
    settings: RecognitionSettings
    endpoints: Endpoints

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await rows(self.endpoints.database_url, self.settings.owned_schema(), sql, *args)

    async def wait_for(self, sql: str, count: int, timeout: float = 20.0) -> int:
        return await wait_for_count(
            self.endpoints.database_url, self.settings.owned_schema(), sql, count, timeout
        )

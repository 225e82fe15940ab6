"""The check-in service's vault for integration tests of the other services: the check-in
app run in-process and called over ASGI (never a running stack)."""

from collections.abc import AsyncIterator

import httpx
from dishka import Provider, Scope, provide
from fastapi import FastAPI
from pydantic import SecretStr

from kinship_runtime.vault import VaultClient

TEST_KEY = "test-key"
"""The tests' API key: every scope (``subjects:lookup`` included)."""


class VaultOverAsgi(Provider):
    """A service's vault: the check-in app run in-process, called over ASGI."""

    scope = Scope.APP

    def __init__(self, checkin: FastAPI, api_key: str = TEST_KEY) -> None:
        super().__init__()
        self._checkin = checkin
        self._key = api_key

    @provide(override=True)
    async def vault(self) -> AsyncIterator[VaultClient]:
        client = VaultClient(
            "http://checkin.test",
            SecretStr(self._key),
            transport=httpx.ASGITransport(app=self._checkin),
        )
        yield client
        await client.aclose()

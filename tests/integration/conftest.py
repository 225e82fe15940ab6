"""Fixtures of the integration tests."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from kinship_escalation.bootstrap import create_app
from kinship_escalation.settings import EscalationSettings
from tests.conftest import Endpoints
from tests.escalation_support import Escalation, Starter, escalation_env


@pytest.fixture
def start_escalation(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> Starter:
    """Starts escalation service instances (several may run at once, like replicas)."""
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)

    @asynccontextmanager
    async def start() -> AsyncIterator[Escalation]:
        settings = EscalationSettings()
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://escalation.test"
            ) as client,
        ):
            yield Escalation(client, settings, endpoints)

    return start


@pytest.fixture
async def escalation(start_escalation: Starter) -> AsyncIterator[Escalation]:
    """One escalation service isolated to this test."""
    async with start_escalation() as running:
        yield running

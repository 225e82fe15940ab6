"""Fixtures of the integration tests."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import httpx
import pytest
from dishka import Provider
from pydantic import SecretStr

from kinship_escalation.composition import MIGRATIONS as ESCALATION_MIGRATIONS
from kinship_escalation.composition import create_app
from kinship_escalation.settings import EscalationSettings
from kinship_notifications.composition import create_app as create_notifications_app
from kinship_notifications.settings import NotificationSettings
from kinship_runtime.database import create_pool, migrate_schema
from tests.conftest import Endpoints
from tests.escalation_support import Escalation, Starter, VaultOf, checkin_vault, escalation_env
from tests.notifications_support import WEBHOOK_SECRET, Notifications
from tests.receivers import SmtpReceiver
from tests.recognition_support import RunningRecognition, recognition_running


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
        async with checkin_vault(settings) as vault:
            app = create_app(settings, providers=[VaultOf(vault)])
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


NotificationStarter = Callable[..., AbstractAsyncContextManager[Notifications]]
"""``start(*overrides)``: a notifications service; ``overrides`` are dishka providers that
replace what they provide (the vault over an in-process check-in service)."""


@pytest.fixture
def start_notifications(
    service_env: dict[str, str],
    endpoints: Endpoints,
    smtp: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> NotificationStarter:
    """Starts notifications service instances with short timeouts for tests."""
    settings_env = {
        "KINSHIP_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KINSHIP_SMTP_HOST": "127.0.0.1",
        "KINSHIP_SMTP_PORT": str(smtp.port),
        "KINSHIP_DELIVERY_TIMEOUT_SECONDS": "1",
        "KINSHIP_RETRY_BASE_SECONDS": "0.1",
        "KINSHIP_DELIVERY_MAX_ATTEMPTS": "5",
        "KINSHIP_DELIVERY_LEASE_SECONDS": "3",
        "KINSHIP_DELIVERY_POLL_SECONDS": "0.1",
        # The vault: a closed port unless a test runs a check-in service (never the local
        # stack's on 8001); the tests' key has every scope.
        "KINSHIP_CHECKIN_URL": "http://127.0.0.1:9",
        "KINSHIP_CHECKIN_API_KEY": "test-key",
    }
    for name, value in (escalation_env(service_env) | settings_env).items():
        monkeypatch.setenv(name, value)

    @asynccontextmanager
    async def start(*overrides: Provider) -> AsyncIterator[Notifications]:
        # Its own schema, so it can run beside an escalation service in the same test.
        settings = NotificationSettings(
            database_schema=f"{service_env['KINSHIP_DATABASE_SCHEMA']}_n"
        )
        app = create_notifications_app(settings, *overrides)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://notifications.test"
            ) as client,
        ):
            yield Notifications(client, settings, endpoints)

    return start


@pytest.fixture
async def notifications(start_notifications: NotificationStarter) -> AsyncIterator[Notifications]:
    """One notifications service isolated to this test."""
    async with start_notifications() as running:
        yield running


@pytest.fixture
async def recognition(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningRecognition]:
    """A recognition service isolated to this test (its own schema), with a check-in service
    in-process as its vault."""
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    schema = f"{service_env['KINSHIP_DATABASE_SCHEMA']}_r"
    async with recognition_running(schema, endpoints, kudos_daily_limit=3) as running:
        yield running


@pytest.fixture
async def escalation_pool(endpoints: Endpoints, database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh escalation schema, made as the service makes it (json codecs): for
    tests of the PostgreSQL unit of work without the service."""
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        await migrate_schema(conn, database, ESCALATION_MIGRATIONS)
    finally:
        await conn.close()
    settings = EscalationSettings(
        env="dev",
        database_url=SecretStr(endpoints.database_url),
        database_schema=database,
        database_pool_min=1,
        database_pool_max=2,
    )
    connections = await create_pool(settings)
    yield connections
    await connections.close()

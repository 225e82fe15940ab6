"""The console in a real browser over the real stack.

A session starts: Keycloak (from Maven Central, the demo realm imported fresh), Kafka and
PostgreSQL (tests/conftest.py), the check-in and escalation services as processes that
verify Keycloak's tokens, and the console as a process; Debian's Chromium is driven by
Playwright (never ``playwright install``). axe-core (npm) checks each page.
"""

import asyncio
import base64
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from kinship_devstack.demo import STAFF, TEAM
from kinship_devstack.keycloak import (
    DEMO_PASSWORD,
    Keycloak,
    KeycloakConfig,
    token_verification_environment,
)
from kinship_devstack.stack import stop_pid
from kinship_runtime.identity import all_scopes_key
from tests.conftest import NOTE_KEY, REPO, Endpoints
from tests.kafka_reading import publish
from tests.processes import ServiceProcess

KEYCLOAK_PORT = int(os.environ.get("KINSHIP_TEST_KEYCLOAK_PORT", "28180"))
KEYCLOAK_MANAGEMENT_PORT = int(os.environ.get("KINSHIP_TEST_KEYCLOAK_MANAGEMENT_PORT", "29180"))
# Fixed, so that the realm (its redirect URIs and client secret) is the same every run and
# Keycloak can start from the database of an earlier fresh import (Keycloak.keep_seed).
CONSOLE_PORT = int(os.environ.get("KINSHIP_TEST_CONSOLE_PORT", "28005"))
CLIENT_SECRET = "browser-tests-console-secret"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = os.environ.get("KINSHIP_CONSOLE_SCREENSHOTS")
CHROMIUM_FLAGS = [
    # The machine's network is closed: without these Chromium keeps calling home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-gpu",
]


@dataclass(frozen=True)
class Stack:
    """Where the session's parts listen."""

    console_url: str
    issuer: str
    keycloak: Keycloak
    endpoints: Endpoints
    checkin_schema: str
    console_schema: str
    session_key: bytes
    logs: Path


@pytest.fixture(scope="session")
def browser_logs() -> Path:
    logs = REPO / ".kinship" / "browser-tests"
    logs.mkdir(parents=True, exist_ok=True)
    return logs


@dataclass(frozen=True)
class Launched:
    """Keycloak starting for this session's console (its URL and client secret)."""

    keycloak: Keycloak
    console: ServiceProcess
    session_key: str


@pytest.fixture(scope="session")
def launched(browser_logs: Path) -> Iterator[Launched]:
    """Starts Keycloak first, so that it boots (6-60 s) while Kafka and PostgreSQL start."""
    if shutil.which("chromium") is None or not AXE.exists():
        pytest.fail("run scripts/bootstrap.sh: it installs Debian's chromium and npm's axe-core")
    client_secret = CLIENT_SECRET
    session_key = base64.b64encode(os.urandom(32)).decode()
    console_env = {
        "KINSHIP_ENV": "test",
        "KINSHIP_CONSOLE_OIDC_CLIENT_SECRET": client_secret,
        "KINSHIP_CONSOLE_SESSION_KEY": session_key,
    }
    console = ServiceProcess(console_env, browser_logs / "console.log", module="kinship_console")
    console.port = CONSOLE_PORT
    console.env["KINSHIP_HTTP_PORT"] = str(CONSOLE_PORT)
    keycloak = Keycloak(
        KeycloakConfig(
            state_dir=REPO / ".kinship" / "test-keycloak",
            http_port=KEYCLOAK_PORT,
            management_port=KEYCLOAK_MANAGEMENT_PORT,
            console_url=f"http://127.0.0.1:{console.port}",
            console_client_secret=client_secret,
        )
    )
    # A fresh realm (imported, or the copy of an earlier fresh import).
    stop_pid(keycloak.pid_file, 30.0)
    keycloak.launch(fresh=True)
    try:
        yield Launched(keycloak, console, session_key)
    finally:
        stop_pid(keycloak.pid_file, 30.0)


@pytest.fixture(scope="session")
async def stack(
    launched: Launched, endpoints: Endpoints, browser_logs: Path
) -> AsyncIterator[Stack]:
    """Keycloak, Kafka, PostgreSQL, check-in, escalation and the console, for the session."""
    run = uuid.uuid4().hex[:8]
    keycloak, console, session_key = launched.keycloak, launched.console, launched.session_key
    console_url = f"http://127.0.0.1:{console.port}"
    processes: list[ServiceProcess] = [console]
    try:
        await keycloak.ready()
        await keycloak.keep_seed()
        services_env = {
            "KINSHIP_ENV": "dev",
            "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "KINSHIP_DATABASE_URL": endpoints.database_url,
            "KINSHIP_TOPIC_PREFIX": f"b{run}.",
            "KINSHIP_CONSUMER_GROUP_PREFIX": f"b{run}",
            "KINSHIP_API_KEYS": all_scopes_key("tests", "test-key"),
            "KINSHIP_NOTE_KEYS": f"t1:{NOTE_KEY}",
            "KINSHIP_NOTE_KEY_ID": "t1",
            "KINSHIP_WEBHOOK_SECRET": "browser-test-webhook-secret",
            "KINSHIP_GRACEFUL_TIMEOUT_SECONDS": "5",
            # The realm's keys through OIDC discovery; the person from its person_id claim.
            **await token_verification_environment(keycloak),
        }
        checkin = ServiceProcess(
            {**services_env, "KINSHIP_DATABASE_SCHEMA": f"b{run}_checkin"},
            browser_logs / "checkin.log",
            module="kinship_checkin",
        )
        escalation = ServiceProcess(
            {**services_env, "KINSHIP_DATABASE_SCHEMA": f"b{run}_escalation"},
            browser_logs / "escalation.log",
            module="kinship_escalation",
        )
        escalation.env["KINSHIP_PUBLIC_URL"] = f"http://127.0.0.1:{escalation.port}"
        console.env.update(
            {
                "KINSHIP_DATABASE_URL": endpoints.database_url,
                "KINSHIP_DATABASE_SCHEMA": f"b{run}_console",
                "KINSHIP_CONSOLE_PUBLIC_URL": console_url,
                "KINSHIP_CONSOLE_OIDC_ISSUER": keycloak.issuer,
                "KINSHIP_CONSOLE_CHECKIN_URL": f"http://127.0.0.1:{checkin.port}",
                "KINSHIP_CONSOLE_ESCALATION_URL": f"http://127.0.0.1:{escalation.port}",
            }
        )
        processes += [checkin, escalation]
        for process in processes:
            process.start()
        await asyncio.gather(*(process.ready() for process in processes))
        await _publish_directory(endpoints, run)
        yield Stack(
            console_url,
            keycloak.issuer,
            keycloak,
            endpoints,
            f"b{run}_checkin",
            f"b{run}_console",
            base64.b64decode(session_key),
            browser_logs,
        )
    finally:
        for process in processes:
            process.stop()
        await _drop_schemas(endpoints, run)


def _directory_records() -> list[tuple[bytes, bytes]]:
    """The demo organisation (the realm's people) as the HR system publishes it: the services
    take people's roles and teams from this directory, never from a token's claims."""
    people: list[tuple[str, str, list[str]]] = [(name, team, []) for name, team in TEAM] + [
        (name, team, roles) for name, team, roles, _channel in STAFF
    ]
    return [
        (
            name.encode(),
            json.dumps(
                {
                    "person_id": name,
                    "display_name": name.title(),
                    "team_id": team,
                    "timezone": "Europe/London",
                    "roles": roles,
                    "channels": {"email": f"{name}@example.org"},
                    "active": True,
                }
            ).encode(),
        )
        for name, team, roles in people
    ]


async def _publish_directory(endpoints: Endpoints, run: str) -> None:
    """Publish the directory and wait until check-in and escalation both hold it."""
    records = _directory_records()
    await publish(endpoints.bootstrap_servers, f"b{run}.directory.people", records)
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        for _ in range(300):
            counts = [
                await conn.fetchval(f'SELECT count(*) FROM "b{run}_{service}".directory_people')
                for service in ("checkin", "escalation")
            ]
            if all(count >= len(records) for count in counts):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the directory did not reach check-in and escalation: {counts}")
    finally:
        await conn.close()


async def _drop_schemas(endpoints: Endpoints, run: str) -> None:
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        for suffix in ("checkin", "escalation", "console"):
            await conn.execute(f'DROP SCHEMA IF EXISTS "b{run}_{suffix}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        yield chromium
        await chromium.close()


@dataclass
class Visit:
    """A browser context (one person's browser) with its page and what went wrong in it."""

    context: BrowserContext
    page: Page
    stack: Stack
    csp_violations: list[str]

    async def sign_in(self, person: str, password: str = DEMO_PASSWORD) -> None:
        """Through Keycloak's own sign-in form, as a person would."""
        await self.page.goto(f"{self.stack.console_url}/signin")
        await self.page.fill("#username", person)
        await self.page.fill("#password", password)
        await self.page.click("#kc-login")

    async def axe(self) -> list[dict[str, Any]]:
        """Serious and critical axe-core violations on the current page."""
        # Injected through the DevTools protocol: the console's CSP rightly refuses inline
        # scripts, and this keeps the page's CSP in force while axe runs.
        if not await self.page.evaluate("typeof window.axe !== 'undefined'"):
            source = await asyncio.to_thread(AXE.read_text)
            await self.page.evaluate(source + "\n;undefined")
        result = await self.page.evaluate(
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
            " nodes: v.nodes.map(n => n.target.join(' '))})))"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]

    async def screenshot(self, name: str) -> None:
        """Phone (360 px) and desktop shots under $KINSHIP_CONSOLE_SCREENSHOTS, when set."""
        if not SCREENSHOTS:
            return
        target = Path(SCREENSHOTS)
        await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
        for label, width, height in (("phone", 360, 780), ("desktop", 1280, 900)):
            await self.page.set_viewport_size({"width": width, "height": height})
            await self.page.screenshot(path=str(target / f"{name}-{label}.png"), full_page=True)
        await self.page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
async def visit(stack: Stack, browser: Browser) -> AsyncIterator[Visit]:
    async with _visit(stack, browser, locale="en-GB") as opened:
        yield opened


@asynccontextmanager
async def _visit(stack: Stack, browser: Browser, locale: str) -> AsyncIterator[Visit]:
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield Visit(context, page, stack, violations)
    finally:
        await context.close()


@pytest.fixture
def open_visit(stack: Stack, browser: Browser) -> Iterator[Any]:
    """Opens more browsers (another person, another language) within a test."""

    def opener(locale: str = "en-GB") -> Any:
        return _visit(stack, browser, locale)

    yield opener


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT (no verification: for assertions about what Keycloak issued)."""
    body = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))

"""Screenshots of pages whose real data the browser tests cannot produce yet ("My cases"
with cases: the services do not yet map a Keycloak user to a person). The console runs in
this process over the unit tests' fakes, with sample cases; Chromium takes phone and desktop
shots into docs/console/ (``uv run python -m tests.browser.sample_screens``).
"""

import asyncio
import re
import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from kinship_console.adapters.api import CaseSummary
from kinship_console.bootstrap import create_app
from kinship_console.clock import Clock
from tests.browser.conftest import CHROMIUM_FLAGS
from tests.unit.console.conftest import console_settings
from tests.unit.console.fakes import FakeApi, FakeProvider, MemorySessionStore

OUT = Path(__file__).resolve().parents[2] / "docs" / "console"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def sample_console() -> AsyncIterator[str]:
    """The console in this process over fakes with sample cases, signed in as rosa; its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC)
    cases = [
        ("3f9c2a71-demo", "assigned", "critical", timedelta(minutes=4)),
        ("8b1e55d0-demo", "acknowledged", "high", timedelta(hours=5)),
        ("c47a9e12-demo", "contacted", "medium", timedelta(days=2)),
    ]
    api = FakeApi(
        cases=[
            CaseSummary(case_id=case_id, status=status, severity=severity, opened_at=now - age)
            for case_id, status, severity, age in cases
        ]
    )
    clock = Clock()
    app = create_app(
        console_settings(console_public_url=url),
        api=api,
        provider=FakeProvider(person_id="rosa"),
        store=MemorySessionStore(timedelta(minutes=30), clock),
        clock=clock,
        readiness={},
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        await serving


async def signed_in_page(browser: Browser, url: str, locale: str) -> tuple[BrowserContext, Page]:
    """A browser signed in through the fake provider (it signs in at once)."""
    context = await browser.new_context(locale=locale)
    page = await context.new_page()

    async def sign_in(route: Route) -> None:
        response = await route.fetch(max_redirects=0)
        headers = dict(response.headers)
        state = parse_qs(urlsplit(headers["location"]).query)["state"][0]
        headers["location"] = f"{url}/auth/callback?state={state}&code=c"
        await route.fulfill(status=302, headers=headers)

    await page.route(re.compile(r".*/signin\?.*"), sign_in)
    await page.goto(f"{url}/signin?next=/cases")
    await page.wait_for_url(f"{url}/cases")
    return context, page


async def main() -> None:
    async with sample_console() as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        for locale, suffix in (("en-GB", ""), ("de-DE", "-de")):
            context, page = await signed_in_page(browser, url, locale)
            for label, width, height in (("phone", 360, 780), ("desktop", 1280, 900)):
                await page.set_viewport_size({"width": width, "height": height})
                await page.screenshot(
                    path=str(OUT / f"my-cases-sample{suffix}-{label}.png"), full_page=True
                )
            await context.close()
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())

"""A 10 MB body to any service is answered 413 over a real server (issue 14: escalation reset
the connection instead), whether its length is declared or it arrives chunked, with or
without credentials."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.chaos.harness import AUTH, Platform

pytestmark = pytest.mark.chaos

TEN_MB = 10 * 1024 * 1024
ROUTES = {
    "checkin": ("POST", "/v1/checkins"),
    "escalation": ("POST", "/v1/cases/c-1/acknowledge"),
    "notifications": ("PUT", "/v1/preferences/p-1"),
    "recognition": ("POST", "/v1/kudos"),
}


async def chunks() -> AsyncIterator[bytes]:
    block = b"{" + b" " * (1024 * 1024 - 1)
    for _ in range(10):
        yield block


async def test_a_10_mb_body_is_413_from_every_service(platform: Platform) -> None:
    await platform.start()
    answers: dict[tuple[str, str, bool], int | str] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for service, (method, path) in ROUTES.items():
            url = platform.url(service, path)
            for declared in (True, False):
                for headers in (AUTH, {}):
                    content = b"{" + b" " * (TEN_MB - 1) if declared else chunks()
                    try:
                        response = await client.request(
                            method,
                            url,
                            content=content,
                            headers={**headers, "content-type": "application/json"},
                        )
                        answers[(service, "declared" if declared else "chunked", bool(headers))] = (
                            response.status_code
                        )
                    except httpx.TransportError as error:
                        answers[(service, "declared" if declared else "chunked", bool(headers))] = (
                            type(error).__name__
                        )
    wanted = {key: 413 for key in answers}
    # Chunked and unauthenticated: the body is refused for want of credentials before it is
    # read (401); a declared length is refused for its size first.
    for service in ROUTES:
        wanted[(service, "chunked", False)] = 401
    assert answers == wanted
    ready = await platform.wait_ready(10)
    assert {name: code for name, (code, _) in ready.items()} == dict.fromkeys(ROUTES, 200)

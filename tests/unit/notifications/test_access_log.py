"""The notifications service's access log carries no person id, query string or client
address (``kinship_notifications.access_log``), with a real uvicorn on loopback."""

import asyncio
import io
import json
import logging

import httpx
import uvicorn
from fastapi import FastAPI

from kinship_notifications import access_log
from kinship_runtime.telemetry import JsonFormatter
from tests.receivers import free_port


def test_paths_keep_their_first_two_segments_and_lose_the_query() -> None:
    assert access_log.redacted_path("/v1/preferences/ann-q7?token=abc") == "/v1/preferences/…"
    assert access_log.redacted_path("/v1/deliveries/alert:1") == "/v1/deliveries/…"
    assert access_log.redacted_path("/readyz?probe=1") == "/readyz"
    assert access_log.redacted_path("/") == "/"


async def test_a_request_is_logged_without_the_person_the_token_or_the_client() -> None:
    app = FastAPI()

    @app.get("/v1/preferences/{person_id}")
    async def preferences(person_id: str) -> dict[str, str]:
        return {}

    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter("notifications"))
    logger = logging.getLogger(access_log.ACCESS_LOGGER)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    access_log.install()
    access_log.install()  # once is enough
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/v1/preferences/ann-q7?token=SECRET-TOKEN"
            assert (await client.get(url)).status_code == 200
    finally:
        server.should_exit = True
        await task
        logger.removeHandler(handler)
        logger.setLevel(level)
        for found in [f for f in logger.filters if isinstance(f, access_log.RedactedAccessLog)]:
            logger.removeFilter(found)
    logged = lines.getvalue()
    assert [json.loads(line)["message"] for line in logged.splitlines()] == [
        '"GET /v1/preferences/… HTTP/1.1" 200'
    ]
    for secret in ("ann-q7", "SECRET-TOKEN", "token=", "127.0.0.1"):
        assert secret not in logged

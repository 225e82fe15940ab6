"""The access log names routes, never paths, query strings or clients (kinship_runtime.access_log)."""

import logging

import httpx
import pytest
from fastapi import FastAPI

from kinship_runtime.access_log import AccessLog


def app() -> AccessLog:
    inner = FastAPI()

    @inner.get("/v1/preferences/{person_id}")
    async def preferences(person_id: str) -> dict[str, str]:
        return {}

    return AccessLog(inner)


async def test_a_request_is_logged_by_its_route_template_without_ids_tokens_or_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = httpx.ASGITransport(app=app(), client=("10.9.8.7", 5555))
    with caplog.at_level(logging.INFO, "kinship.access"):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/v1/preferences/ann-person-42?token=SECRET-TOKEN")
            await client.get("/nothing/here?token=SECRET-TOKEN")
    lines = [r.getMessage() for r in caplog.records if r.name == "kinship.access"]
    assert lines[0].startswith("GET /v1/preferences/{person_id} 200 ")
    assert lines[1].startswith("GET <unmatched> 404 ")
    text = "\n".join(lines)
    for secret in ("ann-person-42", "SECRET-TOKEN", "10.9.8.7"):
        assert secret not in text

"""Issue 14's HTTP cases (the four services in-process, real database and broker).

- A lone surrogate or a NUL in stored text, and timestamps at the edges of RFC 3339 (year 1
  and 9999 with extreme offsets), are a 422 with field errors, never a 500.
- ``%00`` (and other hostile text) as a path parameter of any route is a 4xx, never a 500:
  every route with a parameter, from each service's own OpenAPI document.
"""

import json
import re
from typing import Any

import httpx
import pytest

from tests.chaos.harness import AUTH
from tests.chaos.inprocess import InProcessPlatform
from tests.escalation_support import bearer
from tests.kafka_reading import checkin
from tests.notifications_support import kudos

pytestmark = pytest.mark.chaos


def raw(body: dict[str, Any], **replace: str) -> bytes:
    """``body`` as JSON whose listed fields hold raw JSON text (escapes a client library
    would refuse to produce: ``"\\ud800"``, ``"\\u0000"``)."""
    text = json.dumps(body)
    for name, literal in replace.items():
        text = re.sub(rf'"{name}": "[^"]*"', f'"{name}": {literal}'.replace("\\", "\\\\"), text)
    return text.encode()


JSON = {"content-type": "application/json", **AUTH}

HOSTILE_TEXT = {
    "lone surrogate": '"note \\ud800 here"',
    "low surrogate": '"\\udfff"',
    "NUL": '"a\\u0000b"',
}

EDGE_TIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
]


@pytest.mark.parametrize("what", sorted(HOSTILE_TEXT))
async def test_unstorable_text_is_a_422_with_the_field_named(
    shared_platform: InProcessPlatform, what: str
) -> None:
    literal = HOSTILE_TEXT[what]
    checkins = shared_platform.clients["checkin"]
    recognition = shared_platform.clients["recognition"]
    cases = [
        (checkins, "/v1/checkins", checkin("h-1", note="x"), "note"),
        (checkins, "/v1/checkins", checkin("h-2"), "source"),
        (recognition, "/v1/kudos", kudos("h-3"), "message"),
        (recognition, "/v1/kudos", kudos("h-4"), "source"),
    ]
    for client, path, body, field in cases:
        response = await client.post(path, content=raw(body, **{field: literal}), headers=JSON)
        assert response.status_code == 422, (path, field, response.status_code, response.text)
        locations = [error["loc"] for error in response.json()["detail"]]
        assert ["body", field] in locations, locations


@pytest.mark.parametrize("at", EDGE_TIMES)
async def test_timestamps_at_the_edges_are_a_422(
    shared_platform: InProcessPlatform, at: str
) -> None:
    checkins = shared_platform.clients["checkin"]
    recognition = shared_platform.clients["recognition"]
    for client, path, body, field in [
        (checkins, "/v1/checkins", checkin("h-5", occurred_at=at), "occurred_at"),
        (recognition, "/v1/kudos", kudos("h-6") | {"occurred_at": at}, "occurred_at"),
    ]:
        response = await client.post(path, json=body, headers=AUTH)
        assert response.status_code == 422, (path, at, response.status_code, response.text)
        assert ["body", field] in [error["loc"] for error in response.json()["detail"]]
        assert at not in response.text, "the value is not echoed"


HOSTILE_IDS = [
    "%00",
    "a%00b",
    "%ED%A0%80",  # an encoded surrogate: not UTF-8
    "%FF%FE",
    "%C0%AF",  # an overlong encoding
    "x" * 5000,
    "..%2F..%2Fetc",
    "%0D%0Aset-cookie:%20x",
    "%E2%80%AE",  # right-to-left override
]


async def _routes(client: httpx.AsyncClient) -> list[tuple[str, str, list[str]]]:
    """(method, path template, query parameter names) of every route with a parameter."""
    document = (await client.get("/openapi.json")).json()
    return [
        (
            method.upper(),
            path,
            [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"],
        )
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "{" in path or any(p["in"] == "query" for p in operation.get("parameters", []))
    ]


@pytest.mark.parametrize("service", ["checkin", "escalation", "notifications", "recognition"])
async def test_hostile_path_and_query_parameters_are_never_a_5xx(
    shared_platform: InProcessPlatform, service: str
) -> None:
    client = shared_platform.clients[service]
    routes = await _routes(client)
    assert routes, "every service has routes with parameters"
    failures = []
    for method, template, query in routes:
        for hostile in HOSTILE_IDS:
            path = re.sub(r"\{[^}]+\}", hostile, template)
            if query:
                path += "?" + "&".join(f"{name}={hostile}" for name in query)
            # As a calling system, and as a person (a responder and coordinator) with a token.
            for headers in (AUTH, bearer("resp-a", "peer_responder", "coordinator")):
                body = {"person_id": "resp-a", "outcome": "supported", "to_person_id": "x"}
                response = await client.request(
                    method, path, json=body if method in ("POST", "PUT") else None, headers=headers
                )
                if response.status_code >= 500:
                    failures.append((method, template, hostile[:20], response.status_code))
    assert failures == [], failures

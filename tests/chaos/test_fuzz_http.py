"""Property-based fuzz of every HTTP route (issue 14), the four services in-process on the
real stack.

- The ingestion bodies (``POST /v1/checkins``, ``/v1/kudos``, ``/v1/pulse``) get the same
  Hypothesis corpora as the Kafka fuzz: a valid body is 202 and has exactly one effect, sent
  twice it is 202 again with no second effect; an invalid one is a 4xx whose body echoes
  nothing the sender chose.
- Every route of every service, from its own OpenAPI document, gets Hypothesis-drawn JSON
  (any shape, lone surrogates, NULs, huge numbers) and raw bytes, as a calling system and as
  a signed-in person: never a 5xx.
"""

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st

from tests.chaos.fuzzing import EXAMPLES, corpus, echoes, make_unique
from tests.chaos.harness import AUTH
from tests.chaos.inprocess import InProcessPlatform
from tests.chaos.strategies import PLANT, Case, cases
from tests.escalation_support import bearer

pytestmark = pytest.mark.chaos

ROUTE = {
    "checkin": ("checkin", "/v1/checkins"),
    "kudos": ("recognition", "/v1/kudos"),
    "pulse": ("recognition", "/v1/pulse"),
}
EFFECT = {
    "checkin": ("checkin", "SELECT count(*) FROM checkins WHERE id = $1"),
    "kudos": ("recognition", "SELECT count(*) FROM kudos WHERE id = $1"),
    "pulse": ("recognition", "SELECT count(*) FROM pulse_responses WHERE response_id = $1"),
}
JSON = {"content-type": "application/json", **AUTH}


async def _ingestion_problems(platform: InProcessPlatform, contract: str, case: Case) -> list[str]:
    service, path = ROUTE[contract]
    client = platform.clients[service]
    # Headers are Kafka's: over HTTP a ce_id that disagrees with the body is no defect.
    valid = case.valid or case.defect == "ce_id_mismatch"
    body = case.body() or b""
    first = await client.post(path, content=body, headers=JSON)
    problems = []
    if valid:
        again = await client.post(path, content=body, headers=JSON)
        if (first.status_code, again.status_code) != (202, 202):
            problems.append(
                f"valid {contract}: {first.status_code} then {again.status_code} "
                f"{first.text[:200]} {case.payload!r:.200}"
            )
        table, sql = EFFECT[contract]
        if (found := await platform.count(table, sql, case.payload["id"])) != 1:
            problems.append(f"valid {contract} has {found} effects: {case.payload!r:.200}")
        return problems
    if not 400 <= first.status_code < 500:
        problems.append(f"{contract} {case.defect}: {first.status_code} {first.text[:200]}")
    if echoed := echoes(case, first.text):
        problems.append(f"{contract} {case.defect}: the answer echoes {echoed}: {first.text}")
    return problems


async def test_ingestion_bodies_under_fuzz_over_http(shared_platform: InProcessPlatform) -> None:
    tag = f"h{uuid.uuid4().hex[:6]}-"
    problems: list[str] = []
    counts = {"valid": 0, "invalid": 0}
    for contract in ROUTE:
        drawn = corpus(cases(contract), EXAMPLES)
        make_unique(drawn, f"{tag}{contract[:2]}")
        for case in drawn:
            counts["valid" if case.valid else "invalid"] += 1
            problems += await _ingestion_problems(shared_platform, contract, case)
    assert problems == [], "\n".join(problems[:30])
    print(f"\nHTTP ingestion fuzz: {counts} bodies over {len(ROUTE)} routes")
    assert counts["valid"] >= len(ROUTE) and counts["invalid"] >= len(ROUTE)


# Every route -------------------------------------------------------------------------------

HOSTILE_STRINGS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\ud800", "\udfff", "a\x00b", "", " ", "x" * 3000, f"{PLANT}-secret"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    HOSTILE_STRINGS,
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(HOSTILE_STRINGS, inner, max_size=5)
    ),
    max_leaves=12,
)


@st.composite
def shaped_like(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    """An object with (some of) the route's own field names, each holding anything."""
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    body = {name: draw(ANY_JSON) for name in chosen}
    if draw(st.booleans()):
        body[f"{PLANT}_{draw(st.integers(0, 999))}"] = draw(ANY_JSON)
    return body


BODY_BYTES = [
    b"",
    b"{",
    b"null",
    b"\xff\xfe",
    b'{"a": "\xed\xa0\x80"}',
    b"{" * 5000,
    b"[" * 5000,
    b'{"a": 1e999999}',
    b'{"a": ' + b"9" * 5000 + b"}",
]


def _fields(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    """The property names of an operation's JSON body (one level of ``$ref``)."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


async def _operations(client: httpx.AsyncClient) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path with parameters filled, query names, body field names) of every route."""
    document = (await client.get("/openapi.json")).json()
    found = []
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            path = re.sub(r"\{[^}]+\}", "fz-1", template)
            found.append((method.upper(), path, query, _fields(document, operation)))
    return found


@pytest.mark.parametrize("service", ["checkin", "escalation", "notifications", "recognition"])
async def test_every_route_under_fuzz_is_never_a_5xx(
    shared_platform: InProcessPlatform, service: str
) -> None:
    client = shared_platform.clients[service]
    operations = await _operations(client)
    callers = [AUTH, bearer("fz-person", "peer_responder", "coordinator")]
    failures: list[tuple[str, str, int, str]] = []
    sent = 0
    for method, path, query, fields in operations:
        if method not in ("POST", "PUT", "PATCH", "GET", "DELETE"):
            continue
        bodies: list[bytes] = list(BODY_BYTES)
        if method in ("POST", "PUT", "PATCH"):
            for shaped in corpus(shaped_like(fields), max(EXAMPLES // 2, 10)):
                bodies.append(json.dumps(shaped).encode())
            for junk in corpus(ANY_JSON, 10):
                bodies.append(json.dumps(junk).encode())
        queries = (
            corpus(st.dictionaries(st.sampled_from(query), HOSTILE_STRINGS), 5) if query else []
        )
        for index, body in enumerate(bodies):
            params = queries[index % len(queries)] if queries else None
            headers = {"content-type": "application/json", **callers[index % 2]}
            response = await client.request(
                method, path, content=body, headers=headers, params=_encodable(params)
            )
            sent += 1
            if response.status_code >= 500:
                failures.append((method, path, response.status_code, repr(body[:80])))
    assert failures == [], failures[:20]
    print(f"\n{service}: {sent} fuzzed requests over {len(operations)} routes, no 5xx")


def _encodable(params: dict[str, str] | None) -> dict[str, str] | None:
    """Query values httpx can put in a URL (a lone surrogate goes as its escaped text)."""
    if params is None:
        return None
    return {
        name: value.encode("utf-8", "backslashreplace").decode() for name, value in params.items()
    }

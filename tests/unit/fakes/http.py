"""The HTTP side of unit tests: a service's real routes with fakes behind them, and the real
identity verifier with test keys and people's test tokens."""

import json
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
from dishka import Provider, make_async_container
from dishka.integrations.fastapi import setup_dishka
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_runtime.access import Person
from kinship_runtime.http import create_http_app
from kinship_runtime.identity import (
    ApiKeys,
    IdentityVerifier,
    JwtRules,
    JwtVerifier,
    parse_api_keys,
)

ISSUER = "http://127.0.0.1:9/idp"
JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def bearer(person_id: str, **claims: Any) -> dict[str, str]:
    """The Authorization header of a person's token (HS256, a minute long) that
    ``identities`` accepts; ``claims`` add to or replace the standard ones."""
    now = int(time.time())
    standard = {"sub": person_id, "aud": "kinship", "iss": ISSUER, "iat": now, "exp": now + 60}
    return {"Authorization": f"Bearer {jwt.encode({**standard, **claims}, JWT_SECRET, 'HS256')}"}


def identities(keys: Sequence[Mapping[str, Any]]) -> IdentityVerifier:
    """The runtime's verifier with these API keys (``name``, ``scopes``, ``key`` each) and
    people's tokens as ``bearer`` makes them."""
    return IdentityVerifier(
        ApiKeys(parse_api_keys(json.dumps(list(keys)))),
        JwtVerifier(
            JwtRules(issuer=ISSUER, audience="kinship", max_lifetime_seconds=600),
            secret=SecretStr(JWT_SECRET),
        ),
    )


class FakePeople:
    """The runtime's ``PeopleDirectory`` over a fixed table of people; ``left`` names people
    the directory knows but who are no longer active."""

    def __init__(self, people: Sequence[Person], left: Collection[str] = ()) -> None:
        self.people = {person.person_id: person for person in people}
        self.left = frozenset(left)

    async def person(self, person_id: str) -> tuple[Person, bool] | None:
        if person_id in self.left:
            return Person(person_id), False
        found = self.people.get(person_id)
        return (found, True) if found else None


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def routes_app(service: str, router: APIRouter) -> FastAPI:
    """The app the runtime builds for a service, with only ``router`` (no lifespan, a broker
    that never connects); the caller sets up its dependencies."""
    return create_http_app(
        title=f"{service} (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[router],
        broker=KafkaBroker("127.0.0.1:9"),
    )


@asynccontextmanager
async def routes_client(
    service: str, router: APIRouter, *providers: Provider
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``router`` in the app the runtime builds for a service (no lifespan, a
    broker that never connects), the dependencies coming from ``providers``."""
    container = make_async_container(*providers)
    app = routes_app(service, router)
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as http:
            yield http
    finally:
        await container.close()

"""A console wired to fakes: the services, the identity provider and the session store."""

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from kinship_console.adapters.api import Me
from kinship_console.bootstrap import create_app
from kinship_console.clock import Clock
from kinship_console.settings import ConsoleSettings
from tests.unit.console.cases_fakes import FakeCasesApi
from tests.unit.console.fakes import FakeApi, FakeProvider, MemorySessionStore

PUBLIC_URL = "http://127.0.0.1:8005"


def console_settings(**overrides: object) -> ConsoleSettings:
    values: dict[str, object] = {
        "console_public_url": PUBLIC_URL,
        "console_oidc_issuer": "http://127.0.0.1:28180/realms/kinship",
        "console_oidc_client_secret": "unit-test-client-secret",
        "console_session_key": base64.b64encode(os.urandom(32)).decode(),
        **overrides,
    }
    return ConsoleSettings(**values)  # type: ignore[arg-type]


@dataclass
class Console:
    """The app under test and its fakes."""

    client: TestClient
    api: FakeApi
    provider: FakeProvider
    store: MemorySessionStore
    clock: Clock

    def sign_in(self, next_path: str = "/") -> None:
        started = self.client.get("/signin", params={"next": next_path}, follow_redirects=False)
        assert started.status_code == 302
        state = re.search(r"state=([^&]+)", started.headers["location"])
        assert state is not None
        done = self.client.get(
            "/auth/callback", params={"state": state.group(1), "code": "c"}, follow_redirects=False
        )
        assert done.status_code == 303, done.text

    def csrf(self, path: str = "/checkin") -> str:
        page = self.client.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None, "the page has no CSRF token"
        return found.group(1)

    def submission_id(self) -> str:
        page = self.client.get("/checkin")
        found = re.search(r'name="submission_id" value="([^"]+)"', page.text)
        assert found is not None
        return found.group(1)


@pytest.fixture
def console() -> Iterator[Console]:
    clock = Clock()
    settings = console_settings()
    store = MemorySessionStore(timedelta(minutes=settings.console_session_idle_minutes), clock)
    api, provider = FakeApi(), FakeProvider()
    app = create_app(settings, api=api, provider=provider, store=store, clock=clock, readiness={})
    # https: the session cookie is Secure, and a test client only returns it over https.
    with TestClient(app, base_url="https://127.0.0.1:8005") as client:
        yield Console(client, api, provider, store, clock)


def console_as(person_id: str, roles: list[str]) -> Iterator[Console]:
    """A console over the case and on-call fakes, for ``person_id`` with these directory
    roles (the coordinator's and responder's pages)."""

    clock = Clock()
    settings = console_settings()
    store = MemorySessionStore(timedelta(minutes=settings.console_session_idle_minutes), clock)
    api = FakeCasesApi(acting=person_id, person=Me(person_id=person_id, roles=roles))
    provider = FakeProvider(person_id=person_id)
    app = create_app(settings, api=api, provider=provider, store=store, clock=clock, readiness={})
    with TestClient(app, base_url="https://127.0.0.1:8005") as client:
        yield Console(client, api, provider, store, clock)

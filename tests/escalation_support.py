"""Helpers for escalation tests: a service run in-process (with the check-in service as its
vault, or beside it whole: ``escalation_beside_checkin``), directory and check-in records."""

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from dishka import Provider, Scope, provide
from fastapi import FastAPI
from pydantic import SecretStr

from kinship_checkin.composition import create_app as create_checkin_app
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.checkins import CheckinRecorded, DerivedScores
from kinship_contracts.links import mint_ack_token
from kinship_escalation.composition import create_app
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.vault import VaultClient
from tests.conftest import Endpoints
from tests.database import InProcessService, rows, wait_for_count
from tests.kafka_reading import encode, publish, read_all

AUTH = {"Authorization": "Bearer test-key"}
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"
JWT_ISSUER = "http://127.0.0.1:9/kinship-tests"


class TestSubjects:
    """Stable, made-up subject ids for test people (the check-in vault draws random ones)."""

    __test__ = False

    def subject_id(self, person_id: str) -> str:
        """The test subject id of ``person_id``."""
        return hashlib.sha256(b"kinship-test-subject:" + person_id.encode()).hexdigest()


SUBJECTS = TestSubjects()
"""Subject ids for events the tests publish themselves (the escalation service never derives
one: it takes them from the events, and asks the check-in service's vault for the rest)."""


def bearer(person_id: str, *roles: str) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": person_id,
        "aud": "kinship",
        "iss": JWT_ISSUER,
        "iat": now,
        "exp": now + 600,
        "roles": list(roles),  # ignored by the services: roles come from the directory
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


class Escalation(InProcessService[EscalationSettings]):
    """The escalation service in-process."""

    def link(self, alert: dict[str, Any]) -> str:
        """The path of an alert's acknowledgement link with the token the notifications
        service adds when it sends the alert (minted here with the same secret)."""
        expires = datetime.fromisoformat(alert["expires_at"])
        token = mint_ack_token(self.settings.ack_link_secret(), alert["alert_id"], expires)
        path = str(alert["ack_url"]).removeprefix(self.settings.public_url)
        return f"{path}?token={token}"

    async def messages(self, topic: str, expect: int = 0, timeout: float = 10.0) -> list[Any]:
        records = await read_all(
            self.endpoints.bootstrap_servers, self.topic(topic), expect, timeout
        )
        return [json.loads(record.value) for record in records]


Starter = Callable[[], AbstractAsyncContextManager[Escalation]]


def escalation_env(service_env: dict[str, str]) -> dict[str, str]:
    """Escalation settings for tests: short timeouts, JWTs, a fake public URL."""
    return service_env | {
        "KINSHIP_ACK_TIMEOUT_SECONDS": "2",
        "KINSHIP_CONTACT_TIMEOUT_SECONDS": "600",
        "KINSHIP_TIMER_POLL_SECONDS": "0.1",
        "KINSHIP_JWT_SECRET": JWT_SECRET,
        "KINSHIP_JWT_ISSUER": JWT_ISSUER,
        "KINSHIP_PUBLIC_URL": "http://escalation.test",
        # The vault: the check-in service in-process (``VaultOf``); never a running stack.
        "KINSHIP_CHECKIN_URL": "http://127.0.0.1:9",
        "KINSHIP_CHECKIN_API_KEY": "test-key",
    }


class VaultOf(Provider):
    """Replaces the runtime's vault client with one of a check-in service in-process."""

    def __init__(self, client: VaultClient) -> None:
        super().__init__()
        self._client = client

    @provide(scope=Scope.APP, override=True)
    def vault(self) -> VaultClient:
        return self._client


def checkin_settings(escalation: EscalationSettings) -> CheckinSettings:
    """Settings of a check-in service beside ``escalation`` (its own schema; the escalation
    deployment's consumer exclusions, read from the same environment, are not its own)."""
    return CheckinSettings(database_schema=f"{escalation.owned_schema()}_c", excluded_consumers="")


@asynccontextmanager
async def vault_client(app: FastAPI, key: str = "test-key") -> AsyncIterator[VaultClient]:
    """A vault client of a check-in service app, in-process."""
    client = VaultClient(
        "http://checkin.test", SecretStr(key), transport=httpx.ASGITransport(app=app)
    )
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def checkin_vault(escalation: EscalationSettings) -> AsyncIterator[VaultClient]:
    """The check-in service's vault endpoints in-process, without its consumers: enough for
    the escalation service's screens and lookups."""
    app = create_checkin_app(checkin_settings(escalation))
    try:
        async with vault_client(app) as client:
            yield client
    finally:
        await app.state.dishka_container.close()


def encode_person(
    person_id: str, team: str, channels: dict[str, str], *roles: str
) -> tuple[bytes, bytes]:
    """A ``directory.people`` record."""
    body = {
        "person_id": person_id,
        "display_name": person_id.title(),
        "team_id": team,
        "timezone": "Europe/London",
        "roles": list(roles),
        "channels": channels,
        "active": True,
    }
    return person_id.encode(), encode(body)


def person(person_id: str, team: str, *roles: str) -> tuple[bytes, bytes]:
    """A directory record whose webhook points at a closed loopback port."""
    return encode_person(person_id, team, {"webhook": f"http://127.0.0.1:9/{person_id}"}, *roles)


STAFF = [
    person("resp-a", "team-r", "peer_responder"),
    person("resp-b", "team-s", "peer_responder"),
    person("coord-1", "team-c", "coordinator"),
    person("worker-1", "team-x"),
]


async def seed_directory(service: Escalation, people: list[tuple[bytes, bytes]]) -> None:
    await publish(service.endpoints.bootstrap_servers, service.topic("directory.people"), people)
    expected = len(people)
    assert await service.wait_for("SELECT count(*) FROM directory_people", expected) == expected


def recorded_event(
    id_: str, person_id: str, at: datetime, team: str | None = "team-x", **answers: Any
) -> CheckinRecorded:
    """A recorded check-in as the check-in service publishes it (scores from the answers)."""
    phq9 = answers.pop("phq9", None)
    phq2 = answers.pop("phq2", None)
    who5 = answers.pop("who5", None)
    return CheckinRecorded(
        id=id_,
        subject_id=SUBJECTS.subject_id(person_id),
        team_id=team,
        occurred_at=at,
        recorded_at=at,
        source="tests",
        phq9=phq9,
        phq2=phq2,
        who5=who5,
        scores=DerivedScores(
            who5_raw=sum(who5) if who5 else None,
            phq9_total=sum(phq9) if phq9 else None,
            phq9_item9_positive=(phq9[8] > 0) if phq9 else None,
            phq2_total=sum(phq2 or phq9[:2]) if (phq2 or phq9) else None,
        ),
        **answers,
    )


def recorded(
    id_: str, person_id: str, at: datetime, team: str | None = "team-x", **answers: Any
) -> tuple[bytes, bytes]:
    """A recorded check-in as a Kafka record (key, value)."""
    event = recorded_event(id_, person_id, at, team, **answers)
    return event.subject_id.encode(), event.model_dump_json().encode()


async def pg_dump(endpoints: Endpoints, schema: str) -> str:
    """Every row of ``schema`` as ``pg_dump`` writes it (bytea as hex)."""
    process = await asyncio.create_subprocess_exec(
        "pg_dump",
        f"--dbname={endpoints.database_url}",
        f"--schema={schema}",
        "--data-only",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def mentions(dump: str, needle: str) -> bool:
    """Whether ``dump`` holds ``needle`` as text or as hex (bytea columns)."""
    return needle in dump or needle.encode().hex() in dump


@dataclass
class Services:
    """The escalation service with the check-in service beside it."""

    escalation: Escalation
    checkin: httpx.AsyncClient
    checkin_settings: CheckinSettings
    vault: VaultClient

    async def checkin_rows(self, sql: str, *args: Any) -> list[Any]:
        schema = self.checkin_settings.owned_schema()
        return await rows(self.escalation.endpoints.database_url, schema, sql, *args)

    async def directory(self, people: list[tuple[bytes, bytes]]) -> None:
        """Publish the directory and wait until both services have it."""
        endpoints = self.escalation.endpoints
        await publish(
            endpoints.bootstrap_servers, self.escalation.topic("directory.people"), people
        )
        count = "SELECT count(*) FROM directory_people"
        assert await self.escalation.wait_for(count, len(people)) == len(people)
        schema = self.checkin_settings.owned_schema()
        found = await wait_for_count(endpoints.database_url, schema, count, len(people))
        assert found == len(people)

    async def check_in(self, person_id: str, **answers: Any) -> str:
        """The person submits a check-in as themself; its id."""
        checkin_id = f"ck-{uuid.uuid4().hex[:12]}"  # never the person's id in it
        body = {
            "id": checkin_id,
            "person_id": person_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "tests",
            **answers,
        }
        response = await self.checkin.post("/v1/checkins", json=body, headers=bearer(person_id))
        assert response.status_code == 202, response.text
        return checkin_id

    async def alerts_of(self, case_id: str, expect: int = 1) -> list[dict[str, Any]]:
        """The alert requests sent for a case, by step."""
        for _ in range(50):
            requests = await self.escalation.messages("notifications.requests", timeout=2)
            found = [r for r in requests if r["kind"] == "alert" and r["case_id"] == case_id]
            if len(found) >= expect:
                return sorted(found, key=lambda r: (r["alert"]["step"], r["created_at"]))
            await asyncio.sleep(0.2)
        raise AssertionError(f"fewer than {expect} alerts for {case_id}")


@asynccontextmanager
async def escalation_beside_checkin(
    service_env: dict[str, str], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Services]:
    """The escalation service with the check-in service in-process beside it (its consumers
    and outbox too), the check-in service as the vault; acknowledgement timeouts of 10 min
    (steps move on when a test says)."""
    for name, value in escalation_env(service_env).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KINSHIP_ACK_TIMEOUT_SECONDS", "600")  # steps move on when a test says
    settings = EscalationSettings()
    checkin = checkin_settings(settings)
    checkin_app = create_checkin_app(checkin)
    async with (
        checkin_app.router.lifespan_context(checkin_app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=checkin_app), base_url="http://checkin.test"
        ) as checkin_client,
        vault_client(checkin_app) as vault,
    ):
        app = create_app(settings, providers=[VaultOf(vault)])
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://escalation.test"
            ) as client,
        ):
            yield Services(Escalation(client, settings, endpoints), checkin_client, checkin, vault)


async def assert_critical_incident_handled(escalation: "Escalation", incident_at: datetime) -> None:
    """A critical incident about worker-1 of team-x, as a signal from any door (Kafka or
    HTTP), was acted on once: a defusing offer to the team's coordinator coord-x (proposed on
    escalation.cases), a support session at 24 h and the person's follow-ups at 72 h and a
    month, kept under the subject id the vault gave (never the person id)."""
    assert await escalation.wait_for("SELECT count(*) FROM group_offers", 1) == 1
    await asyncio.sleep(1)
    timers = await escalation.rows("SELECT kind, due_at FROM timers ORDER BY due_at")
    assert [(t["kind"], t["due_at"] - incident_at) for t in timers] == [
        ("support_session", timedelta(hours=24)),
        ("exposure_follow_up", timedelta(hours=72)),
        ("exposure_follow_up", timedelta(hours=720)),
    ]
    followed = await escalation.rows(
        "SELECT DISTINCT subject_id FROM timers WHERE kind = 'exposure_follow_up'"
    )
    assert len(followed) == 1 and followed[0]["subject_id"] not in (None, "worker-1")
    proposals = [
        m for m in await escalation.messages("escalation.cases", expect=1) if "window_start" in m
    ]
    assert [(p["team_id"], p["kind"], p["reason"]) for p in proposals] == [
        ("team-x", "defusing", "critical_incident")
    ]
    offers = [
        r
        for r in await escalation.messages("notifications.requests", expect=1)
        if r["kind"] == "group_session_offer"
    ]
    assert [o["recipient"]["person_id"] for o in offers] == ["coord-x"]

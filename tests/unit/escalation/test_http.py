"""The escalation HTTP API over the in-memory unit of work (the real routes, fakes behind them):
who may do what, how handler errors answer, and that reads are audited."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_escalation.entrypoints.http import escalation_router
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.auth import ApiKeys, Authenticator, JwtVerifier
from kinship_runtime.http import create_http_app
from kinship_runtime.outbox import OutboxRelay
from tests.escalation_support import JWT_SECRET, SUBJECTS, bearer
from tests.unit.escalation.conftest import STAFF, checkin
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork
from tests.unit.fakes.relay import FakeRelay

SYSTEM = {"Authorization": "Bearer unit-key"}
RESPONDER = ("peer_responder",)


class Fakes(Provider):
    """The escalation service's dependencies, with the unit of work and relay faked."""

    scope = Scope.APP

    def __init__(self, uow: FakeEscalationUnitOfWork, relay: FakeRelay, ctx: EscalationContext):
        super().__init__()
        self.uow, self.relay, self.ctx = uow, relay, ctx

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> EscalationUnitOfWork:
        return self.uow

    @provide
    def outbox_relay(self) -> OutboxRelay:
        return self.relay  # type: ignore[return-value]

    @provide
    def context(self) -> EscalationContext:
        return self.ctx

    @provide
    def authenticator(self) -> Authenticator:
        return Authenticator(
            ApiKeys(SecretStr("tests=unit-key")),
            JwtVerifier(
                secret=SecretStr(JWT_SECRET), public_key=None, audience="kinship", issuer=None
            ),
        )


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
async def service() -> FakeEscalationUnitOfWork:
    """The unit of work behind the routes, with ``STAFF`` and one case (alerting resp-a)."""
    work = FakeEscalationUnitOfWork(subject_of=SUBJECTS.subject_id)
    async with work:
        await work.directory.apply(STAFF)
    return work


@pytest.fixture
async def case_id(service: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    async with service:
        await handle_checkins([checkin("c-1", wants_contact=True)], service, ctx)
    (opened,) = service.tables.cases
    return opened


@pytest.fixture
async def client(
    service: FakeEscalationUnitOfWork, relay: FakeRelay, ctx: EscalationContext
) -> AsyncIterator[httpx.AsyncClient]:
    container = make_async_container(Fakes(service, relay, ctx))
    app = create_http_app(
        title="escalation (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[escalation_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http
    await container.close()


async def test_every_route_needs_credentials_except_the_alert_link(
    client: httpx.AsyncClient,
) -> None:
    for method, path in [
        ("POST", "/v1/cases/k/acknowledge"),
        ("GET", "/v1/cases"),
        ("GET", "/v1/cases/k"),
        ("GET", "/v1/policies/default"),
        ("GET", "/v1/metrics/programme"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 401, path
    assert (await client.get("/v1/alerts/a/acknowledge?token=x")).status_code == 403


async def test_the_responder_acknowledges_and_the_relay_is_woken_after_the_commit(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork, relay: FakeRelay
) -> None:
    commits = service.commits
    response = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=bearer("resp-a"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["case_id"], body["status"], body["responder_id"]) == (
        case_id,
        "acknowledged",
        "resp-a",
    )
    assert set(body) == {
        "case_id",
        "status",
        "severity",
        "rules",
        "step",
        "responder_id",
        "opened_at",
        "acknowledged_at",
        "contacted_at",
        "resolved_at",
        "outcome",
    }
    assert (service.commits, relay.wakes) == (commits + 1, 1)


async def test_handler_errors_answer_404_403_and_409_and_roll_back(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork, relay: FakeRelay
) -> None:
    missing = await client.post("/v1/cases/nope/acknowledge", headers=bearer("resp-a"))
    assert missing.status_code == 404
    assert "check the id in your alert" in missing.json()["detail"]
    stranger = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=bearer("resp-b"))
    assert stranger.status_code == 403
    early = await client.post(f"/v1/cases/{case_id}/contact", headers=bearer("resp-a"))
    assert early.status_code == 409
    assert "acknowledge first" in early.json()["detail"]
    assert service.rollbacks == 3 and relay.wakes == 0


async def test_a_system_must_name_the_responder_it_acts_for(
    client: httpx.AsyncClient, case_id: str
) -> None:
    unnamed = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=SYSTEM)
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["loc"] == ["body", "person_id"]
    named = await client.post(
        f"/v1/cases/{case_id}/acknowledge", json={"person_id": "resp-a"}, headers=SYSTEM
    )
    assert named.status_code == 200, named.text


async def test_the_alert_link_shows_a_button_and_acknowledges_once(
    client: httpx.AsyncClient,
    case_id: str,
    service: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    (alert_id,) = service.tables.alerts
    path = ctx.links.url(alert_id).removeprefix("http://127.0.0.1:8002")
    page = await client.get(path)
    assert page.status_code == 200 and "<form method=post" in page.text
    assert service.tables.cases[case_id].case.status.value == "assigned"  # a GET changes nothing
    taken = await client.post(path)
    assert taken.status_code == 200, taken.text
    assert taken.json()["responder_id"] == "resp-a"
    assert (await client.post(path)).status_code == 403
    assert (await client.post(path.replace("token=", "token=0"))).status_code == 403


async def test_handover_contact_resolve_and_feedback_over_http(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    a, b = bearer("resp-a", *RESPONDER), bearer("resp-b", *RESPONDER)
    assert (await client.post(f"/v1/cases/{case_id}/acknowledge", headers=a)).is_success
    handed = await client.post(
        f"/v1/cases/{case_id}/handover", json={"to_person_id": "resp-b"}, headers=a
    )
    assert (handed.status_code, handed.json()["status"]) == (200, "assigned")
    early = await client.post(
        f"/v1/cases/{case_id}/handover", json={"to_person_id": "resp-a"}, headers=b
    )
    assert early.status_code == 409  # resp-b has not acknowledged yet
    not_staff = await client.post(
        f"/v1/cases/{case_id}/handover", json={"to_person_id": "worker-1"}, headers=b
    )
    assert not_staff.status_code == 403
    for action in ("acknowledge", "contact"):
        assert (await client.post(f"/v1/cases/{case_id}/{action}", headers=b)).is_success
    resolved = await client.post(
        f"/v1/cases/{case_id}/resolve", json={"outcome": "supported"}, headers=b
    )
    assert (resolved.status_code, resolved.json()["outcome"]) == (200, "supported")
    feedback = {"score": 4, "given_by": "responder"}
    first = await client.post(f"/v1/cases/{case_id}/feedback", json=feedback, headers=b)
    again = await client.post(f"/v1/cases/{case_id}/feedback", json=feedback, headers=b)
    assert (first.status_code, first.json(), again.json()) == (
        202,
        {"recorded": True},
        {"recorded": False},
    )
    bad = await client.post(
        f"/v1/cases/{case_id}/feedback", json={"score": 6, "given_by": "boss"}, headers=b
    )
    assert bad.status_code == 422
    assert service.tables.feedback == {(case_id, "responder"): 4}


async def test_responders_see_their_own_cases_coordinators_all_and_reads_are_audited(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    mine = await client.get("/v1/cases?assigned_to=me", headers=bearer("resp-a", *RESPONDER))
    assert [c["case_id"] for c in mine.json()] == [case_id]
    others = await client.get("/v1/cases", headers=bearer("resp-b", *RESPONDER))
    assert others.json() == []  # a responder only ever sees their own
    everything = await client.get("/v1/cases", headers=bearer("coord-1", "coordinator"))
    assert [c["case_id"] for c in everything.json()] == [case_id]
    denied = await client.get(f"/v1/cases/{case_id}", headers=bearer("resp-b", *RESPONDER))
    assert denied.status_code == 403
    one = await client.get(f"/v1/cases/{case_id}", headers=SYSTEM)
    assert one.status_code == 200
    system_mine = await client.get("/v1/cases?assigned_to=me", headers=SYSTEM)
    assert system_mine.status_code == 422
    reads = [(a[0], a[2]) for a in service.tables.audit if a[1] == "read"]
    assert reads == [(case_id, "resp-a"), (case_id, "coord-1"), (case_id, "tests")]
    assert "worker" not in everything.text


async def test_rotations_policies_and_metrics_are_for_coordinators(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    responder, coordinator = bearer("resp-a", *RESPONDER), bearer("coord-1", "coordinator")
    rotation = {"name": "night", "members": ["resp-a"], "starts_at": "2026-11-23T08:00:00+00:00"}
    policy = {"steps": [{"target": "rotation:night", "timeout_seconds": 60}]}
    for method, path, body in [
        ("PUT", "/v1/rotations/night", rotation),
        ("GET", "/v1/rotations", None),
        ("PUT", "/v1/policies/default", policy),
        ("GET", "/v1/policies/default", None),
        ("GET", "/v1/metrics/programme", None),
    ]:
        refused = await client.request(method, path, json=body, headers=responder)
        assert refused.status_code == 403, path

    mismatch = await client.put("/v1/rotations/day", json=rotation, headers=coordinator)
    assert mismatch.status_code == 422
    assert (await client.put("/v1/rotations/night", json=rotation, headers=coordinator)).is_success
    assert [r["name"] for r in (await client.get("/v1/rotations", headers=SYSTEM)).json()] == [
        "night"
    ]
    saved = await client.put(
        "/v1/policies/default", json={**policy, "name": "other"}, headers=coordinator
    )
    assert saved.json()["name"] == "default"
    assert saved.json()["steps"][0]["target"] == "rotation:night"
    in_force = await client.get("/v1/policies/default", headers=coordinator)
    assert in_force.json() == saved.json()
    withheld = await client.get("/v1/metrics/programme", headers=coordinator)
    assert withheld.json() == {"cases": None, "withheld": "fewer than 5 cases so far"}


async def test_the_specs_default_policy_is_in_force_until_one_is_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/policies/default", headers=SYSTEM)
    body = response.json()
    assert [(s["target"], s["timeout_seconds"]) for s in body["steps"]] == [
        ("responders", 300),
        ("responders", 300),
        ("coordinators", 300),
    ]
    assert body["contact_timeout_seconds"] == 3600

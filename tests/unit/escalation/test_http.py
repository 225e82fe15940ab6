"""The escalation HTTP API over the in-memory unit of work (the real routes, fakes behind them):
who may call each route (the weakest credential that should be refused is refused), how
handler errors answer, the acknowledgement link's pages, reveal grants, and audited reads."""

import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_contracts.directory import Role
from kinship_contracts.grants import read_grant
from kinship_contracts.links import ConsentAnswer, mint_consent_token
from kinship_escalation.domain.policies import OnCallRotation
from kinship_escalation.entrypoints.http import escalation_router
from kinship_escalation.entrypoints.slack_http import ReplayGuard
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_runtime.access import OWN_DATA, PeopleDirectory, Person, RateLimits, policies
from kinship_runtime.http import create_http_app
from kinship_runtime.identity import (
    ApiKeys,
    IdentityVerifier,
    JwtRules,
    JwtVerifier,
    parse_api_keys,
)
from kinship_runtime.identity import (
    Scope as KeyScope,
)
from kinship_runtime.outbox import OutboxRelay
from tests.escalation_support import JWT_ISSUER, JWT_SECRET, bearer
from tests.unit.escalation.conftest import (
    GRANT_KEY,
    LINK_SECRET,
    NOW,
    Clock,
    checkin,
    link_token,
    sent,
    subject,
)
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault
from tests.unit.fakes.relay import FakeRelay

ALL_SCOPES = {"Authorization": "Bearer all-scopes-key"}
"""A calling system holding every scope there is: it still never reads or acts on a case."""
REPORTS = {"Authorization": "Bearer reports-key"}
SURVEY = {"Authorization": "Bearer survey-key"}
RESP_A, RESP_B, COORD = bearer("resp-a"), bearer("resp-b"), bearer("coord-1")
WORKER = bearer("worker-1")
"""worker-1: the person the test case is about (no programme role)."""
CLAIMING = bearer("worker-2", "coordinator", "peer_responder")
"""An employee whose token claims roles the directory does not give them."""


@pytest.fixture(autouse=True)
def fresh_tokens() -> None:
    """Tokens live ten minutes: minted again as each test starts (the whole suite reaches
    this module later than that after importing it)."""
    global RESP_A, RESP_B, COORD, WORKER, CLAIMING
    RESP_A, RESP_B, COORD = bearer("resp-a"), bearer("resp-b"), bearer("coord-1")
    WORKER = bearer("worker-1")
    CLAIMING = bearer("worker-2", "coordinator", "peer_responder")


class DirectoryRoles:
    """``PeopleDirectory`` over the fake unit of work's ``directory_people`` rows."""

    def __init__(self, uow: FakeEscalationUnitOfWork) -> None:
        self._uow = uow

    async def person(self, person_id: str) -> tuple[Person, bool] | None:
        row = self._uow.tables.people.get(person_id)
        if row is None:
            return None
        roles = frozenset(Role(role) for role in row.roles)
        return Person(person_id, roles, row.team_id), row.active


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
    def identities(self) -> IdentityVerifier:
        keys = [
            {"name": "everything", "scopes": list(KeyScope), "key": "all-scopes-key"},
            {"name": "reports", "scopes": ["reports:read"], "key": "reports-key"},
            {"name": "survey", "scopes": ["checkins:submit"], "key": "survey-key"},
        ]
        return IdentityVerifier(
            ApiKeys(parse_api_keys(json.dumps(keys))),
            JwtVerifier(
                JwtRules(issuer=JWT_ISSUER, audience="kinship", max_lifetime_seconds=3600),
                secret=SecretStr(JWT_SECRET),
            ),
        )

    @provide
    def people(self) -> PeopleDirectory:
        return DirectoryRoles(self.uow)

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("100/minute", "100/minute")

    @provide
    def replays(self) -> ReplayGuard:
        return ReplayGuard()


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def app(service: FakeEscalationUnitOfWork, relay: FakeRelay, ctx: EscalationContext) -> FastAPI:
    return fake_app(Fakes(service, relay, ctx))


def fake_app(fakes: Provider) -> FastAPI:
    """The escalation service's routes over ``fakes`` (no lifespan, no broker running)."""
    app = create_http_app(
        title="escalation (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[escalation_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    setup_dishka(make_async_container(fakes), app)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http
    await app.state.dishka_container.close()


Route = tuple[str, str, dict[str, Any] | None]
CASE_ROUTES: list[Route] = [
    ("POST", "/v1/cases/{case}/acknowledge", None),
    ("POST", "/v1/cases/{case}/contact", None),
    ("POST", "/v1/cases/{case}/handover", {"to_person_id": "resp-b", "reason": "workload"}),
    ("POST", "/v1/cases/{case}/resolve", {"outcome": "supported"}),
    ("POST", "/v1/cases/{case}/reveal-grant", None),
    ("GET", "/v1/cases", None),
    ("GET", "/v1/cases/{case}", None),
]
COORDINATOR_ROUTES: list[Route] = [
    (
        "PUT",
        "/v1/rotations/night",
        {"name": "night", "members": ["resp-a"], "starts_at": "2026-11-23T08:00:00+00:00"},
    ),
    ("GET", "/v1/rotations", None),
    ("PUT", "/v1/policies/default", {"steps": [{"target": "responders", "timeout_seconds": 60}]}),
    ("GET", "/v1/policies/default", None),
    ("GET", "/v1/policies", None),
    ("GET", "/v1/policies/team-a", None),
    (
        "PUT",
        "/v1/policies/team-a",
        {"team_id": "team-a", "steps": [{"target": "responders", "timeout_seconds": 60}]},
    ),
    ("DELETE", "/v1/policies/team-a", None),
]


def test_every_route_states_one_policy_and_only_the_link_is_public(app: FastAPI) -> None:
    table = {
        route: [p.describe() for p in found]
        for route, found in policies(app).items()
        if " /v1/" in route
    }
    public = {route for route, found in table.items() if not found}
    assert public == {
        "GET /v1/alerts/{alert_id}/acknowledge",
        "POST /v1/alerts/{alert_id}/acknowledge",
        "GET /v1/consent/{consent_id}/{answer}",
        "POST /v1/consent/{consent_id}/{answer}",
        "GET /v1/calendar/{token}.ics",  # a calendar feed: its secret token is its proof
        "POST /v1/slack/interactions",  # Slack's request signature is its proof
    }
    assert all(len(found) == 1 for route, found in table.items() if route not in public)
    workers = "people who are coordinator or peer_responder"
    assert table["POST /v1/cases/{case_id}/resolve"] == [workers]
    assert table["GET /v1/cases"] == [workers]
    assert table["PUT /v1/rotations/{name}"] == ["people who are coordinator"]
    assert table["GET /v1/metrics/programme"] == [
        "systems with reports:read; people who are coordinator"
    ]
    assert table["POST /v1/cases/{case_id}/feedback"] == ["any signed-in person"]
    assert table["POST /v1/email/inbound"] == ["systems with email:inbound"]
    assert table["POST /v1/signals"] == ["systems with signals:submit"]


async def test_every_route_but_the_link_needs_credentials(
    client: httpx.AsyncClient, case_id: str
) -> None:
    routes = [*CASE_ROUTES, *COORDINATOR_ROUTES, ("GET", "/v1/metrics/programme", None)]
    routes.append(("POST", "/v1/cases/{case}/feedback", {"score": 3, "given_by": "person"}))
    for method, path, body in routes:
        response = await client.request(method, path.format(case=case_id), json=body)
        assert response.status_code == 401, path
    assert (
        await client.get(f"/v1/alerts/a/acknowledge?token={link_token('a')}")
    ).status_code == 404


async def test_a_key_never_reads_or_acts_on_a_case_whatever_its_scopes(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    for method, path, body in [
        *CASE_ROUTES,
        *COORDINATOR_ROUTES,
        ("POST", "/v1/cases/{case}/feedback", {"score": 3, "given_by": "person"}),
    ]:
        response = await client.request(
            method, path.format(case=case_id), json=body, headers=ALL_SCOPES
        )
        assert response.status_code == 403, path
    assert service.tables.cases[case_id].case.status.value == "assigned"
    assert [r for r in service.tables.audit if r.action in ("read", "list")] == []


async def test_a_token_claiming_roles_the_directory_does_not_give_is_refused(
    client: httpx.AsyncClient, case_id: str
) -> None:
    for method, path, body in [*CASE_ROUTES, *COORDINATOR_ROUTES]:
        response = await client.request(
            method, path.format(case=case_id), json=body, headers=CLAIMING
        )
        assert response.status_code == 403, path


async def test_acting_for_someone_else_in_the_body_is_refused(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    # The responder a request acts for is always its signed-in caller, never a body field:
    # resp-b naming resp-a (who was alerted) acknowledges as resp-b, who was not.
    named = await client.post(
        f"/v1/cases/{case_id}/acknowledge", json={"person_id": "resp-a"}, headers=RESP_B
    )
    assert named.status_code == 403
    for path, body in [
        ("resolve", {"outcome": "supported", "person_id": "resp-a"}),
        ("handover", {"to_person_id": "resp-b", "reason": "other", "person_id": "resp-a"}),
    ]:
        response = await client.post(f"/v1/cases/{case_id}/{path}", json=body, headers=RESP_B)
        assert response.status_code == 422, path
    assert service.tables.cases[case_id].case.status.value == "assigned"


async def test_the_alerted_responder_acknowledges_and_the_relay_is_woken_after_the_commit(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork, relay: FakeRelay
) -> None:
    commits = service.commits
    response = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=RESP_A)
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
    audit = service.tables.audit[-1]
    assert (audit.action, audit.actor, audit.subject_ids) == (
        "acknowledged",
        "person:resp-a",
        (subject("worker-1"),),
    )


async def test_handler_errors_answer_404_403_and_409_and_roll_back(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork, relay: FakeRelay
) -> None:
    missing = await client.post("/v1/cases/nope/acknowledge", headers=RESP_A)
    assert missing.status_code == 404
    assert "check the id in your alert" in missing.json()["detail"]
    stranger = await client.post(f"/v1/cases/{case_id}/acknowledge", headers=RESP_B)
    assert stranger.status_code == 403
    early = await client.post(f"/v1/cases/{case_id}/contact", headers=RESP_A)
    assert early.status_code == 409
    assert "acknowledge first" in early.json()["detail"]
    assert service.rollbacks == 3 and relay.wakes == 0


async def test_the_alert_link_shows_a_button_and_acknowledges_once(
    client: httpx.AsyncClient,
    case_id: str,
    service: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
) -> None:
    (alert_id,) = service.tables.alerts
    link = ctx.links.url(alert_id).removeprefix("http://127.0.0.1:8002")
    path = f"{link}?token={link_token(alert_id)}"
    page = await client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert service.tables.cases[case_id].case.status.value == "assigned"  # a GET changes nothing
    taken = await client.post(path)
    assert taken.status_code == 200, taken.text
    assert taken.json()["responder_id"] == "resp-a"
    assert taken.headers["cache-control"] == "no-store"
    reused = await client.post(path, headers={"Accept": "text/html"})
    assert reused.status_code == 403 and "already used" in reused.text
    assert reused.headers["cache-control"] == "no-store"
    assert (await client.get(path)).status_code == 403
    forged = await client.post(f"{link}?token={link_token(alert_id)[:-1]}0")
    assert forged.status_code == 403
    assert (await client.post(link)).status_code == 422  # no token at all


async def test_an_expired_link_gets_a_clear_page_and_changes_nothing(
    client: httpx.AsyncClient,
    case_id: str,
    service: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    clock: Clock,
) -> None:
    (alert_id,) = service.tables.alerts
    path = f"/v1/alerts/{alert_id}/acknowledge?token={link_token(alert_id)}"
    clock.advance(hours=24, seconds=1)
    page = await client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 410
    assert "This link has expired" in page.text and "<form" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    taken = await client.post(path)
    assert taken.status_code == 410 and "expired" in taken.json()["detail"]
    assert service.tables.cases[case_id].case.status.value == "assigned"


async def test_handover_contact_resolve_and_feedback_over_http(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    assert (await client.post(f"/v1/cases/{case_id}/acknowledge", headers=RESP_A)).is_success
    handed = await client.post(
        f"/v1/cases/{case_id}/handover",
        json={"to_person_id": "resp-b", "reason": "workload"},
        headers=RESP_A,
    )
    assert (handed.status_code, handed.json()["status"]) == (200, "assigned")
    early = await client.post(
        f"/v1/cases/{case_id}/handover",
        json={"to_person_id": "resp-a", "reason": "other"},
        headers=RESP_B,
    )
    assert early.status_code == 409  # resp-b has not acknowledged yet
    not_staff = await client.post(
        f"/v1/cases/{case_id}/handover",
        json={"to_person_id": "worker-2", "reason": "other"},
        headers=RESP_B,
    )
    assert not_staff.status_code == 403
    for action in ("acknowledge", "contact"):
        assert (await client.post(f"/v1/cases/{case_id}/{action}", headers=RESP_B)).is_success
    not_theirs = await client.post(
        f"/v1/cases/{case_id}/resolve", json={"outcome": "supported"}, headers=RESP_A
    )
    assert not_theirs.status_code == 403  # resp-a handed it over
    resolved = await client.post(
        f"/v1/cases/{case_id}/resolve", json={"outcome": "supported"}, headers=RESP_B
    )
    assert (resolved.status_code, resolved.json()["outcome"]) == (200, "supported")

    responder_side = {"score": 4, "given_by": "responder"}
    first = await client.post(f"/v1/cases/{case_id}/feedback", json=responder_side, headers=RESP_B)
    again = await client.post(f"/v1/cases/{case_id}/feedback", json=responder_side, headers=RESP_B)
    assert (first.status_code, first.json(), again.json()) == (
        202,
        {"recorded": True},
        {"recorded": False},
    )
    person_side = {"score": 5, "given_by": "person"}
    for who in (RESP_B, bearer("worker-2"), COORD):  # nobody speaks for the person
        refused = await client.post(f"/v1/cases/{case_id}/feedback", json=person_side, headers=who)
        assert refused.status_code == 403
    mine = await client.post(f"/v1/cases/{case_id}/feedback", json=person_side, headers=WORKER)
    assert (mine.status_code, mine.json()) == (202, {"recorded": True})
    bad = await client.post(
        f"/v1/cases/{case_id}/feedback", json={"score": 6, "given_by": "boss"}, headers=RESP_B
    )
    assert bad.status_code == 422
    assert service.tables.feedback == {(case_id, "responder"): 4, (case_id, "person"): 5}


async def test_the_persons_feedback_answers_503_while_the_vault_is_away(
    client: httpx.AsyncClient, case_id: str, vault: FakeVault
) -> None:
    for action in ("acknowledge", "contact"):
        assert (await client.post(f"/v1/cases/{case_id}/{action}", headers=RESP_A)).is_success
    resolve = {"outcome": "supported"}
    assert (
        await client.post(f"/v1/cases/{case_id}/resolve", json=resolve, headers=RESP_A)
    ).is_success
    vault.down = True
    response = await client.post(
        f"/v1/cases/{case_id}/feedback", json={"score": 5, "given_by": "person"}, headers=WORKER
    )
    assert response.status_code == 503 and response.headers["retry-after"]


async def test_responders_see_their_own_cases_coordinators_all_and_each_list_is_one_record(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    mine = await client.get("/v1/cases?assigned_to=me", headers=RESP_A)
    assert [c["case_id"] for c in mine.json()] == [case_id]
    others = await client.get("/v1/cases", headers=RESP_B)
    assert others.json() == []  # a responder only ever sees their own
    everything = await client.get("/v1/cases", headers=COORD)
    assert [c["case_id"] for c in everything.json()] == [case_id]
    coordinators_own = await client.get("/v1/cases?assigned_to=me", headers=COORD)
    assert coordinators_own.json() == []
    denied = await client.get(f"/v1/cases/{case_id}", headers=RESP_B)
    assert denied.status_code == 403
    one = await client.get(f"/v1/cases/{case_id}", headers=COORD)
    assert one.status_code == 200
    reads = [(a.action, a.actor, a.case_ids) for a in service.tables.audit if a.case_ids]
    reads = [read for read in reads if read[0] in ("read", "list")]
    assert reads == [
        ("list", "person:resp-a", (case_id,)),
        ("list", "person:coord-1", (case_id,)),
        ("read", "person:coord-1", (case_id,)),
    ]
    assert "worker" not in everything.text


async def test_the_assigned_responder_of_an_acknowledged_case_gets_a_reveal_grant(
    client: httpx.AsyncClient, case_id: str, service: FakeEscalationUnitOfWork
) -> None:
    path = f"/v1/cases/{case_id}/reveal-grant"
    unacknowledged = await client.post(path, headers=RESP_A)
    assert unacknowledged.status_code == 409 and "acknowledge" in unacknowledged.json()["detail"]
    assert (await client.post(f"/v1/cases/{case_id}/acknowledge", headers=RESP_A)).is_success
    for refused in (RESP_B, COORD, WORKER, ALL_SCOPES, CLAIMING):
        assert (await client.post(path, headers=refused)).status_code == 403
    issued = await client.post(path, headers=RESP_A)
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    grant = read_grant(issued.json()["grant"], GRANT_KEY, NOW)
    assert (grant.case_id, grant.subject_id, grant.responder_id, grant.note_checkin_id) == (
        case_id,
        subject("worker-1"),
        "resp-a",
        None,
    )
    assert grant.expires_at - grant.issued_at == timedelta(minutes=5)
    (granted,) = [r for r in service.tables.audit if r.action == "revealed"]
    assert (granted.actor, granted.case_ids) == ("person:resp-a", (case_id,))
    event = sent(service).transitions[-1]
    assert (event["kind"], event["consent"]) == ("revealed", "self_referral")


async def test_rotations_and_policies_are_for_coordinators(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    for method, path, body in COORDINATOR_ROUTES:
        for refused in (RESP_A, REPORTS, SURVEY):
            response = await client.request(method, path, json=body, headers=refused)
            assert response.status_code == 403, (path, refused)

    rotation = COORDINATOR_ROUTES[0][2]
    mismatch = await client.put("/v1/rotations/day", json=rotation, headers=COORD)
    assert mismatch.status_code == 422
    assert (await client.put("/v1/rotations/night", json=rotation, headers=COORD)).is_success
    listed = (await client.get("/v1/rotations", headers=COORD)).json()
    assert [r["name"] for r in listed] == ["night"]
    policy = {"steps": [{"target": "rotation:night", "timeout_seconds": 60}], "name": "other"}
    mismatch = await client.put("/v1/policies/default", json=policy, headers=COORD)
    assert mismatch.status_code == 422
    assert mismatch.json()["detail"][0]["loc"] == ["body", "name"]
    del policy["name"]  # the old form, with no name: it is the path's
    saved = await client.put("/v1/policies/default", json=policy, headers=COORD)
    assert saved.status_code == 200, saved.text
    assert saved.json()["name"] == "default"
    assert saved.json()["steps"][0]["targets"] == [{"kind": "schedule", "schedule": "night"}]
    in_force = await client.get("/v1/policies/default", headers=COORD)
    assert in_force.json() == saved.json()


async def _programme(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    answer = await client.get("/v1/metrics/programme", params=params, headers=REPORTS)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


async def test_programme_measures_are_closed_weeks_for_coordinators_and_report_keys(
    client: httpx.AsyncClient,
    service: FakeEscalationUnitOfWork,
    ctx: EscalationContext,
    clock: Clock,
) -> None:
    """Cases opened this week show in no figure until the week has ended; then the week's
    cells rest on five people or read "withheld", and one more case changes nothing."""
    for refused in (RESP_A, SURVEY, WORKER, CLAIMING):
        answer = await client.get("/v1/metrics/programme", headers=refused)
        assert answer.status_code == 403, refused
    for weeks in ("0", "53", "x"):
        answer = await client.get("/v1/metrics/programme?weeks=" + weeks, headers=COORD)
        assert answer.status_code == 422, weeks
    async with service:
        for n in range(5):
            await handle_checkins([checkin(f"c-{n}", f"m-{n}", wants_contact=True)], service, ctx)
    assert len(service.tables.cases) == 5
    this_week = await _programme(client, weeks="2")
    assert [w["iso_week"] for w in this_week["weeks"]] == ["2026-W46", "2026-W47"]
    assert {w["cases_opened"] for w in this_week["weeks"]} == {"withheld"}

    clock.advance(days=7)
    closed = await _programme(client)
    assert len(closed["weeks"]) == 12 and closed["k"] == 5
    (week,) = [w for w in closed["weeks"] if w["iso_week"] == "2026-W48"]
    assert week["cases_opened"] == 5
    assert week["acknowledged"] == "withheld"
    assert week["outcomes"]["supported"] == "withheld"
    assert week["feedback"] == {"person": "withheld", "responder": "withheld"}
    coordinator = await client.get("/v1/metrics/programme", headers=COORD)
    assert coordinator.json() == closed

    (case_id, *_) = service.tables.cases
    responder = service.tables.cases[case_id].case.responder_id
    assert responder is not None
    for action in ("acknowledge", "contact"):
        done = await client.post(f"/v1/cases/{case_id}/{action}", headers=bearer(responder))
        assert done.is_success, done.text
    async with service:
        await handle_checkins([checkin("c-5", "m-5", wants_contact=True)], service, ctx)
    assert await _programme(client) == closed
    assert "m-0" not in str(closed) and subject("m-0") not in str(closed)


async def test_the_specs_default_policy_is_in_force_until_one_is_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/policies/default", headers=COORD)
    body = response.json()
    assert [(s["targets"], s["timeout_seconds"]) for s in body["steps"]] == [
        ([{"kind": "responders"}], 300),
        ([{"kind": "responders"}], 300),
        ([{"kind": "coordinators"}], 300),
    ]
    assert body["contact_timeout_seconds"] == 3600


async def test_coordinators_list_create_read_and_delete_policies_per_team_and_severity(
    client: httpx.AsyncClient, service: FakeEscalationUnitOfWork
) -> None:
    async with service:
        rotation = OnCallRotation(name="night", members=["resp-a"], starts_at=NOW)
        await service.on_call.save_rotation(rotation)
    team = {
        "team_id": "team-x",
        "severity": "high",
        "steps": [
            {"targets": [{"kind": "schedule", "schedule": "night"}], "timeout_seconds": 60},
            {
                "targets": [{"kind": "people", "people": ["resp-a", "resp-b"]}],
                "notify": "round_robin",
                "timeout_seconds": 60,
                "repeat": 2,
            },
        ],
    }
    saved = await client.put("/v1/policies/team-x-high", json=team, headers=COORD)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["name"], body["team_id"], body["severity"]) == ("team-x-high", "team-x", "high")
    assert body["steps"][-1]["targets"] == [{"kind": "coordinators"}]  # appended
    assert (await client.get("/v1/policies/team-x-high", headers=COORD)).json() == body
    listed = (await client.get("/v1/policies", headers=COORD)).json()
    assert [p["name"] for p in listed] == ["default", "team-x-high"]

    clash = await client.put("/v1/policies/team-x-urgent", json=team, headers=COORD)
    assert clash.status_code == 409 and "team-x-high" in clash.json()["detail"]

    deleted = await client.delete("/v1/policies/team-x-high", headers=COORD)
    assert deleted.status_code == 204
    assert (await client.get("/v1/policies/team-x-high", headers=COORD)).status_code == 404
    assert (await client.delete("/v1/policies/team-x-high", headers=COORD)).status_code == 404
    audit = [(r.action, r.actor) for r in service.tables.audit if r.action.startswith("policy")]
    assert audit == [("policy_changed", "person:coord-1"), ("policy_deleted", "person:coord-1")]


def steps_of(count: int, **step: Any) -> list[dict[str, Any]]:
    return [{"target": "responders", "timeout_seconds": 60, **step}] * count


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"steps": steps_of(1, repeat=6)}, ["body", "steps", 0, "repeat"]),
        ({"steps": steps_of(11)}, ["body", "steps"]),
        ({"steps": []}, ["body", "steps"]),
        (
            {
                "steps": [
                    {"targets": [{"kind": "schedule", "schedule": "nowhere"}], "timeout_seconds": 6}
                ]
            },
            ["body", "steps", 0, "targets", 0, "schedule"],
        ),
        (
            {
                "steps": [
                    {"targets": [{"kind": "people", "people": ["ghost"]}], "timeout_seconds": 6}
                ]
            },
            ["body", "steps", 0, "targets", 0, "people", 0],
        ),
        ({"team_id": "team-x", "steps": steps_of(1)}, ["body", "team_id"]),
    ],
)
async def test_a_policy_that_cannot_be_right_is_refused_with_field_errors(
    client: httpx.AsyncClient,
    service: FakeEscalationUnitOfWork,
    body: dict[str, Any],
    loc: list[Any],
) -> None:
    refused = await client.put("/v1/policies/default", json=body, headers=COORD)
    assert refused.status_code == 422, refused.text
    assert loc in [error["loc"] for error in refused.json()["detail"]]
    assert not service.tables.policies


async def test_deleting_the_default_brings_back_the_specs_default(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/v1/policies/default", headers=COORD)).json()
    own = {"steps": [{"target": "coordinators", "timeout_seconds": 30}]}
    assert (await client.put("/v1/policies/default", json=own, headers=COORD)).is_success
    assert (await client.get("/v1/policies/default", headers=COORD)).json() != spec
    assert (await client.delete("/v1/policies/default", headers=COORD)).status_code == 204
    assert (await client.get("/v1/policies/default", headers=COORD)).json() == spec


# ---- working a case, the case view, consent links ---------------------------------------------

WORK_ROUTES: list[Route] = [
    ("POST", "/v1/cases/{case}/contact", {"channel": "phone"}),
    ("POST", "/v1/cases/{case}/notes", {"text": "called, all fine"}),
    ("PUT", "/v1/cases/{case}/safety-plan", {"who_to_call": "a friend", "what_helps": "walks"}),
    ("POST", "/v1/cases/{case}/follow-up", {"at": (NOW + timedelta(days=1)).isoformat()}),
    ("POST", "/v1/cases/{case}/reveal-grant", None),
    ("POST", "/v1/cases/{case}/handover", {"reason": "unavailable"}),
    ("POST", "/v1/cases/{case}/resolve", {"outcome": "supported"}),
]
"""What only the assigned responder (having acknowledged) may do."""


@pytest.fixture
async def critical_case(service: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    """A critical case about worker-2 (immediate risk), alerting resp-a."""
    async with service:
        await handle_checkins([checkin("c-9", "worker-2", phq9=[0] * 8 + [2])], service, ctx)
    (opened,) = [k for k, s in service.tables.cases.items() if s.case.severity == "critical"]
    return opened


async def test_working_a_case_is_for_its_assigned_responder_and_never_a_key(
    client: httpx.AsyncClient, critical_case: str, service: FakeEscalationUnitOfWork
) -> None:
    case_path = f"/v1/cases/{critical_case}"
    assert (await client.post(f"{case_path}/acknowledge", headers=RESP_A)).is_success
    for method, path, body in WORK_ROUTES:
        for refused in (RESP_B, COORD, WORKER, ALL_SCOPES, CLAIMING):
            answer = await client.request(
                method, path.format(case=critical_case), json=body, headers=refused
            )
            assert answer.status_code == 403, (path, refused)
    kinds_before = len(sent(service).transitions)
    for method, path, body in WORK_ROUTES[:5]:
        answer = await client.request(
            method, path.format(case=critical_case), json=body, headers=RESP_A
        )
        assert answer.is_success, (path, answer.text)
    kinds = [t["kind"] for t in sent(service).transitions][kinds_before:]
    assert kinds == [
        "contacted",
        "note_added",
        "safety_plan_updated",
        "follow_up_scheduled",
        "revealed",
    ]
    assert {r.actor for r in service.tables.audit if r.action in kinds} == {"person:resp-a"}
    assert "called, all fine" not in str(service.tables.outbox) + str(service.tables.audit)
    bad_time = await client.post(
        f"{case_path}/follow-up", json={"at": NOW.isoformat()}, headers=RESP_A
    )
    assert bad_time.status_code == 422  # not in the future


async def test_notes_are_read_by_the_responder_only_and_never_cached(
    client: httpx.AsyncClient, critical_case: str, service: FakeEscalationUnitOfWork
) -> None:
    path = f"/v1/cases/{critical_case}"
    assert (await client.post(f"{path}/acknowledge", headers=RESP_A)).is_success
    written = await client.post(f"{path}/notes", json={"text": "prefers phone"}, headers=RESP_A)
    assert written.status_code == 201 and written.json()["note_id"]
    plan = {"who_to_call": "her sister", "what_helps": "a walk"}
    assert (await client.put(f"{path}/safety-plan", json=plan, headers=RESP_A)).status_code == 204
    notes = await client.get(f"{path}/notes", headers=RESP_A)
    assert notes.status_code == 200
    assert notes.headers["cache-control"] == "no-store"
    body = notes.json()
    assert [n["text"] for n in body["notes"]] == ["prefers phone"]
    assert body["safety_plan"]["who_to_call"] == "her sister"
    for refused in (COORD, RESP_B, WORKER, ALL_SCOPES, CLAIMING):
        assert (await client.get(f"{path}/notes", headers=refused)).status_code == 403
    reads = [r.actor for r in service.tables.audit if r.action == "notes_read"]
    assert reads == ["person:resp-a"]


async def test_the_case_view_explains_the_case_to_its_responder_and_coordinators(
    client: httpx.AsyncClient, case_id: str
) -> None:
    assert (await client.post(f"/v1/cases/{case_id}/acknowledge", headers=RESP_A)).is_success
    answer = await client.get(f"/v1/cases/{case_id}", headers=RESP_A)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["consent"], body["reveal_allowed"], body["note_may_be_shown"]) == (
        "self_referral",
        True,
        False,
    )
    explanation = body["explanation"]
    assert [r["rule"] for r in explanation["rules"]] == ["self_referral"]
    (fired,) = explanation["rules"]
    assert fired["reason"] == "The person asked a peer responder to reach out."
    assert explanation["rules_version"] and fired["severity"] == "high"
    # Check-ins by their place in the case, never by the id the sending system chose.
    assert [(o["checkin_id"], o["signal_kind"]) for o in fired["observations"]] == [
        ("checkin-1", None)
    ]
    assert fired["checkin_ids"] == ["checkin-1"]
    assert fired["first_fired_at"] == fired["last_fired_at"] is not None
    assert [(c["checkin_id"], c["scores"]) for c in explanation["checkins"]] == [
        ("checkin-1", {"wants_contact": True})
    ]
    assert '"c-1"' not in answer.text
    assert [e["action"] for e in body["timeline"]] == [
        "opened",
        "assigned",
        "acknowledged",
        "read",
    ]
    assert subject("worker-1") not in answer.text and "worker-1" not in answer.text
    assert (await client.get(f"/v1/cases/{case_id}", headers=COORD)).status_code == 200
    for refused in (RESP_B, WORKER, ALL_SCOPES):
        assert (await client.get(f"/v1/cases/{case_id}", headers=refused)).status_code == 403


async def test_a_coordinator_reopens_a_resolved_case_and_holds_it(
    client: httpx.AsyncClient, case_id: str
) -> None:
    path = f"/v1/cases/{case_id}"
    for action, body in (("acknowledge", None), ("resolve", {"outcome": "supported"})):
        assert (await client.post(f"{path}/{action}", json=body, headers=RESP_A)).is_success
    refused = await client.post(f"{path}/reopen", json={"reason": "other"}, headers=RESP_B)
    assert refused.status_code == 403
    reopened = await client.post(
        f"{path}/reopen", json={"reason": "follow_up_concern", "note": "low again"}, headers=COORD
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["responder_id"]) == (
        "acknowledged",
        "coord-1",
    )


@pytest.fixture
async def question(
    service: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> tuple[str, str, str]:
    """An ``ask_first`` person's question: (case id, consent id, the yes link's path)."""
    async with service:
        await handle_checkins([checkin("c-5", "worker-2", who5=[1, 1, 1, 1, 1])], service, ctx)
    (request,) = [r for r in sent(service).requests if r["kind"] == "consent_request"]
    consent_id = request["params"]["consent_id"]
    expires = datetime.fromisoformat(request["params"]["consent_expires_at"])
    yes = mint_consent_token(LINK_SECRET, consent_id, ConsentAnswer.YES, expires)
    case_id = request["case_id"]
    return case_id, consent_id, f"/v1/consent/{consent_id}/yes?token={yes}"


async def test_a_consent_link_opens_a_page_with_both_answers_and_records_nothing(
    client: httpx.AsyncClient, question: tuple[str, str, str], service: FakeEscalationUnitOfWork
) -> None:
    case_id, consent_id, yes_path = question
    page = await client.get(yes_path, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert (page.headers["cache-control"], page.headers["referrer-policy"]) == (
        "no-store",
        "no-referrer",
    )
    assert page.text.count('<form method="post"') == 2
    assert f"/v1/consent/{consent_id}/yes?token=" in page.text
    assert f"/v1/consent/{consent_id}/no?token=" in page.text
    assert service.tables.case_work[case_id].consent.value == "asked"  # a GET answers nothing


async def test_the_other_answer_on_the_page_works_too_and_a_link_answers_once(
    client: httpx.AsyncClient, question: tuple[str, str, str], service: FakeEscalationUnitOfWork
) -> None:
    case_id, consent_id, yes_path = question
    page = await client.get(yes_path, headers={"Accept": "text/html"})
    no_path = html.unescape(page.text.split(f'action="/v1/consent/{consent_id}/no')[1])
    no_path = f"/v1/consent/{consent_id}/no" + no_path.split('"')[0]
    answered = await client.post(no_path, headers={"Accept": "text/html"})
    assert answered.status_code == 200, answered.text
    assert "Nobody will reach out" in answered.text
    assert service.tables.cases[case_id].case.outcome == "declined"
    again = await client.post(yes_path)
    assert again.status_code == 409 and again.headers["cache-control"] == "no-store"


async def test_a_consent_answer_over_http_and_its_refusals(
    client: httpx.AsyncClient,
    question: tuple[str, str, str],
    service: FakeEscalationUnitOfWork,
    clock: Clock,
) -> None:
    case_id, _, yes_path = question
    forged = await client.post(yes_path[:-1] + ("0" if yes_path[-1] != "0" else "1"))
    assert forged.status_code == 403
    as_no = await client.post(yes_path.replace("/yes?", "/no?"))
    assert as_no.status_code == 403  # the yes token never answers no
    yes = await client.post(yes_path)
    assert (yes.status_code, yes.json()) == (200, {"consent": "yes"})
    assert service.tables.case_work[case_id].consent.value == "yes"
    clock.advance(hours=73)
    expired = await client.get(yes_path, headers={"Accept": "text/html"})
    assert expired.status_code == 410 and "expired" in expired.text


def test_a_persons_own_data_is_limited_per_person_in_its_own_bucket(app: FastAPI) -> None:
    """Every call asks the check-in service's vault: a person's calls are limited apart from
    submissions and never spend the service key's vault budget (check-in counts them apart)."""
    found = policies(app)["GET /v1/me/data"]
    assert [(p.rate_limited, p.bucket) for p in found] == [(True, OWN_DATA)]

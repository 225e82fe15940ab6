"""The check-in HTTP API over the in-memory unit of work (the real routes, fakes behind them)."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from dishka import Provider, Scope, provide
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.domain.support import CrisisResources, crisis_resources
from kinship_checkin.entrypoints.http import VaultLimits, checkin_router
from kinship_checkin.handlers.erasure import ErasureTopics, erase_people, record_receipts
from kinship_checkin.handlers.outreach import OutreachTopic
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import RecordingTopics
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.directory import Role
from kinship_contracts.privacy import ErasureReceipt, ErasureRequested
from kinship_contracts.resources import DEFAULT_CATALOGUE
from kinship_runtime.access import PeopleDirectory, Person, RateLimits, policies
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.http import create_http_app
from kinship_runtime.identity import IdentityVerifier
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.vault import VaultClient, VaultRefusedError
from tests.kafka_reading import checkin
from tests.unit.fakes.checkin import ERASED_PEOPLE, FakeCheckinUnitOfWork
from tests.unit.fakes.http import FakePeople, _no_lifespan, bearer, identities, routes_client
from tests.unit.fakes.relay import FakeRelay

PLANTED_NOTE = "SECRET-NOTE-123"
AUTH = {"Authorization": "Bearer unit-key"}
NOTE_KEY = base64.b64encode(b"n" * 32).decode()
ESCALATION = {"Authorization": "Bearer escalation-key"}
VAULT_IDS_PER_MINUTE = 1600
NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)


PEOPLE = FakePeople(
    [
        Person("coord", frozenset({Role.COORDINATOR}), "t-0"),
        Person("mgr", frozenset({Role.TEAM_MANAGER}), "t-1"),
        Person("resp", frozenset({Role.PEER_RESPONDER}), "t-2"),
        Person("ann", frozenset(), "t-1"),
    ]
)
"""The directory roles of the people in these tests."""


class Fakes(Provider):
    """The check-in service's dependencies, with the unit of work and relay faked."""

    scope = Scope.APP

    def __init__(self, uow: FakeCheckinUnitOfWork, relay: FakeRelay) -> None:
        super().__init__()
        self.uow, self.relay = uow, relay

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> CheckinUnitOfWork:
        return self.uow

    @provide
    def outbox_relay(self) -> OutboxRelay:
        return self.relay  # type: ignore[return-value]

    @provide
    def identity_verifier(self) -> IdentityVerifier:
        return identities(
            [
                {"name": "survey", "scopes": ["checkins:submit"], "key": "unit-key"},
                {"name": "hr", "scopes": ["erasure:request"], "key": "hr-key"},
                {"name": "notifications", "scopes": ["subjects:deliver"], "key": "notify-key"},
                {"name": "recognition", "scopes": ["subjects:erasure"], "key": "erasure-key"},
                {
                    "name": "escalation",
                    "scopes": ["subjects:lookup", "subjects:screen"],
                    "key": "escalation-key",
                },
            ]
        )

    @provide
    def people(self) -> PeopleDirectory:
        return PEOPLE

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("100/minute", "100/minute")

    @provide
    def vault_limits(self) -> VaultLimits:
        return VaultLimits(RateLimits.of("100/minute", f"{VAULT_IDS_PER_MINUTE}/minute"))

    @provide
    def erased_people(self) -> ErasedIds:
        return ERASED_PEOPLE

    @provide
    def erasure_topics(self) -> ErasureTopics:
        return ErasureTopics("requested", "subjects", "receipts", "directory", "outreach")

    @provide
    def outreach_topic(self) -> OutreachTopic:
        return OutreachTopic("outreach")

    @provide
    def notes(self) -> NoteCipher:
        return NoteCipher({"n1": b"n" * 32}, "n1")

    @provide
    def topics(self) -> RecordingTopics:
        return RecordingTopics("recorded", "urgent")

    @provide
    def crisis(self) -> CrisisResources:
        return crisis_resources(DEFAULT_CATALOGUE)

    @provide
    def settings(self) -> CheckinSettings:
        return CheckinSettings(
            env="dev",
            note_keys=SecretStr(f"n1:{NOTE_KEY}"),
            note_key_id="n1",
        )


@pytest.fixture
def uow() -> FakeCheckinUnitOfWork:
    return FakeCheckinUnitOfWork()


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
async def client(uow: FakeCheckinUnitOfWork, relay: FakeRelay) -> AsyncIterator[httpx.AsyncClient]:
    async with routes_client("checkin", checkin_router(), Fakes(uow, relay)) as http:
        yield http


def test_every_route_states_its_least_policy() -> None:
    """Every route of the service declares one access policy, the least it needs (a route
    without one would be public: only body methods are authenticated before the route)."""
    app = create_http_app(
        title="checkin (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[checkin_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    found = policies(app)
    table = {
        route: [policy.describe() for policy in found[route]]
        for route in found
        if route.split()[1].startswith("/v1/")
    }
    person = "any signed-in person"
    assert table == {
        "POST /v1/checkins": ["systems with checkins:submit; any signed-in person"],
        "GET /v1/teams/{team_id}/trends": ["people who are coordinator or team_manager"],
        "GET /v1/me/outreach": [person],
        "PUT /v1/me/outreach": [person],
        "GET /v1/me": [person],
        "GET /v1/me/data": [person],
        "GET /v1/people": [person],
        "POST /v1/subjects/lookup": ["systems with subjects:lookup"],
        "POST /v1/subjects/{subject_id}/screen": ["systems with subjects:screen"],
        "POST /v1/subjects/{subject_id}/delivery": ["systems with subjects:deliver"],
        "POST /v1/reveal": ["people who are coordinator or peer_responder"],
        "POST /v1/people/{person_id}/erasure": [
            "systems with erasure:request; any signed-in person"
        ],
        "GET /v1/erasures/{erasure_id}": ["systems with erasure:request; any signed-in person"],
        "GET /v1/erasures/{erasure_id}/subjects": ["systems with subjects:erasure"],
        "GET /v1/erasures": ["people who are coordinator"],
        "PUT /v1/directory/people/{person_id}": ["systems with directory:publish"],
        "DELETE /v1/directory/people/{person_id}": ["systems with directory:publish"],
    }
    submissions = {
        route: policy[0].rate_limited for route, policy in found.items() if route in table
    }
    assert {route for route, limited in submissions.items() if limited} == {
        "POST /v1/checkins",
        "POST /v1/people/{person_id}/erasure",
        "PUT /v1/directory/people/{person_id}",
        "DELETE /v1/directory/people/{person_id}",
    }


async def test_http_checkin_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/checkins", json=checkin("c-1"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_http_checkin_is_202_then_202_duplicate_with_one_effect(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork, relay: FakeRelay
) -> None:
    first = await client.post("/v1/checkins", json=checkin("c-1"), headers=AUTH)
    again = await client.post("/v1/checkins", json=checkin("c-1", mood=1), headers=AUTH)
    assert (first.status_code, first.json()) == (202, {"id": "c-1", "status": "accepted"})
    assert (again.status_code, again.json()) == (202, {"id": "c-1", "status": "duplicate"})
    assert len(uow.outbox) == 1
    assert (uow.commits, relay.wakes) == (2, 2)


async def test_http_critical_checkin_response_carries_the_crisis_resources(
    client: httpx.AsyncClient,
) -> None:
    body = checkin("c-1", phq9=[0] * 8 + [1])
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 202
    support = response.json()["immediate_support"]
    expected = [r.name for r in crisis_resources(DEFAULT_CATALOGUE).resources]
    assert [item["name"] for item in support] == expected


async def test_http_contact_request_with_mood_1_carries_the_crisis_resources(
    client: httpx.AsyncClient,
) -> None:
    body = checkin("c-1", mood=1, wants_contact=True)
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.json()["immediate_support"]


async def test_http_invalid_checkin_is_422_with_field_locations_and_no_submitted_values(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    body = checkin("c-1", mood=9, note=PLANTED_NOTE + "x" * 2000)
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in response.json()["detail"])
    assert locations == [("body", "mood"), ("body", "note")]
    assert PLANTED_NOTE not in response.text
    assert uow.checkins == {}


async def test_http_422_never_echoes_an_unknown_field_name(client: httpx.AsyncClient) -> None:
    body = {**checkin("c-1"), PLANTED_NOTE: "x"}
    response = await client.post("/v1/checkins", json=body, headers=AUTH)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "<unknown>"]]
    assert PLANTED_NOTE not in response.text


async def test_a_person_submits_check_ins_only_as_themself(client: httpx.AsyncClient) -> None:
    own = await client.post(
        "/v1/checkins", json=checkin("c-1", person="ann"), headers=bearer("ann")
    )
    assert own.status_code == 202
    other = await client.post(
        "/v1/checkins", json=checkin("c-2", person="bob"), headers=bearer("ann")
    )
    assert other.status_code == 403 and "only as yourself" in other.json()["detail"]


async def test_a_key_without_the_submit_scope_cannot_submit(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/checkins", json=checkin("c-1"), headers={"Authorization": "Bearer hr-key"}
    )
    assert response.status_code == 403


async def test_team_trends_are_for_the_teams_manager_and_coordinators_only(
    client: httpx.AsyncClient,
) -> None:
    async def status(team: str, who: dict[str, str]) -> int:
        return (await client.get(f"/v1/teams/{team}/trends", headers=who)).status_code

    assert await status("t-1", bearer("mgr")) == 200
    assert await status("t-9", bearer("mgr")) == 403  # another team
    assert await status("t-9", bearer("coord")) == 200
    assert await status("t-1", bearer("ann")) == 403  # a team member is not its manager
    assert await status("t-1", AUTH) == 403  # a key never reads team trends


async def test_erasure_is_for_the_person_a_coordinator_or_an_hr_key(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    mine = await client.post("/v1/people/ann/erasure", headers=bearer("ann"))
    assert mine.status_code == 202
    assert (await client.post("/v1/people/bob/erasure", headers=bearer("ann"))).status_code == 403
    assert (await client.post("/v1/people/bob/erasure", headers=bearer("coord"))).status_code == 202
    hr = await client.post("/v1/people/bob/erasure", headers={"Authorization": "Bearer hr-key"})
    assert hr.status_code == 202
    assert (await client.post("/v1/people/bob/erasure", headers=AUTH)).status_code == 403
    status = await client.get(mine.json()["status_url"], headers=bearer("ann"))
    assert status.json()["requested_by"] == "the person" and not status.json()["complete"]
    listed = await client.get("/v1/erasures", headers=bearer("coord"))
    assert len(listed.json()) == 3
    assert (await client.get("/v1/erasures", headers=bearer("ann"))).status_code == 403


async def test_an_erasures_status_is_for_keys_coordinators_and_the_person_who_asked(
    client: httpx.AsyncClient,
) -> None:
    """An HR portal's (perhaps guessable) id or a coordinator's request tells another
    signed-in person nothing, not even that it exists."""
    hr_key = {"Authorization": "Bearer hr-key"}
    own = (await client.post("/v1/people/ann/erasure", headers=bearer("ann"))).json()
    by_hr = (await client.post("/v1/people/bob/erasure", headers=hr_key)).json()
    by_coord = (await client.post("/v1/people/cy/erasure", headers=bearer("coord"))).json()

    async def reads(who: dict[str, str]) -> list[int]:
        return [
            (await client.get(asked["status_url"], headers=who)).status_code
            for asked in (own, by_hr, by_coord)
        ]

    assert await reads(bearer("ann")) == [200, 404, 404]
    assert await reads(bearer("mgr")) == [200, 404, 404]  # the random id is the capability
    assert await reads(bearer("coord")) == [200, 200, 200]
    assert await reads(hr_key) == [200, 200, 200]
    assert await reads(AUTH) == [403, 403, 403]  # a key without erasure:request


async def test_only_the_notifications_key_resolves_a_subject_for_delivery(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    await client.post("/v1/checkins", json=checkin("c-1", person="ann"), headers=AUTH)
    subject = uow.vault["ann"]
    body = {"request_id": "req-1"}
    path = f"/v1/subjects/{subject}/delivery"
    ok = await client.post(path, json=body, headers={"Authorization": "Bearer notify-key"})
    assert ok.json() == {"person_id": "ann"}
    for who in (AUTH, bearer("coord"), bearer("resp")):
        assert (await client.post(path, json=body, headers=who)).status_code == 403
    unknown = await client.post(
        "/v1/subjects/nobody/delivery", json=body, headers={"Authorization": "Bearer notify-key"}
    )
    assert unknown.status_code == 404


async def test_a_reveal_without_a_valid_grant_is_refused_and_never_cached(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/reveal", json={"grant": "not-a-grant-at-all"}, headers=bearer("resp")
    )
    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"
    assert (
        await client.post("/v1/reveal", json={"grant": "x" * 20}, headers=AUTH)
    ).status_code == 403


async def test_a_person_reads_and_chooses_their_own_outreach_preference(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    first = await client.get("/v1/me/outreach", headers=bearer("ann"))
    assert first.json() == {"preference": "ask_first"}
    assert first.headers["cache-control"] == "no-store"
    chosen = await client.put(
        "/v1/me/outreach", json={"preference": "welcome"}, headers=bearer("ann")
    )
    assert chosen.status_code == 200
    assert (await client.get("/v1/me/outreach", headers=bearer("ann"))).json() == {
        "preference": "welcome"
    }
    assert (await client.get("/v1/me/outreach", headers=AUTH)).status_code == 403  # keys never
    bad = await client.put("/v1/me/outreach", json={"preference": "always"}, headers=bearer("ann"))
    assert bad.status_code == 422


async def test_vault_calls_over_their_cap_are_422_with_a_field_error_and_unaudited(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    people = [f"p{n:04d}" for n in range(1001)]
    calls = [
        ("/v1/subjects/lookup", {"person_ids": people}, 1000),
        ("/v1/subjects/lookup", {"person_ids": ["ann", "bob"], "create": False}, 1),
        ("/v1/subjects/s-1/screen", {"person_ids": people[:501]}, 500),
    ]
    for path, body, limit in calls:
        response = await client.post(path, json=body, headers=ESCALATION)
        assert response.status_code == 422, (path, response.text)
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "person_ids"] and f"at most {limit} " in error["msg"]
    assert uow.audits == [] and uow.vault == {}


async def test_each_vault_call_is_audited_once_with_its_caller_purpose_and_count(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    looked = await client.post(
        "/v1/subjects/lookup",
        json={"person_ids": ["ann", "bob"], "purpose": "signals"},
        headers=ESCALATION,
    )
    subject = looked.json()["subjects"]["ann"]
    screened = await client.post(
        f"/v1/subjects/{subject}/screen",
        json={"person_ids": ["resp", "ann"], "purpose": "alert"},
        headers=ESCALATION,
    )
    assert screened.json() == {"conflicts": ["ann"]}
    assert [(a.action, a.actor, a.subject_id, a.detail) for a in uow.audits] == [
        (
            "lookup",
            "system:escalation",
            None,
            {"purpose": "signals", "count": 2, "answered": 2, "create": True},
        ),
        ("screen", "system:escalation", subject, {"purpose": "alert", "count": 2, "conflicts": 1}),
    ]
    bad = await client.post(
        "/v1/subjects/lookup",
        json={"person_ids": ["ann"], "purpose": "Anything At All; DROP"},
        headers=ESCALATION,
    )
    assert bad.status_code == 422 and len(uow.audits) == 2
    # Only the vault's clients ask: not a person, not another calling system.
    for who in (bearer("coord"), AUTH):
        refused = await client.post(
            "/v1/subjects/lookup", json={"person_ids": ["ann"]}, headers=who
        )
        assert refused.status_code == 403


async def test_a_keys_vault_calls_are_rate_limited_by_the_ids_they_ask_about(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    people = [f"p{n:04d}" for n in range(1000)]
    first = await client.post(
        "/v1/subjects/lookup", json={"person_ids": people}, headers=ESCALATION
    )
    assert first.status_code == 200
    # 1000 of the key's 1600 ids a minute are spent: 600 more would be over.
    over = await client.post(
        "/v1/subjects/lookup", json={"person_ids": [*people[:600], "x"]}, headers=ESCALATION
    )
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    # Screens count apart: an alert is still screened.
    screen = await client.post(
        "/v1/subjects/s-1/screen", json={"person_ids": people[:500]}, headers=ESCALATION
    )
    assert screen.status_code == 200
    assert [a.action for a in uow.audits] == ["lookup", "screen"]


async def test_only_a_key_with_subjects_erasure_reads_an_open_erasures_subjects(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    await client.post("/v1/checkins", json=checkin("c-1", person="ann"), headers=AUTH)
    subject = uow.vault["ann"]
    async with uow:
        await erase_people(
            [ErasureRequested(id="er-1", person_id="ann", requested_at=NOW, source="hr")],
            uow,
            ErasureTopics("requested", "subjects", "receipts", "directory", "outreach"),
            datetime.now(UTC),
            erased=ERASED_PEOPLE,
        )
    path = "/v1/erasures/er-1/subjects"
    for who in (ESCALATION, AUTH, bearer("coord"), {"Authorization": "Bearer hr-key"}):
        assert (await client.get(path, headers=who)).status_code == 403
    erasure_key = {"Authorization": "Bearer erasure-key"}
    served = await client.get(path, headers=erasure_key)
    assert served.json() == {"erasure_id": "er-1", "subject_ids": [subject]}
    assert served.headers["cache-control"] == "no-store"
    async with uow:
        await record_receipts(
            [
                ErasureReceipt(id=f"er-1:{s}", erasure_id="er-1", service=s, completed_at=NOW)
                for s in ("checkin", "escalation", "notifications", "recognition")
            ],
            uow,
            datetime.now(UTC),
        )
    gone = await client.get(path, headers=erasure_key)
    assert gone.status_code == 410 and subject not in gone.text
    assert [a.detail["count"] for a in uow.audits if a.action == "erasure_subjects"] == [1, None]


async def test_the_vault_client_reaches_an_erasure_whatever_its_id_and_never_skips_a_miss(
    client: httpx.AsyncClient, uow: FakeCheckinUnitOfWork
) -> None:
    """Ids with URL-special characters are served (quoted); an id that is not one path
    segment fails loudly instead of reading as "closed" (it is refused at ingestion)."""
    await client.post("/v1/checkins", json=checkin("c-1", person="ann"), headers=AUTH)
    subject = uow.vault["ann"]
    odd = ["hr?2026", "hr#17", "hr%2F17", "hr%17", "a&b=c", "..x"]
    async with uow:
        await erase_people(
            [
                ErasureRequested(id=erasure_id, person_id="ann", requested_at=NOW, source="hr")
                for erasure_id in [*odd, "hr/2026/17"]
            ],
            uow,
            ErasureTopics("requested", "subjects", "receipts", "directory", "outreach"),
            datetime.now(UTC),
            erased=ERASED_PEOPLE,
        )
    vault = VaultClient("http://checkin", SecretStr("erasure-key"), transport=client._transport)
    # The first erasure forgot ann's subject; the later ones of the same person found none.
    assert [await vault.erasure_subjects(erasure_id) for erasure_id in odd] == [
        [subject],
        *[[] for _ in odd[1:]],
    ]
    with pytest.raises(VaultRefusedError):  # routed nowhere: never read as "closed"
        await vault.erasure_subjects("hr/2026/17")
    for unroutable in (".", ".."):
        with pytest.raises(VaultRefusedError):
            await vault.erasure_subjects(unroutable)
    assert await vault.erasure_subjects("never-held") is None  # 410: closed or unknown


class TightVault(Fakes):
    """The check-in service with a vault budget of 3 per window per key and bucket."""

    @provide
    def vault_limits(self) -> VaultLimits:
        return VaultLimits(RateLimits.of("100/minute", "3/minute"))


async def test_own_lookups_and_deliveries_spend_budgets_of_their_own() -> None:
    """A lookup on a person's behalf (create=false) never spends the budget of a service's
    consumers (create=true), and deliveries are limited per key too, in their own bucket."""
    uow = FakeCheckinUnitOfWork()
    async with routes_client("checkin", checkin_router(), TightVault(uow, FakeRelay())) as http:
        await http.post("/v1/checkins", json=checkin("c-1", person="ann"), headers=AUTH)
        subject = uow.vault["ann"]

        async def own() -> int:
            body = {"person_ids": ["ann"], "create": False, "purpose": "my_data"}
            answer = await http.post("/v1/subjects/lookup", json=body, headers=ESCALATION)
            return answer.status_code

        assert [await own() for _ in range(4)] == [200, 200, 200, 429]
        consumers = await http.post(
            "/v1/subjects/lookup",
            json={"person_ids": ["ann", "bo", "cy"], "purpose": "signals"},
            headers=ESCALATION,
        )
        assert consumers.status_code == 200

        async def deliver() -> int:
            answer = await http.post(
                f"/v1/subjects/{subject}/delivery",
                json={"request_id": "req-1"},
                headers={"Authorization": "Bearer notify-key"},
            )
            return answer.status_code

        assert [await deliver() for _ in range(4)] == [200, 200, 200, 429]
    assert [a.action for a in uow.audits].count("resolve_for_delivery") == 3

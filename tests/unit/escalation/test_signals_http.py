"""``POST /v1/signals`` over the in-memory unit of work (the real route, fakes behind it): who
may submit (keys with ``signals:submit`` only, never a person), what is queued (the signal
on ``wellbeing.signals.submitted``, keyed by its person or team, once per id), what is
refused (422 naming fields, never quoting them), and that the queued record, consumed, has
the effect a signal published to Kafka has (one code path)."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dishka import Provider, Scope, provide

from kinship_contracts.directory import Role
from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.entrypoints.consumers import parse_signals, store_signals
from kinship_escalation.entrypoints.signals_http import SignalLimits, signal_routes
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork
from kinship_escalation.settings import EscalationSettings
from kinship_runtime.access import PeopleDirectory, Person, RateLimits
from kinship_runtime.identity import IdentityVerifier
from kinship_runtime.outbox import OutboxMessage, OutboxRelay
from tests.unit.escalation.conftest import NOW, person, sent, subject
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork
from tests.unit.fakes.http import FakePeople, bearer, identities, routes_client
from tests.unit.fakes.kafka import Timed
from tests.unit.fakes.relay import FakeRelay

INCIDENT_TOOL = {"Authorization": "Bearer incident-key"}
SURVEY = {"Authorization": "Bearer survey-key"}
"""A key with every ingestion scope but ``signals:submit``."""
PREFIX = "unit."
TOPIC = f"{PREFIX}wellbeing.signals.submitted"


class Fakes(Provider):
    scope = Scope.APP

    def __init__(self, uow: FakeEscalationUnitOfWork, relay: FakeRelay, per_key: str) -> None:
        super().__init__()
        self.uow, self.relay, self.per_key = uow, relay, per_key

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> EscalationUnitOfWork:
        return self.uow

    @provide
    def outbox_relay(self) -> OutboxRelay:
        return self.relay  # type: ignore[return-value]

    @provide
    def settings(self) -> EscalationSettings:
        return EscalationSettings(env="dev", topic_prefix=PREFIX)

    @provide
    def identity_verifier(self) -> IdentityVerifier:
        return identities(
            [
                {"name": "incidents", "scopes": ["signals:submit"], "key": "incident-key"},
                {
                    "name": "survey",
                    "scopes": ["checkins:submit", "kudos:submit", "pulse:submit"],
                    "key": "survey-key",
                },
            ]
        )

    @provide
    def people(self) -> PeopleDirectory:
        return FakePeople([Person("coord-1", frozenset({Role.COORDINATOR}), "team-c")])

    @provide
    def limits(self) -> RateLimits:
        return RateLimits.of("100/minute", "10000/minute")  # check-ins' and the like

    @provide
    def signal_limits(self) -> SignalLimits:
        return SignalLimits(RateLimits.of("100/minute", self.per_key))


@pytest.fixture
def uow() -> FakeEscalationUnitOfWork:
    return FakeEscalationUnitOfWork()


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
async def client(
    uow: FakeEscalationUnitOfWork, relay: FakeRelay
) -> AsyncIterator[httpx.AsyncClient]:
    async with routes_client("escalation", signal_routes, Fakes(uow, relay, "100/minute")) as c:
        yield c


def body(id_: str = "sig-1", **fields: Any) -> dict[str, Any]:
    """A critical-incident signal about worker-1 (``fields`` add or replace)."""
    signal: dict[str, Any] = {
        "id": id_,
        "person_id": "worker-1",
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": (NOW - timedelta(minutes=30)).isoformat(),
        "source": "incident-tool",
    }
    return {key: value for key, value in (signal | fields).items() if value is not None}


def queued(uow: FakeEscalationUnitOfWork) -> list[OutboxMessage]:
    return [m for m in uow.tables.outbox if m.topic == TOPIC]


async def test_a_signal_is_queued_on_its_topic_keyed_by_its_person_with_its_id(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork, relay: FakeRelay
) -> None:
    response = await client.post("/v1/signals", json=body(), headers=INCIDENT_TOOL)
    assert response.status_code == 202, response.text
    assert response.json() == {"id": "sig-1", "status": "accepted"}
    (message,) = queued(uow)
    assert message.key == b"worker-1"
    assert message.value is not None
    assert SignalSubmitted.model_validate_json(message.value) == SignalSubmitted.model_validate(
        body()
    )
    headers = dict(message.headers)
    assert headers["ce_id"] == b"sig-1"  # the consumer refuses a ce_id other than the id
    assert headers["ce_type"] == b"kinship.signal.submitted.v1"
    assert relay.wakes == 1
    assert uow.tables.cases == {} and uow.tables.timers == {}  # the consumer acts, not the route


async def test_a_teams_signal_is_keyed_by_the_team(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork
) -> None:
    team = body("sig-t", person_id=None, team_id="team-x", kind="on_call_load", severity=3)
    response = await client.post("/v1/signals", json=team, headers=INCIDENT_TOOL)
    assert response.status_code == 202, response.text
    (message,) = queued(uow)
    assert message.key == b"team-x"


async def test_the_same_id_again_is_accepted_as_a_duplicate_and_queued_once(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork
) -> None:
    first = await client.post("/v1/signals", json=body(), headers=INCIDENT_TOOL)
    again = await client.post("/v1/signals", json=body(severity=2), headers=INCIDENT_TOOL)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == {"id": "sig-1", "status": "duplicate"}
    assert len(queued(uow)) == 1
    other = await client.post("/v1/signals", json=body("sig-2"), headers=INCIDENT_TOOL)
    assert other.json()["status"] == "accepted"
    assert [m.event_id for m in queued(uow)] == ["sig-1", "sig-2"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "burnout"}, ["body", "kind"]),
        ({"severity": 6}, ["body", "severity"]),
        ({"severity": "5"}, ["body", "severity"]),  # StrictInt: a string is refused
        ({"occurred_at": "yesterday"}, ["body", "occurred_at"]),
        ({"id": "has space"}, ["body", "id"]),
        ({"team_id": "team-x"}, ["body"]),  # a person and a team: exactly one is given
        ({"person_id": None}, ["body"]),  # neither
    ],
)
async def test_an_invalid_signal_is_refused_naming_the_field_and_nothing_is_queued(
    client: httpx.AsyncClient,
    uow: FakeEscalationUnitOfWork,
    change: dict[str, Any],
    field: list[str],
) -> None:
    response = await client.post("/v1/signals", json=body(**change), headers=INCIDENT_TOOL)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [field]
    assert queued(uow) == [] and uow.tables.processed == set()


async def test_a_refusal_never_quotes_what_was_sent(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork
) -> None:
    secret = "Dana was hurt in the warehouse fire"
    response = await client.post(
        "/v1/signals", json=body(summary="x" * 501, notes=secret), headers=INCIDENT_TOOL
    )
    assert response.status_code == 422
    assert secret not in response.text and "x" * 501 not in response.text
    assert queued(uow) == []


async def test_without_a_key_401_and_with_a_key_lacking_the_scope_403(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork
) -> None:
    anonymous = await client.post("/v1/signals", json=body())
    unknown = await client.post(
        "/v1/signals", json=body(), headers={"Authorization": "Bearer not-a-key"}
    )
    survey = await client.post("/v1/signals", json=body(), headers=SURVEY)
    assert (anonymous.status_code, unknown.status_code, survey.status_code) == (401, 401, 403)
    assert "signals:submit" in survey.json()["detail"]
    assert queued(uow) == []


@pytest.mark.parametrize("who", ["worker-1", "coord-1"])
async def test_a_person_may_not_submit_a_signal_even_about_themself_or_as_coordinator(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork, who: str
) -> None:
    response = await client.post("/v1/signals", json=body(person_id=who), headers=bearer(who))
    assert response.status_code == 403, response.text
    assert queued(uow) == []


async def test_a_key_over_its_signals_rate_limit_is_told_when_to_come_back(
    uow: FakeEscalationUnitOfWork, relay: FakeRelay
) -> None:
    async with routes_client("escalation", signal_routes, Fakes(uow, relay, "2/minute")) as c:
        answers = [
            (await c.post("/v1/signals", json=body(f"sig-{n}"), headers=INCIDENT_TOOL))
            for n in range(3)
        ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert len(queued(uow)) == 2


async def test_the_queued_record_consumed_offers_group_support_as_a_kafka_signal_does(
    client: httpx.AsyncClient, uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    """The record the route queues, read back by the service's own consumer (parse and
    store, as ``kinship_runtime.ingest`` calls them): the critical incident's defusing offer
    and follow-ups, once, however often the same id arrives, over HTTP or Kafka."""
    async with uow:
        await uow.directory.apply(
            [person("worker-1", "team-x"), person("c-x", "team-x", "coordinator")]
        )
    await client.post("/v1/signals", json=body(), headers=INCIDENT_TOOL)
    await client.post("/v1/signals", json=body(), headers=INCIDENT_TOOL)
    (message,) = queued(uow)
    record = Timed(
        value=message.value,
        key=message.key,
        headers=message.headers,
        topic=TOPIC,
        timestamp=int(NOW.timestamp() * 1000),
    )
    kafka_copy = Timed(value=json.dumps(body()).encode(), key=b"worker-1", topic=TOPIC)
    accepted, rejected = parse_signals([record, kafka_copy])
    assert rejected == [] and len(accepted) == 2
    await store_signals([item.event for item in accepted], uow, ctx)

    (proposal,) = sent(uow).proposals
    assert (proposal["team_id"], proposal["kind"], proposal["reason"]) == (
        "team-x",
        "defusing",
        "critical_incident",
    )
    assert [o["recipient"] for o in sent(uow).of_kind("group_session_offer")] == [
        {"person_id": "c-x"}
    ]
    follow_ups = sorted(
        armed.timer.id for armed in uow.tables.timers.values() if armed.timer.subject_id
    )
    assert follow_ups == [
        f"exposure_follow_up:sig-1:{subject('worker-1')}:72",
        f"exposure_follow_up:sig-1:{subject('worker-1')}:720",
    ]

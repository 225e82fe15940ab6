"""A person's own copy of what the escalation service holds about them
(``handlers.subject_records`` and ``GET /v1/me/data``), over fakes: cases by the subject id
the vault gives, staff never named, and nothing for anyone else."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from dishka import Provider, Scope, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.entrypoints.http import escalation_router
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.subject_records import (
    CaseEntry,
    SubjectCase,
    SubjectRecords,
    shown_actor,
    subject_data,
)
from kinship_runtime.http import create_http_app
from tests.escalation_support import bearer
from tests.unit.escalation.conftest import NOW, subject
from tests.unit.escalation.test_http import ALL_SCOPES, Fakes
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault
from tests.unit.fakes.relay import FakeRelay


class FakeSubjectRecords:
    """``SubjectRecords`` over cases and observations kept by subject id."""

    def __init__(self) -> None:
        self.cases: dict[str, list[SubjectCase]] = {}
        self.observations: dict[str, list[CheckinObservation]] = {}
        self.asked: list[list[str]] = []

    async def cases_about(self, subject_ids: Sequence[str]) -> list[SubjectCase]:
        self.asked.append(list(subject_ids))
        return [case for s in subject_ids for case in self.cases.get(s, [])]

    async def observations_of(self, subject_ids: Sequence[str]) -> list[CheckinObservation]:
        return [item for s in subject_ids for item in self.observations.get(s, [])]


CASE = SubjectCase(
    case_id="case-1",
    status="resolved",
    severity="critical",
    rules=["phq9_item9_positive"],
    opened_at=NOW,
    acknowledged_at=NOW + timedelta(minutes=3),
    contacted_at=NOW + timedelta(minutes=20),
    resolved_at=NOW + timedelta(days=1),
    outcome="supported",
    history=[
        CaseEntry(NOW, "opened", "detection"),
        CaseEntry(NOW + timedelta(minutes=3), "acknowledged", "person:resp-a"),
        CaseEntry(NOW + timedelta(minutes=4), "read", "person:coord-1"),
        CaseEntry(NOW + timedelta(days=2), "feedback_received", "subject"),
    ],
    feedback={"person": 5},
)


def test_staff_are_never_named_the_person_is_you_and_kinship_parts_keep_their_name() -> None:
    assert shown_actor("person:resp-a") == "staff"
    assert shown_actor("subject") == "you"
    assert shown_actor("timer") == "timer"
    assert shown_actor("system:hr-portal") == "system:hr-portal"


async def test_the_copy_has_the_cases_about_the_subject_the_vault_gives() -> None:
    vault, records = FakeVault(subject), FakeSubjectRecords()
    records.cases[subject("worker-1")] = [CASE]
    records.cases[subject("worker-2")] = [replace(CASE, case_id="case-2")]
    records.observations[subject("worker-1")] = [CheckinObservation("c-1", NOW, mood=2)]
    held = await subject_data("worker-1", vault, records)
    assert vault.lookups == [["worker-1"]]
    assert records.asked == [[subject("worker-1")]]
    (case,) = held.cases
    assert case.case_id == "case-1" and case.rules == ["phq9_item9_positive"]
    assert [(e.action, e.actor) for e in case.history] == [
        ("opened", "detection"),
        ("acknowledged", "staff"),
        ("read", "staff"),
        ("feedback_received", "you"),
    ]
    assert case.feedback == {"person": 5}
    assert [o.id for o in held.observations] == ["c-1"]


class WithRecords(Provider):
    scope = Scope.APP

    def __init__(self, records: FakeSubjectRecords) -> None:
        super().__init__()
        self.records = records

    @provide
    def subject_records(self) -> SubjectRecords:
        return self.records


@asynccontextmanager
async def _no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture
def records() -> FakeSubjectRecords:
    return FakeSubjectRecords()


@pytest.fixture
async def client(
    records: FakeSubjectRecords, ctx: EscalationContext
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_http_app(
        title="escalation (unit)",
        description="",
        lifespan=_no_lifespan,
        routers=[escalation_router()],
        broker=KafkaBroker("127.0.0.1:9"),
    )
    fakes = Fakes(FakeEscalationUnitOfWork(), FakeRelay(), ctx)
    container = make_async_container(fakes, WithRecords(records))
    setup_dishka(container, app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escalation") as http:
        yield http
    await container.close()


async def test_my_data_route_gives_the_signed_in_person_their_own_cases(
    client: httpx.AsyncClient, records: FakeSubjectRecords
) -> None:
    records.cases[subject("worker-1")] = [CASE]
    answer = await client.get("/v1/me/data", headers=bearer("worker-1"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["service"] == "escalation" and body["person_id"] == "worker-1"
    (case,) = body["cases"]
    assert (case["severity"], case["outcome"]) == ("critical", "supported")
    assert [entry["by"] for entry in case["history"]] == ["detection", "staff", "staff", "you"]
    assert "resp-a" not in answer.text and "coord-1" not in answer.text
    assert subject("worker-1") not in answer.text, "the pseudonym is used, never shown"
    other = (await client.get("/v1/me/data", headers=bearer("worker-2"))).json()
    assert other["cases"] == [] and other["observations"] == []


async def test_my_data_is_never_for_a_key_and_a_vault_away_is_a_503(
    client: httpx.AsyncClient, vault: FakeVault
) -> None:
    assert (await client.get("/v1/me/data", headers=ALL_SCOPES)).status_code == 403
    assert (await client.get("/v1/me/data")).status_code == 401
    vault.down = True
    away = await client.get("/v1/me/data", headers=bearer("worker-1"))
    assert away.status_code == 503 and away.headers["retry-after"]

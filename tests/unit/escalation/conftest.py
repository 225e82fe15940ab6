"""Builders for the escalation unit tests: a fixed clock, numbered ids, the use cases'
context, the in-memory unit of work with a directory, and events as other services send them."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.directory import DirectoryChange, DirectoryPerson
from kinship_contracts.links import mint_ack_token
from kinship_contracts.notifications import DeliveryStatus, MessageKind, NotificationReceipt
from kinship_contracts.signals import SignalSubmitted
from kinship_escalation.domain.links import AckLinks
from kinship_escalation.domain.policies import EscalationPolicy, default_policy
from kinship_escalation.domain.rules import DetectionRules
from kinship_escalation.domain.sealing import CaseNoteCipher
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.detection import handle_checkins
from tests.escalation_support import SUBJECTS, recorded_event
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork, FakeVault
from tests.unit.fakes.relay import FakeRelay

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
CASES = "escalation.cases"
REQUESTS = "notifications.requests"
RECEIPTS = "privacy.erasure.receipts"
LINK_SECRET = b"unit-link-secret-0123456789abcdef"
REQUEST_KEY = b"unit-request-key-0123456789abcdef"
GRANT_KEY = b"unit-grant-key-0123456789abcdef01"
LINK_LIFETIME = timedelta(hours=24)
CASE_NOTE_KEY = b"unit-case-note-key-32-bytes-long"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Ids:
    """Ids id-1, id-2, … in order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"id-{self.count}"


def context(clock: Clock, **overrides: Any) -> EscalationContext:
    """The use cases' context as the composition root builds it, with a test clock and ids,
    and a vault that knows everyone's subject id as the test events name them."""
    settings: dict[str, Any] = {
        "rules": DetectionRules(),
        "default_policy": default_policy(300, 3600),
        "links": AckLinks(LINK_SECRET, "http://127.0.0.1:8002", LINK_LIFETIME),
        "vault": FakeVault(SUBJECTS.subject_id),
        "cases_topic": CASES,
        "requests_topic": REQUESTS,
        "receipts_topic": RECEIPTS,
        "request_key": REQUEST_KEY,
        "grant_key": GRANT_KEY,
        "responder_rest": timedelta(hours=12),
        "clock": clock,
        "new_id": Ids(),
        "case_notes": CaseNoteCipher({"unit": CASE_NOTE_KEY}, "unit"),
    }
    return EscalationContext(**(settings | overrides))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault(SUBJECTS.subject_id)


@pytest.fixture
def ctx(clock: Clock, vault: FakeVault) -> EscalationContext:
    return context(clock, vault=vault)


def link_token(alert_id: str, sent_at: datetime = NOW) -> str:
    """The token the notifications service adds to an alert's link."""
    return mint_ack_token(LINK_SECRET, alert_id, sent_at + LINK_LIFETIME)


def person(person_id: str, team: str, *roles: str, **fields: Any) -> DirectoryChange:
    """A directory change adding or updating a person."""
    body = {
        "person_id": person_id,
        "display_name": person_id.title(),
        "team_id": team,
        "timezone": "Europe/London",
        "roles": list(roles),
        **fields,
    }
    return DirectoryChange(person_id, DirectoryPerson.model_validate(body))


STAFF = [
    person("resp-a", "team-r", "peer_responder"),
    person("resp-b", "team-s", "peer_responder"),
    person("coord-1", "team-c", "coordinator"),
    person("worker-1", "team-x"),
]
"""The integration tests' directory: two responders, a coordinator, a worker."""


@pytest.fixture
async def uow() -> AsyncIterator[FakeEscalationUnitOfWork]:
    """An in-memory unit of work, entered, with ``STAFF`` in its directory."""
    work = FakeEscalationUnitOfWork()
    async with work:
        await work.directory.apply(STAFF)
        yield work


def subject(person_id: str) -> str:
    return SUBJECTS.subject_id(person_id)


def checkin(
    id_: str,
    person_id: str = "worker-1",
    at: datetime = NOW,
    team: str | None = "team-x",
    **answers: Any,
) -> CheckinRecorded:
    """A recorded check-in as the check-in service publishes it."""
    return recorded_event(id_, person_id, at, team, **answers)


CRITICAL_PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 1]


def signal(id_: str, at: datetime, **about: str) -> SignalSubmitted:
    """A critical-incident signal about a person (``person_id=``) or a team (``team_id=``)."""
    body = {
        "id": id_,
        "kind": "critical_incident",
        "severity": 5,
        "occurred_at": at.isoformat(),
        "source": "incident-tool",
        **about,
    }
    return SignalSubmitted.model_validate(body)


def receipt(alert_id: str, status: str = "failed", kind: str = "alert") -> NotificationReceipt:
    """A delivery receipt for an alert."""
    return NotificationReceipt(
        id=f"r-{alert_id}-{kind}-{status}",
        request_id=f"alert:{alert_id}",
        kind=MessageKind(kind),
        status=DeliveryStatus(status),
        attempts=5,
        alert_id=alert_id,
        occurred_at=NOW,
    )


def policy(*steps: tuple[str, int] | tuple[str, int, int]) -> EscalationPolicy:
    """A policy from (target, timeout seconds[, repeat]) steps."""
    return EscalationPolicy.model_validate(
        {
            "steps": [
                {"target": s[0], "timeout_seconds": s[1], "repeat": s[2] if len(s) > 2 else 1}
                for s in steps
            ]
        }
    )


@dataclass(frozen=True)
class Sent:
    """What a unit of work queued, decoded: case transitions, group offers, requests."""

    transitions: list[dict[str, Any]]
    proposals: list[dict[str, Any]]
    requests: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["kind"] == kind]

    def alerted(self) -> list[tuple[str, int]]:
        """(recipient, step) of every alert request, in order."""
        return [(r["recipient"]["person_id"], r["alert"]["step"]) for r in self.of_kind("alert")]


def sent(uow: FakeEscalationUnitOfWork) -> Sent:
    on_cases = uow.published(CASES)
    return Sent(
        transitions=[m for m in on_cases if "sequence" in m],
        proposals=[m for m in on_cases if "window_start" in m],
        requests=uow.published(REQUESTS),
    )


# ---- the HTTP tests' shared fixtures ------------------------------------------------------------


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
async def service() -> FakeEscalationUnitOfWork:
    """The unit of work behind the routes, with ``STAFF`` (worker-1 an employee)."""
    work = FakeEscalationUnitOfWork()
    async with work:
        await work.directory.apply(STAFF)
    return work


@pytest.fixture
async def case_id(service: FakeEscalationUnitOfWork, ctx: EscalationContext) -> str:
    """A case about worker-1, alerting resp-a (step 1)."""
    async with service:
        await handle_checkins([checkin("c-1", "worker-1", wants_contact=True)], service, ctx)
    (opened,) = service.tables.cases
    return opened

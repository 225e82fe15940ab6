"""The escalation service's unit-of-work port, in memory."""

import copy
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from kinship_contracts.cases import CaseStatus
from kinship_contracts.directory import DirectoryChange, Role, latest_per_person
from kinship_escalation.domain.cases import AlertRecord, StoredCase
from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    ResponderLoad,
    StaffMember,
)
from kinship_escalation.domain.timers import Timer
from kinship_escalation.handlers.ports import SubjectObservation
from kinship_runtime.outbox import OutboxMessage


class UniqueViolationError(Exception):
    """What the database's unique index says about a second open case for one subject."""


@dataclass
class Person:
    """A ``directory_people`` row."""

    person_id: str
    team_id: str
    timezone: str
    roles: list[str]
    active: bool
    subject_id: str | None

    def as_staff(self) -> StaffMember:
        return StaffMember(
            self.person_id,
            self.subject_id or "",
            self.team_id,
            Role.PEER_RESPONDER in self.roles,
            Role.COORDINATOR in self.roles,
        )


@dataclass
class SentAlert:
    """An ``alerts`` row."""

    record: AlertRecord
    sent_at: datetime
    failed_at: datetime | None = None


@dataclass
class ArmedTimer:
    """A ``timers`` row."""

    timer: Timer
    fired_at: datetime | None = None


@dataclass
class Tables:
    """Everything the unit of work keeps; copied on entry so that a rollback restores it."""

    observations: dict[str, SubjectObservation] = field(default_factory=dict)
    cases: dict[str, StoredCase] = field(default_factory=dict)
    audit: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    feedback: dict[tuple[str, str], int] = field(default_factory=dict)
    alerts: dict[str, SentAlert] = field(default_factory=dict)
    timers: dict[str, ArmedTimer] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    rest: dict[str, datetime] = field(default_factory=dict)
    distress: set[tuple[str, str, datetime]] = field(default_factory=set)
    group_offers: dict[str, tuple[str, str, str, datetime]] = field(default_factory=dict)
    self_care: dict[str, datetime] = field(default_factory=dict)
    rotations: dict[str, OnCallRotation] = field(default_factory=dict)
    policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[OutboxMessage] = field(default_factory=list)


class _Part:
    def __init__(self, uow: "FakeEscalationUnitOfWork") -> None:
        self._uow = uow

    @property
    def tables(self) -> Tables:
        self._uow.check_entered()
        return self._uow.tables


class FakeObservations(_Part):
    async def add(self, observations: Sequence[SubjectObservation]) -> set[str]:
        new = set()
        for item in observations:
            observation = item[2]
            if observation.id not in self.tables.observations:
                self.tables.observations[observation.id] = item
                new.add(observation.id)
        return new

    async def histories(
        self, subject_ids: Sequence[str], since: datetime
    ) -> dict[str, list[CheckinObservation]]:
        found: dict[str, list[CheckinObservation]] = {}
        for subject, _, observation in self.tables.observations.values():
            if subject in subject_ids and observation.at >= since:
                found.setdefault(subject, []).append(observation)
        return {s: sorted(items, key=lambda o: (o.at, o.id)) for s, items in found.items()}


class FakeCases(_Part):
    async def open_case_of(self, subject_id: str) -> StoredCase | None:
        for stored in self.tables.cases.values():
            if stored.case.subject_id == subject_id and stored.case.is_open:
                return copy.deepcopy(stored)
        return None

    async def get(self, case_id: str) -> StoredCase | None:
        stored = self.tables.cases.get(case_id)
        return copy.deepcopy(stored) if stored else None

    async def assigned_to(self, responder_id: str | None, open_only: bool) -> list[StoredCase]:
        found = [
            copy.deepcopy(stored)
            for stored in self.tables.cases.values()
            if (responder_id is None or stored.case.responder_id == responder_id)
            and (not open_only or stored.case.is_open)
        ]
        return sorted(found, key=lambda s: s.case.opened_at, reverse=True)

    async def save(self, stored: StoredCase) -> None:
        case = stored.case
        clash = [
            other
            for other in self.tables.cases.values()
            if other.case.id != case.id
            and other.case.subject_id == case.subject_id
            and other.case.is_open
            and case.is_open
        ]
        if clash:
            raise UniqueViolationError("one_open_case_per_subject")
        self.tables.cases[case.id] = copy.deepcopy(stored)

    async def audit(
        self, case_id: str, action: str, actor: str, sequence: int | None = None
    ) -> None:
        self.tables.audit.append((case_id, action, actor, sequence))

    async def save_feedback(self, case_id: str, given_by: str, score: int, at: datetime) -> bool:
        if (case_id, given_by) in self.tables.feedback:
            return False
        self.tables.feedback[(case_id, given_by)] = score
        return True

    async def programme_metrics(self, min_cases: int) -> dict[str, Any]:
        cases = [stored.case for stored in self.tables.cases.values()]
        if len(cases) < min_cases:
            return {"cases": None, "withheld": f"fewer than {min_cases} cases so far"}
        outcomes: dict[str, int] = {}
        for case in cases:
            if case.outcome is not None:
                outcomes[case.outcome.value] = outcomes.get(case.outcome.value, 0) + 1
        return {"cases": len(cases), "outcomes": outcomes}


class FakeAlerts(_Part):
    async def add(self, alert: AlertRecord, sent_at: datetime) -> None:
        assert alert.case_id in self.tables.cases, "alerts reference a stored case"
        self.tables.alerts[alert.id] = SentAlert(alert, sent_at)

    async def get(self, alert_id: str) -> AlertRecord | None:
        sent = self.tables.alerts.get(alert_id)
        return sent.record if sent else None

    async def use_link(self, alert_id: str, now: datetime) -> None:
        sent = self.tables.alerts[alert_id]
        sent.record = AlertRecord(**{**sent.record.__dict__, "link_used_at": now})

    async def mark_failed(self, alert_id: str, now: datetime) -> None:
        self.tables.alerts[alert_id].failed_at = now

    async def all_failed(self, case_id: str, step: int, attempt: int) -> bool:
        of_step = [
            sent
            for sent in self.tables.alerts.values()
            if (sent.record.case_id, sent.record.step, sent.record.attempt)
            == (case_id, step, attempt)
        ]
        return bool(of_step) and all(sent.failed_at is not None for sent in of_step)


class FakeTimers(_Part):
    async def schedule(self, timer: Timer, *, replace: bool = False) -> None:
        armed = self.tables.timers.get(timer.id)
        if armed is None:
            self.tables.timers[timer.id] = ArmedTimer(timer)
        elif replace:
            kept = armed.timer
            moved = Timer(
                kept.id,
                kept.kind,
                timer.due_at,
                kept.case_id,
                kept.subject_id,
                kept.team_id,
                timer.payload,
            )
            self.tables.timers[timer.id] = ArmedTimer(moved)

    async def cancel(self, timer_ids: Sequence[str]) -> None:
        for timer_id in timer_ids:
            armed = self.tables.timers.get(timer_id)
            if armed is not None and armed.fired_at is None:
                del self.tables.timers[timer_id]

    async def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        due = sorted(
            (
                armed
                for armed in self.tables.timers.values()
                if armed.fired_at is None and armed.timer.due_at <= now
            ),
            key=lambda armed: (armed.timer.due_at, armed.timer.id),
        )[:limit]
        for armed in due:
            armed.fired_at = now
        return [armed.timer for armed in due]

    async def retry_at(self, timer_id: str, due_at: datetime) -> None:
        armed = self.tables.timers[timer_id]
        armed.fired_at = None
        armed.timer = Timer(**{**armed.timer.__dict__, "due_at": due_at})


class FakeDirectory(_Part):
    async def apply(self, changes: Sequence[DirectoryChange]) -> None:
        for change in latest_per_person(changes):
            person = change.person
            if person is None:
                self.tables.people.pop(change.person_id, None)
                continue
            self.tables.people[person.person_id] = Person(
                person.person_id,
                person.team_id,
                person.timezone,
                [role.value for role in person.roles],
                person.active,
                self._uow.subject_of(person.person_id),
            )

    async def staff(self) -> list[StaffMember]:
        staff = [
            person.as_staff()
            for person in self.tables.people.values()
            if person.active and {Role.PEER_RESPONDER, Role.COORDINATOR} & set(person.roles)
        ]
        return sorted(staff, key=lambda member: member.person_id)

    async def person(self, person_id: str) -> StaffMember | None:
        person = self.tables.people.get(person_id)
        return person.as_staff() if person and person.active else None

    async def timezone_of_subject(self, subject_id: str) -> str | None:
        found = [p.timezone for p in self.tables.people.values() if p.subject_id == subject_id]
        return found[0] if found else None

    async def team_of_subject(self, subject_id: str) -> str | None:
        found = [p.team_id for p in self.tables.people.values() if p.subject_id == subject_id]
        return found[0] if found else None


class FakeWorkload(_Part):
    async def loads(self, now: datetime) -> dict[str, ResponderLoad]:
        responders = [
            p.person_id
            for p in self.tables.people.values()
            if p.active and Role.PEER_RESPONDER in p.roles
        ]
        return {
            person_id: ResponderLoad(
                sum(
                    1
                    for stored in self.tables.cases.values()
                    if stored.case.responder_id == person_id
                    and stored.case.status is not CaseStatus.RESOLVED
                ),
                self.tables.rest.get(person_id),
            )
            for person_id in responders
        }

    async def rest(self, person_id: str, until: datetime) -> None:
        current = self.tables.rest.get(person_id)
        self.tables.rest[person_id] = until if current is None else max(current, until)


class FakeSupport(_Part):
    async def mark_distress(self, team_id: str, subject_id: str, at: datetime) -> None:
        self.tables.distress.add((team_id, subject_id, at))

    async def team_distress(self, team_id: str, since: datetime) -> list[tuple[str, datetime]]:
        return [(s, at) for t, s, at in self.tables.distress if t == team_id and at >= since]

    async def record_group_offer(
        self, offer_id: str, team_id: str, reason: str, kind: str, now: datetime
    ) -> bool:
        if offer_id in self.tables.group_offers:
            return False
        self.tables.group_offers[offer_id] = (team_id, reason, kind, now)
        return True

    async def last_group_offer(self, team_id: str, reason: str) -> datetime | None:
        times = [
            at for t, r, _, at in self.tables.group_offers.values() if (t, r) == (team_id, reason)
        ]
        return max(times) if times else None

    async def self_care_due(self, subject_id: str, now: datetime, every_days: int) -> bool:
        sent = self.tables.self_care.get(subject_id)
        if sent is not None and sent > now - timedelta(days=every_days):
            return False
        self.tables.self_care[subject_id] = now
        return True


class FakeOnCall(_Part):
    async def rotation(self, name: str) -> OnCallRotation | None:
        return self.tables.rotations.get(name)

    async def rotations(self) -> list[OnCallRotation]:
        return [self.tables.rotations[name] for name in sorted(self.tables.rotations)]

    async def save_rotation(self, rotation: OnCallRotation) -> None:
        self.tables.rotations[rotation.name] = rotation

    async def policy(self, name: str = "default") -> EscalationPolicy | None:
        return self.tables.policies.get(name)

    async def save_policy(self, policy: EscalationPolicy) -> None:
        self.tables.policies[policy.name] = policy


class FakeEscalationUnitOfWork:
    """Implements ``kinship_escalation.handlers.ports.EscalationUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it is transactional (what a failed unit of work or
    savepoint changed is rolled back), it loads cases as copies (a change counts once saved),
    refuses a second open case for a subject, and claims due timers by marking them fired.
    The same object can be entered again, like ``PoolTransaction``: a new transaction each time.
    """

    def __init__(self, subject_of: Callable[[str], str | None] = lambda _: None) -> None:
        self.subject_of = subject_of
        self.tables = Tables()
        self.observations = FakeObservations(self)
        self.cases = FakeCases(self)
        self.alerts = FakeAlerts(self)
        self.timers = FakeTimers(self)
        self.directory = FakeDirectory(self)
        self.workload = FakeWorkload(self)
        self.support = FakeSupport(self)
        self.on_call = FakeOnCall(self)
        self.commits = 0
        self.rollbacks = 0
        self._entered = False
        self._snapshot = Tables()

    def check_entered(self) -> None:
        assert self._entered, "handlers run inside an entered unit of work"

    async def __aenter__(self) -> Self:
        assert not self._entered, "a unit of work is entered once at a time"
        self._entered = True
        self._snapshot = copy.deepcopy(self.tables)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        if exc is None:
            self.commits += 1
            return
        self.rollbacks += 1
        self.tables = self._snapshot

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        self.check_entered()
        before = copy.deepcopy(self.tables)
        try:
            yield
        except BaseException:
            self.tables = before
            raise

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        self.check_entered()
        new = {
            event_id for event_id in event_ids if (consumer, event_id) not in self.tables.processed
        }
        self.tables.processed |= {(consumer, event_id) for event_id in new}
        return new

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        self.check_entered()
        self.tables.outbox += messages

    # ---- reading what was done, for assertions -----------------------------------------

    def published(self, topic: str) -> list[dict[str, Any]]:
        """The payloads queued for ``topic``, in order."""
        return [
            json.loads(m.value)
            for m in self.tables.outbox
            if m.topic == topic and m.value is not None
        ]

    def timer(self, timer_id: str) -> ArmedTimer | None:
        """A timer row by id."""
        return self.tables.timers.get(timer_id)

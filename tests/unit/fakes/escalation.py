"""The escalation service's ports in memory: the unit of work and the vault."""

import copy
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from kinship_contracts.cases import CaseStatus
from kinship_contracts.directory import (
    DirectoryChange,
    OutreachPreference,
    Role,
    latest_per_person,
)
from kinship_contracts.privacy import ErasureReceipt, ErasureStage
from kinship_escalation.domain.cases import (
    ERASED,
    AlertRecord,
    AuditEntry,
    AuditFilter,
    AuditRecord,
    StoredCase,
)
from kinship_escalation.domain.casework import (
    CaseNote,
    CaseWork,
    ObservedCheckin,
    PreferenceChange,
    TimelineEntry,
    shown_scores,
)
from kinship_escalation.domain.explanations import CaseExplanation, RecordedEvidence
from kinship_escalation.domain.observations import CheckinObservation, SignalObservation
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    ResponderLoad,
    StaffMember,
)
from kinship_escalation.domain.programme import Fact, FactKind, WeekMeasures
from kinship_escalation.domain.schedules.model import Schedule
from kinship_escalation.domain.sealing import SubjectKey
from kinship_escalation.domain.timers import Timer
from kinship_escalation.handlers.ports import (
    CalendarFeed,
    FeedKind,
    SubjectObservation,
    SubjectSignal,
)
from kinship_runtime.outbox import OutboxMessage, event_message
from kinship_runtime.vault import SubjectsAsOf, VaultUnavailableError
from tests.unit.fakes.unit_of_work import FakeUnitOfWork


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

    def as_staff(self) -> StaffMember:
        return StaffMember(
            self.person_id,
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
    audit: list[AuditRecord] = field(default_factory=list)
    feedback: dict[tuple[str, str], int] = field(default_factory=dict)
    feedback_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    programme_weeks: dict[date, WeekMeasures] = field(default_factory=dict)
    """Closed weeks as first served (``programme_weeks``, migration 0011)."""
    alerts: dict[str, SentAlert] = field(default_factory=dict)
    timers: dict[str, ArmedTimer] = field(default_factory=dict)
    rearms: list[int] = field(default_factory=list)
    """How many timers each ``Timers.rearm`` call (one statement) armed."""
    people: dict[str, Person] = field(default_factory=dict)
    rest: dict[str, datetime] = field(default_factory=dict)
    away: dict[str, datetime] = field(default_factory=dict)
    distress: set[tuple[str, str, datetime]] = field(default_factory=set)
    group_offers: dict[str, tuple[str, str, str, datetime]] = field(default_factory=dict)
    self_care: dict[str, datetime] = field(default_factory=dict)
    rotations: dict[str, OnCallRotation] = field(default_factory=dict)
    policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[OutboxMessage] = field(default_factory=list)
    erasures: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letter_people: set[str] = field(default_factory=set)
    """People named by the dead letters whose keys are still kept."""
    preferences: dict[str, tuple[OutreachPreference, datetime | None]] = field(default_factory=dict)
    case_work: dict[str, CaseWork] = field(default_factory=dict)
    case_notes: list[CaseNote] = field(default_factory=list)
    subject_keys: dict[str, SubjectKey] = field(default_factory=dict)
    shared_notes: set[str] = field(default_factory=set)
    """Observed check-ins whose notes the person shared (``observations.note_shared``)."""
    signals: list[SubjectSignal] = field(default_factory=list)
    evidence: dict[tuple[str, str, str], RecordedEvidence] = field(default_factory=dict)
    """``case_evidence`` rows by (case id, rule, observation ref), in recording order."""
    feeds: dict[str, CalendarFeed] = field(default_factory=dict)
    """``calendar_feeds`` rows by token hash."""
    erased_ids: dict[bytes, datetime] = field(default_factory=dict)
    """Digests of erased subject ids → when each expires."""
    erased_people: dict[bytes, tuple[datetime, datetime]] = field(default_factory=dict)
    """Digests of erased person ids → (when erased, when it expires); the same table as
    ``erased_ids`` in PostgreSQL (migration 0013: its ``erased_at`` column)."""


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

    async def serialise(self, subject_ids: Sequence[str]) -> None:
        self._uow.check_entered()
        self._uow.serialised.append(sorted(set(subject_ids)))

    async def add_signals(self, signals: Sequence[SubjectSignal]) -> None:
        self.tables.signals += signals

    async def signal_histories(
        self, subject_ids: Sequence[str], since: datetime
    ) -> dict[str, list[SignalObservation]]:
        found: dict[str, list[SignalObservation]] = {}
        for subject, signal in self.tables.signals:
            if subject in subject_ids and signal.at >= since:
                found.setdefault(subject, []).append(signal)
        return {s: sorted(items, key=lambda o: o.at) for s, items in found.items()}


class FakeCaseEvidence(_Part):
    async def record(self, case_id: str, entries: Sequence[RecordedEvidence]) -> None:
        assert case_id in self.tables.cases, "evidence references a stored case"
        for entry in entries:
            self.tables.evidence.setdefault((case_id, entry.rule, entry.observation.ref), entry)

    async def explain(self, case_id: str) -> CaseExplanation | None:
        stored = self.tables.cases.get(case_id)
        if stored is None:
            return None
        kept = [entry for (case, _, _), entry in self.tables.evidence.items() if case == case_id]
        return CaseExplanation.of(case_id, stored.case.rules_version, kept)


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

    async def about(self, subject_ids: Sequence[str]) -> list[StoredCase]:
        return [
            copy.deepcopy(stored)
            for case_id, stored in sorted(self.tables.cases.items())
            if stored.case.subject_id in subject_ids
        ]

    async def following_person(self, person_id: str) -> list[StoredCase]:
        return [
            copy.deepcopy(stored)
            for _, stored in sorted(self.tables.cases.items())
            if stored.policy.names(person_id)
        ]

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

    async def audit(self, record: AuditRecord) -> None:
        self.tables.audit.append(record)

    async def audit_log(self, query: AuditFilter, limit: int) -> list[AuditEntry]:
        found = [
            AuditEntry(
                seq,
                record.at,
                record.action,
                record.actor,
                record.case_ids[0] if len(record.case_ids) == 1 else None,
                len(record.case_ids),
            )
            for seq, record in enumerate(self.tables.audit, start=1)
            if (query.case_id is None or query.case_id in record.case_ids)
            and (query.actor is None or record.actor == query.actor)
            and (query.action is None or record.action == query.action)
            and (query.before is None or seq < query.before)
        ]
        return found[::-1][:limit]

    async def save_feedback(self, case_id: str, given_by: str, score: int, at: datetime) -> bool:
        if (case_id, given_by) in self.tables.feedback:
            return False
        self.tables.feedback[(case_id, given_by)] = score
        self.tables.feedback_at[(case_id, given_by)] = at
        return True

    async def programme_facts(self, start: datetime, end: datetime) -> list[Fact]:
        """As the adapter's query: the first acknowledgement and contact per case (from the
        audit trail), each resolution, each feedback, at the time each was recorded."""
        cases = {case_id: stored.case for case_id, stored in self.tables.cases.items()}
        facts = [Fact(FactKind.OPENED, case.subject_id, case.opened_at) for case in cases.values()]
        first: dict[tuple[str, str], AuditRecord] = {}
        for record in self.tables.audit:
            if len(record.case_ids) != 1 or record.case_ids[0] not in cases:
                continue
            case = cases[record.case_ids[0]]
            if record.action in ("acknowledged", "contacted"):
                first.setdefault((case.id, record.action), record)
            elif record.action == "resolved" and record.outcome and record.at:
                facts.append(
                    Fact(FactKind.RESOLVED, case.subject_id, record.at, None, record.outcome)
                )
        for (case_id, action), record in first.items():
            case = cases[case_id]
            done = record.at if action == "acknowledged" else case.contacted_at
            if record.at is not None and done is not None:
                seconds = (done - case.opened_at).total_seconds()
                facts.append(Fact(FactKind(action), case.subject_id, record.at, seconds))
        for (case_id, given_by), score in self.tables.feedback.items():
            at = self.tables.feedback_at[case_id, given_by]
            facts.append(
                Fact(FactKind.FEEDBACK, cases[case_id].subject_id, at, None, given_by, score)
            )
        return [fact for fact in facts if start <= fact.recorded_at < end]

    async def released_weeks(self, start: date, end: date) -> dict[date, WeekMeasures]:
        return {d: w for d, w in self.tables.programme_weeks.items() if start <= d < end}

    async def release_weeks(self, weeks: Sequence[WeekMeasures], at: datetime) -> None:
        for week in weeks:
            self.tables.programme_weeks.setdefault(week.week, week)


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

    async def rearm(self, timers: Sequence[Timer]) -> None:
        self.tables.rearms.append(len(timers))
        for timer in timers:
            await self.schedule(timer, replace=True)

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

    async def pending_of(self, case_ids: Sequence[str]) -> dict[str, list[Timer]]:
        found: dict[str, list[Timer]] = {}
        for armed in self.tables.timers.values():
            case_id = armed.timer.case_id
            if armed.fired_at is None and case_id is not None and case_id in case_ids:
                found.setdefault(case_id, []).append(armed.timer)
        return found

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

    async def team_of(self, person_id: str) -> str | None:
        person = self.tables.people.get(person_id)
        return person.team_id if person else None

    async def members(self, team_id: str) -> list[str]:
        return sorted(
            p.person_id for p in self.tables.people.values() if p.team_id == team_id and p.active
        )


class FakeWorkload(_Part):
    async def loads(self, now: datetime) -> dict[str, ResponderLoad]:
        responders = [
            p.person_id
            for p in self.tables.people.values()
            if p.active
            and (Role.PEER_RESPONDER in p.roles or self.tables.away.get(p.person_id, now) > now)
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
                self.tables.away.get(person_id),
            )
            for person_id in responders
        }

    async def rest(self, person_id: str, until: datetime) -> None:
        current = self.tables.rest.get(person_id)
        self.tables.rest[person_id] = until if current is None else max(current, until)

    async def away_until(self, person_id: str) -> datetime | None:
        return self.tables.away.get(person_id)

    async def set_away(self, person_id: str, until: datetime) -> None:
        self.tables.away[person_id] = until

    async def end_away(self, person_id: str) -> bool:
        return self.tables.away.pop(person_id, None) is not None


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


class FakePreferences(_Part):
    async def apply(self, changes: Sequence[PreferenceChange]) -> None:
        for change in changes:
            if change.preference is None:
                self.tables.preferences.pop(change.subject_id, None)
                continue
            kept = self.tables.preferences.get(change.subject_id)
            if kept and kept[1] and change.updated_at and kept[1] > change.updated_at:
                continue  # an older preference never replaces a newer one
            self.tables.preferences[change.subject_id] = (change.preference, change.updated_at)

    async def of(self, subject_id: str) -> OutreachPreference | None:
        kept = self.tables.preferences.get(subject_id)
        return kept[0] if kept else None

    async def forget(self, subject_ids: Sequence[str]) -> int:
        gone = [s for s in subject_ids if s in self.tables.preferences]
        for subject in gone:
            del self.tables.preferences[subject]
        return len(gone)


class FakeCaseFiles(_Part):
    async def get(self, case_id: str) -> CaseWork | None:
        work = self.tables.case_work.get(case_id)
        return copy.deepcopy(work) if work else None

    async def by_consent(self, consent_id: str) -> CaseWork | None:
        for work in self.tables.case_work.values():
            if work.consent_id == consent_id:
                return copy.deepcopy(work)
        return None

    async def save(self, work: CaseWork) -> None:
        assert work.case_id in self.tables.cases, "case work references a stored case"
        clash = [
            other
            for other in self.tables.case_work.values()
            if other.case_id != work.case_id
            and work.consent_id is not None
            and other.consent_id == work.consent_id
        ]
        assert not clash, "consent ids are unique"
        self.tables.case_work[work.case_id] = copy.deepcopy(work)

    async def add_note(self, note: CaseNote) -> None:
        assert note.case_id in self.tables.cases, "notes reference a stored case"
        self.tables.case_notes.append(note)

    async def notes(self, case_id: str) -> list[CaseNote]:
        found = [note for note in self.tables.case_notes if note.case_id == case_id]
        return sorted(found, key=lambda note: (note.written_at, note.id))

    async def subject_key(self, subject_id: str) -> SubjectKey | None:
        return self.tables.subject_keys.get(subject_id)

    async def add_subject_key(self, subject_id: str, key: SubjectKey) -> SubjectKey:
        return self.tables.subject_keys.setdefault(subject_id, key)

    async def share_notes(self, checkin_ids: Sequence[str]) -> None:
        self.tables.shared_notes |= {i for i in checkin_ids if i in self.tables.observations}

    async def checkins(self, checkin_ids: Sequence[str]) -> list[ObservedCheckin]:
        found = []
        for checkin_id in checkin_ids:
            if checkin_id not in self.tables.observations:
                continue
            observation = self.tables.observations[checkin_id][2]
            shared = checkin_id in self.tables.shared_notes
            found.append(
                ObservedCheckin(checkin_id, observation.at, shown_scores(observation), shared)
            )
        return sorted(found, key=lambda checkin: (checkin.at, checkin.id))

    async def timeline(self, case_id: str) -> list[TimelineEntry]:
        return [
            TimelineEntry(record.at, record.action, record.actor, record.sequence)
            for record in self.tables.audit
            if case_id in record.case_ids
        ]

    async def forget_subjects(
        self, subject_ids: Sequence[str], case_ids: Sequence[str]
    ) -> dict[str, int]:
        t = self.tables
        keys = [s for s in subject_ids if s in t.subject_keys]
        for subject in keys:
            del t.subject_keys[subject]
        notes = [n for n in t.case_notes if n.case_id in case_ids]
        t.case_notes = [n for n in t.case_notes if n.case_id not in case_ids]
        t.shared_notes &= set(t.observations)  # their observations went with the rows
        questions = 0
        for case_id in case_ids:
            work = t.case_work.get(case_id)
            if work is not None and work.consent_id is not None:
                work.consent_id = None
                questions += 1
        return {"subject_keys": len(keys), "case_notes": len(notes), "consent_questions": questions}

    async def forget_person(self, person_id: str) -> dict[str, int]:
        t = self.tables
        theirs = [i for i, n in enumerate(t.case_notes) if n.author == f"person:{person_id}"]
        for i in theirs:
            t.case_notes[i] = CaseNote(**{**t.case_notes[i].__dict__, "author": "person:erased"})
        return {"note_authors": len(theirs)}


class FakeOnCall(_Part):
    async def rotation(self, name: str) -> OnCallRotation | None:
        return self.tables.rotations.get(name)

    async def rotations(self) -> list[OnCallRotation]:
        return [self.tables.rotations[name] for name in sorted(self.tables.rotations)]

    async def save_rotation(self, rotation: OnCallRotation) -> None:
        self.tables.rotations[rotation.name] = rotation

    async def delete_rotation(self, name: str) -> None:
        self.tables.rotations.pop(name, None)

    async def policies(self) -> list[EscalationPolicy]:
        return [self.tables.policies[name] for name in sorted(self.tables.policies)]

    async def policy(self, name: str = "default") -> EscalationPolicy | None:
        return self.tables.policies.get(name)

    async def save_policy(self, policy: EscalationPolicy) -> None:
        self.tables.policies[policy.name] = policy

    async def delete_policy(self, name: str) -> bool:
        return self.tables.policies.pop(name, None) is not None

    async def schedule(self, name: str) -> Schedule | None:
        return self.tables.schedules.get(name)

    async def schedules(self) -> list[Schedule]:
        return [self.tables.schedules[name] for name in sorted(self.tables.schedules)]

    async def save_schedule(self, schedule: Schedule) -> None:
        self.tables.schedules[schedule.name] = schedule

    async def delete_schedule(self, name: str) -> bool:
        return self.tables.schedules.pop(name, None) is not None


def _about(message: OutboxMessage, keys: set[str], case_ids: Sequence[str]) -> bool:
    if message.key is not None and message.key.decode() in keys:
        return True
    return message.value is not None and json.loads(message.value).get("case_id") in case_ids


class FakeCalendarFeeds(_Part):
    async def replace(self, feed: CalendarFeed) -> None:
        await self.revoke(feed.kind, feed.subject, feed.owner)
        self.tables.feeds[feed.token_hash] = feed

    async def by_hash(self, token_hash: str) -> CalendarFeed | None:
        return self.tables.feeds.get(token_hash)

    async def revoke(self, kind: FeedKind, subject: str, owner: str) -> bool:
        mine = [
            key
            for key, feed in self.tables.feeds.items()
            if (feed.kind, feed.subject, feed.owner) == (kind, subject, owner)
        ]
        for key in mine:
            del self.tables.feeds[key]
        return bool(mine)

    async def of_owner(self, owner: str) -> list[CalendarFeed]:
        found = [feed for feed in self.tables.feeds.values() if feed.owner == owner]
        return sorted(found, key=lambda feed: (feed.kind, feed.subject))


class FakeOnCallRecords(_Part):
    async def pages(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        found: dict[str, list[datetime]] = {}
        for sent in sorted(self.tables.alerts.values(), key=lambda sent: sent.sent_at):
            if start <= sent.sent_at < end and sent.failed_at is None:
                found.setdefault(sent.record.recipient_id, []).append(sent.sent_at)
        return found

    async def cases_taken(self, start: datetime, end: datetime) -> dict[str, list[datetime]]:
        found: dict[str, list[datetime]] = {}
        taken = [
            (stored.case.acknowledged_at, stored.case.responder_id)
            for stored in self.tables.cases.values()
            if stored.case.acknowledged_at is not None and stored.case.responder_id is not None
        ]
        for at, responder in sorted(taken):
            if start <= at < end:
                found.setdefault(responder, []).append(at)
        return found

    async def time_zones(self, person_ids: Sequence[str]) -> dict[str, str]:
        people = self.tables.people
        return {p: people[p].timezone for p in person_ids if p in people}

    async def serialise_schedule(self, name: str) -> None:
        self._uow.check_entered()  # one transaction at a time: nothing to wait for


class FakeErasure(_Part):
    def _unsent(self, keys: set[str], case_ids: Sequence[str]) -> int:
        before = len(self.tables.outbox)
        self.tables.outbox = [m for m in self.tables.outbox if not _about(m, keys, case_ids)]
        return before - len(self.tables.outbox)

    def _shred(self, refs: set[str]) -> int:
        shredded = self.tables.dead_letter_people & refs
        self.tables.dead_letter_people -= shredded
        return len(shredded)

    async def forget_person(self, person_id: str) -> dict[str, int]:
        t = self.tables
        actors = [i for i, r in enumerate(t.audit) if r.actor in (f"person:{person_id}", person_id)]
        for i in actors:
            t.audit[i] = AuditRecord(**{**t.audit[i].__dict__, "actor": "person:erased"})
        recipients = [a for a in t.alerts.values() if a.record.recipient_id == person_id]
        for sent in recipients:
            sent.record = AlertRecord(**{**sent.record.__dict__, "recipient_id": ERASED})
        responders = alerted = 0
        for stored in t.cases.values():
            if stored.case.responder_id == person_id:
                stored.case.responder_id = None
                responders += 1
            if person_id in stored.alerted:
                stored.alerted = [p for p in stored.alerted if p != person_id]
                alerted += 1
        return {
            "directory": int(t.people.pop(person_id, None) is not None),
            "rest": int(t.rest.pop(person_id, None) is not None),
            "away": int(t.away.pop(person_id, None) is not None),
            "audit_actors": len(actors),
            "alert_recipients": len(recipients),
            "case_responders": responders,
            "case_alerted": alerted,
            "unsent_messages": self._unsent({person_id}, []),
            "dead_letter_keys": self._shred({person_id}),
            "calendar_feeds": self._forget_feeds(person_id),
        }

    def _forget_feeds(self, person_id: str) -> int:
        feeds = self.tables.feeds
        gone = [
            key
            for key, feed in feeds.items()
            if feed.owner == person_id or (feed.kind == "person" and feed.subject == person_id)
        ]
        for key in gone:
            del feeds[key]
        return len(gone)

    async def forget_subjects(
        self, subject_ids: Sequence[str], case_ids: Sequence[str]
    ) -> dict[str, int]:
        t, subjects = self.tables, set(subject_ids)
        observations = [k for k, (s, _, _) in t.observations.items() if s in subjects]
        for key in observations:
            del t.observations[key]
        marks = {m for m in t.distress if m[1] in subjects}
        t.distress -= marks
        signals = [item for item in t.signals if item[0] in subjects]
        t.signals = [item for item in t.signals if item[0] not in subjects]
        evidence = [row for row in t.evidence if row[0] in case_ids]
        for row in evidence:
            del t.evidence[row]
        self_care = [s for s in t.self_care if s in subjects]
        for subject in self_care:
            del t.self_care[subject]
        timers = [
            k
            for k, armed in t.timers.items()
            if armed.timer.subject_id in subjects or armed.timer.case_id in case_ids
        ]
        for key in timers:
            del t.timers[key]
        scrubbed = [i for i, r in enumerate(t.audit) if subjects & set(r.subject_ids)]
        for i in scrubbed:
            record = t.audit[i]
            kept = tuple(ERASED if s in subjects else s for s in record.subject_ids)
            t.audit[i] = AuditRecord(**{**record.__dict__, "subject_ids": kept})
        return {
            "observations": len(observations),
            "signal_observations": len(signals),
            "case_evidence": len(evidence),
            "distress_marks": len(marks),
            "self_care_marks": len(self_care),
            "timers": len(timers),
            "audit_subjects": len(scrubbed),
            "unsent_messages_about_them": self._unsent(subjects | set(case_ids), case_ids),
            "subject_dead_letter_keys": self._shred(subjects),
        }

    async def remember_erased(self, digests: Sequence[bytes], until: datetime) -> None:
        kept = self.tables.erased_ids
        for digest in digests:
            kept[digest] = max(until, kept.get(digest, until))

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        kept = self.tables.erased_ids
        return {d for d in digests if d in kept and kept[d] > now}

    async def remember_erased_people(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        kept = self.tables.erased_people
        for digest in digests:
            was_at, was_until = kept.get(digest, (erased_at, until))
            kept[digest] = (max(erased_at, was_at), max(until, was_until))

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        kept = self.tables.erased_people
        return {d: kept[d][0] for d in digests if d in kept and kept[d][1] > now}

    async def forget_erased(self, now: datetime, limit: int) -> int:
        subjects, people = self.tables.erased_ids, self.tables.erased_people
        gone = [d for d, until in subjects.items() if until <= now][:limit]
        for digest in gone:
            del subjects[digest]
        left = limit - len(gone)
        gone_people = [d for d, (_, until) in people.items() if until <= now][: max(left, 0)]
        for digest in gone_people:
            del people[digest]
        return len(gone) + len(gone_people)

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: dict[str, int],
        *,
        receipts_topic: str,
        now: datetime,
    ) -> OutboxMessage | None:
        progress = self.tables.erasures.setdefault(erasure_id, {"removed": {}})
        progress.setdefault(stage.value, now)
        progress["removed"] |= removed
        done = all(s.value in progress for s in ErasureStage)
        if not done or "receipt" in progress:
            return None
        progress["receipt"] = now
        receipt = ErasureReceipt(
            id=f"{erasure_id}:escalation",
            erasure_id=erasure_id,
            service="escalation",
            completed_at=now,
            removed=progress["removed"],
        )
        return event_message(
            receipts_topic,
            erasure_id,
            receipt,
            event_id=receipt.id,
            event_type="kinship.privacy.erasure_receipt.v1",
            source="kinship/escalation",
            time=now,
        )


class FakeVault:
    """The check-in service's vault: people's subject ids, screens, and an outage switch."""

    def __init__(self, subject_of: Callable[[str], str] = lambda p: f"subject-of-{p}") -> None:
        self.subject_of = subject_of
        self.down = False
        self.screens: list[tuple[str, list[str]]] = []
        self.lookups: list[list[str]] = []
        self.unknown: set[str] = set()
        """People the vault has no subject id for yet (they never checked in)."""
        self.erasures: dict[str, list[str]] = {}
        """Open erasures' subject ids."""
        self.erased_people: dict[str, datetime] = {}
        """People the vault erased, with when (its own record, as the check-in service's)."""
        self.dated: list[dict[str, datetime]] = []
        """The ``produced_at`` of each ``subjects_as_of``."""

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        self._answer()
        self.lookups.append(list(person_ids))
        if create:
            self.unknown -= set(person_ids)
        return {p: self.subject_of(p) for p in person_ids if p not in self.unknown}

    async def subjects_as_of(
        self,
        person_ids: Sequence[str],
        produced_at: Mapping[str, datetime],
        *,
        purpose: str = "unstated",
    ) -> SubjectsAsOf:
        """As the vault answers: a person erased at or after their newest record is refused
        (no subject id made); each dated person erased is named with when."""
        self._answer()
        self.lookups.append(list(person_ids))
        self.dated.append(dict(produced_at))
        erased = self.erased_people
        erased_at = {p: erased[p] for p in person_ids if p in produced_at and p in erased}
        refused = frozenset(p for p, at in erased_at.items() if produced_at[p] <= at)
        answered = [p for p in person_ids if p not in refused]
        self.unknown -= set(answered)
        found = {p: self.subject_of(p) for p in answered}
        return SubjectsAsOf(found, refused, erased_at)

    async def conflicts(
        self, subject_id: str, person_ids: Sequence[str], *, purpose: str = "unstated"
    ) -> list[str]:
        self._answer()
        self.screens.append((subject_id, list(person_ids)))
        return sorted(p for p in person_ids if self.subject_of(p) == subject_id)

    async def erasure_subjects(self, erasure_id: str) -> list[str] | None:
        self._answer()
        return self.erasures.get(erasure_id)

    def _answer(self) -> None:
        if self.down:
            raise VaultUnavailableError("the check-in service is unreachable (ConnectError)")


class FakeEscalationUnitOfWork(FakeUnitOfWork):
    """Implements ``kinship_escalation.handlers.ports.EscalationUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it is transactional (what a failed unit of work or
    savepoint changed is rolled back), it loads cases as copies (a change counts once saved),
    refuses a second open case for a subject, and claims due timers by marking them fired.
    The same object can be entered again, like ``PoolTransaction``: a new transaction each time.
    """

    _STATE = ("tables",)

    def __init__(self) -> None:
        super().__init__()
        self.tables = Tables()
        self.observations = FakeObservations(self)
        self.cases = FakeCases(self)
        self.alerts = FakeAlerts(self)
        self.timers = FakeTimers(self)
        self.directory = FakeDirectory(self)
        self.workload = FakeWorkload(self)
        self.support = FakeSupport(self)
        self.preferences = FakePreferences(self)
        self.casework = FakeCaseFiles(self)
        self.on_call = FakeOnCall(self)
        self.erasure = FakeErasure(self)
        self.evidence = FakeCaseEvidence(self)
        self.feeds = FakeCalendarFeeds(self)
        self.on_call_records = FakeOnCallRecords(self)
        self.serialised: list[list[str]] = []
        """The subjects whose detection lock each call took (a lock held by nobody else:
        the fake is single-threaded; tests check it is taken)."""

    def check_entered(self) -> None:
        self._check_entered()

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

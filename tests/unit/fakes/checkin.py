"""The check-in service's unit-of-work port, in memory."""

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kinship_checkin.domain.checkins import RecordedCheckin, StoredCheckin
from kinship_checkin.domain.people import (
    AuditEvent,
    Contact,
    DirectoryEntry,
    ErasureStatus,
    PersonMatch,
)
from kinship_checkin.domain.privacy import PersonKey, SealedNote
from kinship_checkin.domain.trends import (
    ReleasedTrend,
    ReleasedWeek,
    ReleasedWindow,
    TrendCell,
)
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import (
    DirectoryChange,
    DirectoryPerson,
    OutreachPreference,
    latest_per_person,
)
from kinship_contracts.privacy import ErasureReceipt
from kinship_runtime.erased_ids import ErasedIds, derive_key
from kinship_runtime.outbox import OutboxMessage
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.unit_of_work import FakeUnitOfWork

ERASED_PEOPLE = ErasedIds(
    derive_key(b"test-dead-letter-key", "tests"), timedelta(days=7), kind="person"
)
"""How the fake check-in service recognises erased person ids."""


@dataclass
class AuditEntry:
    action: str
    actor: str
    subject_id: str | None
    case_id: str | None
    detail: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Erasure:
    requested_at: datetime
    requested_by: str
    erased_at: datetime | None = None
    subjects: int | None = None
    receipts: dict[str, datetime] = field(default_factory=dict)


class FakeCheckinUnitOfWork(FakeUnitOfWork):
    """Implements ``kinship_checkin.handlers.ports.CheckinUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it is idempotent by event id (a known id is skipped and
    only the outbox messages of newly stored check-ins are queued), gives people random
    subject ids, and is transactional: what a failed unit of work changed is rolled back.
    """

    _STATE = (
        "teams",
        "contacts",
        "checkins",
        "vault",
        "keys",
        "outbox",
        "processed",
        "audits",
        "erasure_records",
        "erased_people",
        "held_subjects",
        "outreach",
        "people",
        "trend_weeks",
        "trend_windows",
    )

    def __init__(
        self,
        teams: dict[str, str] | None = None,
        cells: dict[str, list[TrendCell]] | None = None,
        today: date = date(2026, 11, 30),
    ) -> None:
        super().__init__()
        self.teams: dict[str, str] = dict(teams or {})
        self.contacts: dict[str, Contact] = {}
        self.cells: dict[str, list[TrendCell]] = dict(cells or {})
        self.today = today
        self.checkins: dict[str, RecordedCheckin] = {}
        self.vault: dict[str, str] = {}  # person_id -> subject_id
        self.keys: dict[str, PersonKey] = {}
        self.outbox: list[OutboxMessage] = []
        self.processed: set[tuple[str, str]] = set()
        self.audits: list[AuditEntry] = []
        self.erasure_records: dict[str, Erasure] = {}
        self.held_subjects: dict[str, tuple[list[str], datetime]] = {}  # erasure -> ids, expiry
        self.erased_people: dict[bytes, tuple[datetime, datetime]] = {}  # digest -> at, expiry
        self.outreach: dict[str, tuple[OutreachPreference, str]] = {}
        self.people: dict[str, DirectoryPerson] = {}  # the directory records, as applied
        self.trend_weeks: dict[tuple[str, date], ReleasedWeek] = {}  # (team, Monday) -> week
        self.trend_windows: dict[tuple[str, date, date], ReleasedWindow] = {}
        self.record_calls: list[list[str]] = []
        self.directory_calls: list[list[str]] = []
        self.teams_asked: list[list[str]] = []

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        self._check_entered()
        new = {i for i in event_ids if (consumer, i) not in self.processed}
        self.processed |= {(consumer, i) for i in new}
        return new

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        self._check_entered()
        self.teams_asked.append(list(person_ids))
        return {person: self.teams[person] for person in person_ids if person in self.teams}

    async def subjects_for(self, person_ids: Sequence[str], create: bool = True) -> dict[str, str]:
        self._check_entered()
        if create:
            for person in person_ids:
                self.vault.setdefault(person, secrets.token_hex(16))
        return {p: self.vault[p] for p in person_ids if p in self.vault}

    async def person_of(self, subject_id: str) -> str | None:
        self._check_entered()
        return next((p for p, s in self.vault.items() if s == subject_id), None)

    async def person_keys(self, subject_ids: Sequence[str]) -> dict[str, PersonKey]:
        self._check_entered()
        return {s: self.keys[s] for s in subject_ids if s in self.keys}

    async def add_person_keys(self, keys: Mapping[str, PersonKey]) -> None:
        self._check_entered()
        for subject, key in keys.items():
            self.keys.setdefault(subject, key)

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        self._check_entered()
        self.record_calls.append([item.event.id for item in checkins])
        new: set[str] = set()
        for item in checkins:
            if item.event.id in self.checkins:
                continue
            self.checkins[item.event.id] = item
            new.add(item.event.id)
        self.outbox += [message for message in messages if message.event_id in new]
        return new

    async def note_of(self, checkin_id: str, subject_id: str) -> SealedNote | None:
        self._check_entered()
        found = self.checkins.get(checkin_id)
        if found is None or found.event.subject_id != subject_id:
            return None
        return found.sealed_note

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        self._check_entered()
        self.directory_calls.append([change.person_id for change in changes])
        for change in latest_per_person(changes):
            if change.person is None:
                self.people.pop(change.person_id, None)
                self.teams.pop(change.person_id, None)
                self.contacts.pop(change.person_id, None)
            else:
                person = change.person
                self.people[change.person_id] = person
                self.teams[change.person_id] = person.team_id
                self.contacts[change.person_id] = Contact(
                    person.display_name,
                    {k: str(v) for k, v in person.channels.model_dump(exclude_none=True).items()},
                    person.timezone,
                )

    async def contact_of(self, person_id: str) -> Contact | None:
        self._check_entered()
        return self.contacts.get(person_id)

    def _mondays(self, weeks: int) -> list[date]:
        this_week = self.today - timedelta(days=self.today.weekday())
        return [this_week - timedelta(weeks=n) for n in range(weeks, 0, -1)]

    def _recorded_cells(self, team_id: str) -> list[TrendCell]:
        """The team's weekly figures from the check-ins held (erasure deletes them)."""
        by_week: dict[date, list[RecordedCheckin]] = {}
        for item in self.checkins.values():
            if item.event.team_id == team_id:
                day = item.event.occurred_at.astimezone(UTC).date()
                by_week.setdefault(day - timedelta(days=day.weekday()), []).append(item)

        def total(items: list[RecordedCheckin], name: str) -> tuple[int, int]:
            values = [getattr(i.event, name) for i in items if getattr(i.event, name) is not None]
            return sum(values), len(values)

        cells = []
        for monday, items in by_week.items():
            mood, stress, energy = (total(items, n) for n in ("mood", "stress", "energy"))
            who5 = [i.event.scores.who5_percent for i in items]
            who5_given = [value for value in who5 if value is not None]
            cells.append(
                TrendCell(
                    week_start=monday,
                    people=frozenset(i.event.subject_id for i in items),
                    checkins=len(items),
                    mood_sum=mood[0],
                    mood_count=mood[1],
                    stress_sum=stress[0],
                    stress_count=stress[1],
                    energy_sum=energy[0],
                    energy_count=energy[1],
                    who5_percent_sum=sum(who5_given),
                    who5_count=len(who5_given),
                )
            )
        return cells

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """The team's closed weeks from ``weeks`` weeks before the current week (as the SQL):
        the cells given, and those of the check-ins held."""
        self._check_entered()
        mondays = set(self._mondays(weeks))
        cells = [*self.cells.get(team_id, []), *self._recorded_cells(team_id)]
        return [cell for cell in cells if cell.week_start in mondays]

    async def released_trend(self, team_id: str, weeks: int) -> ReleasedTrend:
        self._check_entered()
        mondays = self._mondays(weeks)
        return ReleasedTrend(
            mondays=mondays,
            weeks={
                m: self.trend_weeks[team_id, m] for m in mondays if (team_id, m) in self.trend_weeks
            },
            window=self.trend_windows.get((team_id, mondays[0], mondays[-1])),
        )

    async def release_trend(
        self, team_id: str, weeks: Sequence[ReleasedWeek], window: ReleasedWindow | None
    ) -> None:
        self._check_entered()
        for week in weeks:
            self.trend_weeks.setdefault((team_id, week.week_start), week)
        if window is not None:
            self.trend_windows.setdefault((team_id, window.first_week, window.last_week), window)

    async def audit(
        self,
        action: str,
        actor: str,
        subject_id: str | None = None,
        case_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self._check_entered()
        self.audits.append(AuditEntry(action, actor, subject_id, case_id, dict(detail or {})))

    async def erase(self, person_id: str, subject_ids: Sequence[str]) -> dict[str, int]:
        self._check_entered()
        gone = [i for i, c in self.checkins.items() if c.event.subject_id in subject_ids]
        for checkin_id in gone:
            del self.checkins[checkin_id]
        keys = [s for s in subject_ids if self.keys.pop(s, None) is not None]
        self.contacts.pop(person_id, None)
        self.people.pop(person_id, None)
        outreach = [s for s in subject_ids if self.outreach.pop(s, None) is not None]
        audits = [a for a in self.audits if a.subject_id in subject_ids]
        self.audits = [a for a in self.audits if a.subject_id not in subject_ids]
        for entry in self.audits:
            if entry.actor == f"person:{person_id}":
                entry.actor = "person:erased"
        return {
            "checkins": len(gone),
            "data_keys": len(keys),
            "pseudonyms": int(self.vault.pop(person_id, None) is not None),
            "directory": int(self.teams.pop(person_id, None) is not None),
            "audit_records": len(audits),
            "outreach": len(outreach),
            "dead_letter_keys": 0,
        }

    async def record_erasure(self, erasure_id: str, requested_at: datetime, by: str) -> None:
        self._check_entered()
        self.erasure_records.setdefault(erasure_id, Erasure(requested_at, by))

    async def remember_erased(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        self._check_entered()
        for digest in digests:
            at, expiry = self.erased_people.get(digest, (erased_at, until))
            self.erased_people[digest] = (max(at, erased_at), max(expiry, until))

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        self._check_entered()
        kept = self.erased_people
        return {d: kept[d][0] for d in digests if d in kept and kept[d][1] > now}

    async def forget_erased(self, now: datetime, limit: int) -> int:
        self._check_entered()
        gone = [d for d, (_, until) in self.erased_people.items() if until <= now][:limit]
        for digest in gone:
            del self.erased_people[digest]
        return len(gone)

    async def mark_erased(self, erasure_id: str, at: datetime, subjects: int) -> None:
        self._check_entered()
        self.erasure_records[erasure_id].erased_at = at
        self.erasure_records[erasure_id].subjects = subjects

    async def hold_erasure_subjects(
        self, erasure_id: str, subject_ids: Sequence[str], expires_at: datetime
    ) -> None:
        self._check_entered()
        self.held_subjects.setdefault(erasure_id, (list(subject_ids), expires_at))

    async def erasure_subjects(self, erasure_id: str, now: datetime) -> list[str] | None:
        self._check_entered()
        held = self.held_subjects.get(erasure_id)
        return list(held[0]) if held is not None and held[1] > now else None

    async def release_erasure_subjects(self, erasure_id: str | None, now: datetime) -> int:
        self._check_entered()
        gone = [
            e for e, (_, expiry) in self.held_subjects.items() if e == erasure_id or expiry <= now
        ]
        for erasure in gone:
            del self.held_subjects[erasure]
        return len(gone)

    async def add_receipt(self, receipt: ErasureReceipt) -> None:
        self._check_entered()
        erasure = self.erasure_records.get(receipt.erasure_id)
        if erasure is not None:
            erasure.receipts.setdefault(receipt.service, receipt.completed_at)

    async def erasure_status(
        self, erasure_id: str, services: Sequence[str]
    ) -> ErasureStatus | None:
        self._check_entered()
        erasure = self.erasure_records.get(erasure_id)
        if erasure is None:
            return None
        return ErasureStatus(
            erasure_id,
            erasure.requested_at,
            erasure.requested_by,
            {name: erasure.receipts.get(name) for name in services},
        )

    async def erasures(self, services: Sequence[str], limit: int) -> list[ErasureStatus]:
        self._check_entered()
        records = self.erasure_records
        newest = sorted(records, key=lambda e: records[e].requested_at, reverse=True)
        found = [await self.erasure_status(e, services) for e in newest[:limit]]
        return [status for status in found if status is not None]

    async def outreach_of(self, subject_id: str) -> tuple[OutreachPreference, str] | None:
        self._check_entered()
        return self.outreach.get(subject_id)

    async def set_outreach(
        self, subject_id: str, preference: OutreachPreference, chosen_by: str, now: datetime
    ) -> bool:
        self._check_entered()
        current = self.outreach.get(subject_id)
        if current is not None and current[1] == "person" and chosen_by == "directory":
            return False
        if current == (preference, chosen_by):
            return False
        self.outreach[subject_id] = (preference, chosen_by)
        return True

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        self._check_entered()
        self.outbox += messages

    async def directory_entry(self, person_id: str) -> DirectoryEntry | None:
        self._check_entered()
        person = self.people.get(person_id)
        if person is None:
            return None
        return DirectoryEntry(
            person_id=person_id,
            display_name=person.display_name,
            team_id=person.team_id,
            timezone=person.timezone,
            roles=tuple(role.value for role in person.roles),
            manages=tuple(person.manages),
            channels={k: str(v) for k, v in person.channels.model_dump(exclude_none=True).items()},
            active=person.active,
        )

    async def search_people(self, text: str, limit: int) -> list[PersonMatch]:
        self._check_entered()
        wanted = text.lower()
        found = [
            PersonMatch(p.person_id, p.display_name)
            for p in self.people.values()
            if p.active
            and (wanted in p.display_name.lower() or p.person_id.lower().startswith(wanted))
        ]
        return sorted(found, key=lambda m: (m.display_name.lower(), m.person_id))[:limit]

    async def checkins_of(self, subject_id: str) -> list[StoredCheckin]:
        self._check_entered()
        mine = [c for c in self.checkins.values() if c.event.subject_id == subject_id]
        return [
            StoredCheckin(
                id=e.id,
                occurred_at=e.occurred_at,
                recorded_at=e.recorded_at,
                source=e.source,
                team_id=e.team_id,
                mood=e.mood,
                stress=e.stress,
                energy=e.energy,
                who5=e.who5,
                phq9=e.phq9,
                phq2=e.phq2,
                wants_contact=e.wants_contact,
                who5_raw=e.scores.who5_raw,
                who5_percent=e.scores.who5_percent,
                phq9_total=e.scores.phq9_total,
                phq9_item9_positive=e.scores.phq9_item9_positive,
                phq2_total=e.scores.phq2_total,
                sealed_note=c.sealed_note,
            )
            for c in sorted(mine, key=lambda c: (c.event.occurred_at, c.event.id))
            for e in [c.event]
        ]

    async def audit_about(self, subject_id: str) -> list[AuditEvent]:
        self._check_entered()
        return [
            AuditEvent(a.at, a.action, a.actor, a.case_id)
            for a in self.audits
            if a.subject_id == subject_id
        ]


def submitted(id_: str = "c-1", person: str = "alice", **fields: Any) -> CheckinSubmitted:
    """A check-in parsed from JSON bytes as it arrives from outside (mood 3 unless given)."""
    return CheckinSubmitted.model_validate_json(encode(checkin(id_, person, **fields)))

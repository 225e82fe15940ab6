"""The recognition service's ports in memory: the unit of work, the vault's subject lookup
and the chart renderer."""

import copy
import dataclasses
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.checkins import CheckinRecorded, DerivedScores
from kinship_contracts.directory import DirectoryChange, latest_per_person
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.privacy import ErasureReceipt, ErasureStage
from kinship_contracts.pulse import PULSE_QUESTIONS, PulseSubmitted
from kinship_contracts.topics import ERASURE_RECEIPTS
from kinship_recognition.domain.anonymise import stand_ins
from kinship_recognition.domain.awards import Grant
from kinship_recognition.domain.records import (
    AwardRecord,
    CaseFactRecord,
    FeedbackRecord,
    KudosRecord,
    PersonalRecords,
    PulseRecord,
)
from kinship_recognition.domain.reports import (
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    ReleasedWeek,
    TeamParticipation,
    TeamPulse,
    Timing,
    Window,
    closes_at,
    monday_of,
)
from kinship_recognition.handlers.erasure import ErasedPeople
from kinship_recognition.handlers.ports import ChartFormat, CheckinWeek
from kinship_runtime.erased_ids import ErasedIds, derive_key
from kinship_runtime.outbox import OutboxMessage, event_message
from kinship_runtime.vault import SubjectsAsOf, VaultUnavailableError
from tests.unit.fakes.unit_of_work import FakeUnitOfWork

_CASE_TIMES = {
    CaseEventKind.OPENED: "opened_at",
    CaseEventKind.ACKNOWLEDGED: "acknowledged_at",
    CaseEventKind.CONTACTED: "contacted_at",
    CaseEventKind.RESOLVED: "resolved_at",
}


ERASED_IDS = ErasedIds(derive_key(b"test-dead-letter-key", "tests"), timedelta(days=30))
"""How the tests recognise erased subject ids (the service's default keeping time)."""

ERASED_PEOPLE = ErasedPeople(
    derive_key(b"test-dead-letter-key", "tests-people"), timedelta(days=30), kind="person"
)
"""How the tests recognise erased person ids (the service's default keeping time)."""


class PoisonedRecordError(ValueError):
    """What the fake raises for kudos it was told to fail on (a lasting, non-transient error)."""


@dataclass
class Person:
    """A directory row as the projection keeps it (never a subject id)."""

    team_id: str
    timezone: str = "UTC"
    active: bool = True


@dataclass
class StoredKudos:
    kudos: KudosSubmitted
    message: str
    received_at: datetime
    from_team_id: str | None


@dataclass
class Week:
    team_id: str | None
    recorded_at: datetime


@dataclass
class CaseFact:
    subject_id: str
    team_id: str | None
    severity: str
    recorded_at: datetime
    opened_at: datetime | None = None
    acknowledged_at: datetime | None = None
    contacted_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None


@dataclass
class Feedback:
    subject_id: str
    score: int
    given_at: datetime
    recorded_at: datetime


@dataclass
class PulseRow:
    response_id: str
    team_id: str | None
    answered_at: datetime
    answers: dict[str, int | None]
    recorded_at: datetime


@dataclass
class ErasureProgress:
    person_done: bool = False
    subjects_done: bool = False
    receipt_sent: bool = False
    removed: dict[str, int] = field(default_factory=dict)


def _monday(at: datetime) -> date:
    """The UTC Monday a time falls in, as ``date_trunc('week', ...)`` gives it."""
    return monday_of(at.astimezone(UTC).date())


def _counted(at: datetime, recorded_at: datetime) -> bool:
    """Whether a fact of the week ``at`` falls in was recorded before that week closed."""
    return recorded_at < closes_at(_monday(at))


def _percentile(values: list[float], fraction: float) -> float | None:
    """``percentile_cont``: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(later: datetime | None, opened: datetime | None) -> float | None:
    return None if later is None or opened is None else (later - opened).total_seconds()


def _timing(values: Iterable[float | None]) -> Timing:
    present = [value for value in values if value is not None]
    return Timing(median=_percentile(present, 0.5), p90=_percentile(present, 0.9))


class FakeVault:
    """Implements ``kinship_recognition.handlers.ports.SubjectLookup``: the check-in service's
    vault, giving each person a subject id of its own (a new one the first time, as the
    vault does). ``unavailable`` makes it answer like an unreachable vault (``outages``: for
    that many calls only); ``calls`` records each lookup (one per unit of work is expected)."""

    def __init__(self) -> None:
        self.vault: dict[str, str] = {}
        self.calls: list[list[str]] = []
        self.unavailable = False
        self.outages = 0
        self.erasures: dict[str, list[str]] = {}
        """Open erasures' subject ids."""
        self.erased_people: dict[str, datetime] = {}
        """People the vault erased, with when (the check-in service's own record)."""
        self.dated: list[dict[str, datetime]] = []
        """The ``produced_at`` of each ``subjects_as_of``."""

    async def erasure_subjects(self, erasure_id: str) -> list[str] | None:
        if self.unavailable:
            raise VaultUnavailableError("the check-in service is unreachable (test)")
        return self.erasures.get(erasure_id)

    def subject(self, person_id: str) -> str:
        """The person's subject id (given now if they had none)."""
        return self.vault.setdefault(person_id, f"subj-{len(self.vault) + 1:04d}")

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        self.calls.append(list(person_ids))
        if self.unavailable or self.outages > 0:
            self.outages -= 1
            raise VaultUnavailableError("the check-in service is unreachable (test)")
        if not create:
            return {p: self.vault[p] for p in person_ids if p in self.vault}
        return {person: self.subject(person) for person in person_ids}

    async def subjects_as_of(
        self,
        person_ids: Sequence[str],
        produced_at: Mapping[str, datetime],
        *,
        purpose: str = "unstated",
    ) -> SubjectsAsOf:
        """As the vault answers: a person erased (``erased_people``) at or after their newest
        record is refused, no subject id made; each dated person erased is named with when."""
        self.dated.append(dict(produced_at))
        erased = self.erased_people
        erased_at = {p: erased[p] for p in person_ids if p in produced_at and p in erased}
        refused = frozenset(p for p, at in erased_at.items() if produced_at[p] <= at)
        found = await self.subjects([p for p in person_ids if p not in refused], purpose=purpose)
        return SubjectsAsOf(found, refused, erased_at)


class FakeRecognitionUnitOfWork(FakeUnitOfWork):
    """Implements ``kinship_recognition.handlers.ports.RecognitionUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it is idempotent by id (kudos, weeks, awards, supported
    cases, feedback per side, processed events), keeps the earliest time of each case
    transition and a respondent's latest pulse answers (until their week closes), counts a
    fact in a report's week only if it was recorded before the week closed, keeps the first
    copy of each released report week (``report_weeks``, left alone by erasure), and is
    transactional: what a failed unit of work changed is rolled back. ``poisoned_kudos``
    names kudos whose storing fails for good. ``dead_letter_refs`` stands in for the
    runtime's dead-letter keys: key id → the people it names.
    """

    _STATE: ClassVar[tuple[str, ...]] = (
        "people",
        "kudos",
        "weeks",
        "awards",
        "outbox",
        "supported",
        "case_facts",
        "feedback_rows",
        "pulse_rows",
        "report_weeks",
        "processed",
        "progress",
        "dead_letter_refs",
        "erased_ids",
        "erased_times",
    )

    def __init__(
        self,
        people: dict[str, Person] | None = None,
        *,
        poisoned_kudos: Iterable[str] = (),
    ) -> None:
        self.people: dict[str, Person] = dict(people or {})
        self.poisoned_kudos = set(poisoned_kudos)
        self.kudos: dict[str, StoredKudos] = {}
        self.weeks: dict[tuple[str, date], Week] = {}
        self.awards: dict[str, Grant] = {}
        self.outbox: list[OutboxMessage] = []
        self.supported: dict[str, tuple[str, datetime]] = {}
        self.case_facts: dict[str, CaseFact] = {}
        self.feedback_rows: dict[tuple[str, str], Feedback] = {}
        self.pulse_rows: dict[tuple[str, str], PulseRow] = {}
        self.report_weeks: dict[date, ReleasedWeek] = {}
        self.processed: set[tuple[str, str]] = set()
        self.progress: dict[str, ErasureProgress] = {}
        self.dead_letter_refs: dict[str, set[str]] = {}
        self.erased_ids: dict[bytes, datetime] = {}
        """Digests of erased subject (and person) ids → when each expires."""
        self.erased_times: dict[bytes, datetime] = {}
        """Digests of erased person ids → when each person was (last) erased."""
        super().__init__()

    # What tests read ---------------------------------------------------------

    def published(self, topic: str) -> list[dict[str, Any]]:
        """The payloads queued on ``topic``, in order."""
        return [json.loads(m.value or b"null") for m in self.outbox if m.topic == topic]

    def check_in(
        self,
        subject_id: str,
        week: date,
        team_id: str | None = None,
        recorded: datetime | None = None,
    ) -> None:
        """A check-in week as if recorded in time (or at ``recorded``)."""
        self.weeks[subject_id, week] = Week(
            team_id, recorded or datetime.combine(week, datetime.min.time(), UTC)
        )

    # Kudos -------------------------------------------------------------------

    async def is_known(self, kudos_id: str) -> bool:
        self._check_entered()
        return kudos_id in self.kudos

    async def sent_since(self, person_id: str, since: datetime) -> int:
        self._check_entered()
        return sum(
            1
            for stored in self.kudos.values()
            if stored.kudos.from_person_id == person_id and stored.received_at >= since
        )

    async def add_kudos(self, kudos: KudosSubmitted, message: str, now: datetime) -> bool:
        self._check_entered()
        if kudos.id in self.poisoned_kudos:
            raise PoisonedRecordError("the store refuses these kudos")
        if kudos.id in self.kudos:
            return False
        sender = self.people.get(kudos.from_person_id)
        team = sender.team_id if sender else None
        self.kudos[kudos.id] = StoredKudos(kudos, message, now, team)
        return True

    async def received(self, person_id: str) -> int:
        self._check_entered()
        return sum(1 for s in self.kudos.values() if s.kudos.to_person_id == person_id)

    async def team_kudos(self, team_id: str) -> tuple[int, int]:
        self._check_entered()
        sent = [s.kudos.from_person_id for s in self.kudos.values() if s.from_team_id == team_id]
        return len(sent), len(set(sent))

    # The directory -----------------------------------------------------------

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        self._check_entered()
        for change in latest_per_person(changes):
            if change.person is None:
                self.people.pop(change.person_id, None)
                continue
            person = change.person
            self.people[person.person_id] = Person(person.team_id, person.timezone, person.active)

    async def team_of_person(self, person_id: str) -> str | None:
        self._check_entered()
        person = self.people.get(person_id)
        return person.team_id if person else None

    async def team_members(self, team_id: str) -> list[str]:
        self._check_entered()
        return sorted(k for k, p in self.people.items() if p.team_id == team_id and p.active)

    # Check-in weeks ----------------------------------------------------------

    async def add_weeks(
        self, weeks: Sequence[CheckinWeek], now: datetime
    ) -> list[tuple[str, date]]:
        self._check_entered()
        new = []
        for week in weeks:
            if (week.subject_id, week.week) not in self.weeks:
                self.weeks[week.subject_id, week.week] = Week(week.team_id, now)
                new.append((week.subject_id, week.week))
        return new

    async def weeks_of(self, subject_ids: Sequence[str]) -> dict[str, list[date]]:
        self._check_entered()
        found: dict[str, list[date]] = {}
        for subject, week in sorted(self.weeks):
            if subject in subject_ids:
                found.setdefault(subject, []).append(week)
        return found

    async def team_week(self, team_id: str, week: date) -> tuple[int, int]:
        self._check_entered()
        members = [p for p in self.people.values() if p.team_id == team_id and p.active]
        participants = {
            s for (s, w), row in self.weeks.items() if w == week and row.team_id == team_id
        }
        return len(participants), len(members)

    # Awards ------------------------------------------------------------------

    async def add_award(self, grant: Grant) -> bool:
        self._check_entered()
        if grant.key in self.awards:
            return False
        self.awards[grant.key] = grant
        return True

    async def is_awarded(self, key: str) -> bool:
        self._check_entered()
        return key in self.awards

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        self._check_entered()
        self.outbox += messages

    # Cases, feedback and pulse -----------------------------------------------

    async def record_case_fact(self, event: CaseEvent, now: datetime) -> None:
        self._check_entered()
        fact = self.case_facts.setdefault(
            event.case_id,
            CaseFact(event.subject_id, event.team_id, event.severity.value, now),
        )
        fact.team_id = fact.team_id or event.team_id
        fact.severity = event.severity.value
        column = _CASE_TIMES.get(event.kind)
        if column is not None:
            earlier = getattr(fact, column)
            at = event.occurred_at if earlier is None else min(earlier, event.occurred_at)
            setattr(fact, column, at)
        if event.outcome is not None:
            fact.outcome = event.outcome.value

    async def add_supported_case(
        self, case_id: str, responder_id: str, resolved_at: datetime
    ) -> bool:
        self._check_entered()
        if case_id in self.supported:
            return False
        self.supported[case_id] = (responder_id, resolved_at)
        return True

    async def supported_by(self, responder_id: str) -> int:
        self._check_entered()
        return sum(1 for responder, _ in self.supported.values() if responder == responder_id)

    async def responder_of(self, case_id: str) -> str | None:
        self._check_entered()
        found = self.supported.get(case_id)
        return found[0] if found else None

    async def add_feedback(
        self, case_id: str, given_by: str, subject_id: str, score: int, at: datetime, now: datetime
    ) -> None:
        self._check_entered()
        self.feedback_rows.setdefault((case_id, given_by), Feedback(subject_id, score, at, now))

    async def add_pulse(self, pulse: PulseSubmitted, respondent: str, now: datetime) -> None:
        self._check_entered()
        key = (pulse.survey_id, respondent)
        earlier = self.pulse_rows.get(key)
        if earlier is not None and (
            pulse.occurred_at <= earlier.answered_at
            or now >= closes_at(_monday(earlier.answered_at))
        ):
            return  # only later answers replace earlier ones, and only while their week is open
        person = self.people.get(pulse.person_id)
        self.pulse_rows[key] = PulseRow(
            pulse.id,
            person.team_id if person else None,
            pulse.occurred_at,
            {name: getattr(pulse.answers, name) for name in PULSE_QUESTIONS},
            now,
        )

    # Programme reports -------------------------------------------------------

    async def members(self, team_id: str | None) -> int:
        self._check_entered()
        return sum(1 for p in self.people.values() if p.active and team_id in (None, p.team_id))

    def _counted_weeks(self, window: Window) -> list[tuple[str, date, str | None]]:
        return [
            (subject, week, row.team_id)
            for (subject, week), row in self.weeks.items()
            if window.start <= week < window.end and row.recorded_at < closes_at(week)
        ]

    async def participation(self, window: Window) -> list[ParticipationWeek]:
        self._check_entered()
        buckets: dict[date, set[str]] = {}
        for subject, week, _ in self._counted_weeks(window):
            buckets.setdefault(week, set()).add(subject)
        return [ParticipationWeek(week, len(people)) for week, people in buckets.items()]

    async def team_participation(self, window: Window) -> list[TeamParticipation]:
        self._check_entered()
        buckets: dict[tuple[date, str | None], set[str]] = {}
        for subject, week, team in self._counted_weeks(window):
            buckets.setdefault((week, team), set()).add(subject)
        return [TeamParticipation(w, t, len(people)) for (w, t), people in buckets.items()]

    async def cases(self, window: Window) -> list[CaseWeek]:
        self._check_entered()
        buckets: dict[date, list[CaseFact]] = {}
        for fact in self.case_facts.values():
            opened = fact.opened_at
            if (
                opened is not None
                and window.start_time <= opened < window.end_time
                and _counted(opened, fact.recorded_at)
            ):
                closes = closes_at(_monday(opened))
                as_closed = copy.copy(fact)
                for column in ("acknowledged_at", "contacted_at", "resolved_at"):
                    at = getattr(fact, column)
                    setattr(as_closed, column, at if at is not None and at < closes else None)
                if as_closed.resolved_at is None:
                    as_closed.outcome = None
                buckets.setdefault(_monday(opened), []).append(as_closed)
        return [self._case_week(week, facts) for week, facts in buckets.items()]

    @staticmethod
    def _case_week(week: date, facts: list[CaseFact]) -> CaseWeek:
        outcomes: dict[str, int] = {}
        for fact in facts:
            if fact.outcome is not None:
                outcomes[fact.outcome] = outcomes.get(fact.outcome, 0) + 1
        return CaseWeek(
            week=week,
            opened=len(facts),
            people=len({fact.subject_id for fact in facts}),
            acknowledged=sum(1 for fact in facts if fact.acknowledged_at is not None),
            time_to_acknowledge=_timing(_seconds(f.acknowledged_at, f.opened_at) for f in facts),
            time_to_first_contact=_timing(_seconds(f.contacted_at, f.opened_at) for f in facts),
            outcomes=outcomes,
        )

    async def feedback(self, window: Window) -> list[FeedbackWeek]:
        self._check_entered()
        buckets: dict[tuple[date, str], list[Feedback]] = {}
        for (_, side), row in self.feedback_rows.items():
            in_window = window.start_time <= row.given_at < window.end_time
            if in_window and _counted(row.given_at, row.recorded_at):
                buckets.setdefault((_monday(row.given_at), side), []).append(row)
        return [
            FeedbackWeek(
                week,
                side,
                len(rows),
                len({row.subject_id for row in rows}),
                statistics.fmean(row.score for row in rows),
            )
            for (week, side), rows in buckets.items()
        ]

    def _counted_pulse(self, window: Window) -> list[tuple[str, PulseRow]]:
        return [
            (respondent, row)
            for (_, respondent), row in self.pulse_rows.items()
            if window.start_time <= row.answered_at < window.end_time
            and _counted(row.answered_at, row.recorded_at)
        ]

    @staticmethod
    def _means(rows: Sequence[PulseRow]) -> dict[str, float]:
        means = {}
        for name in PULSE_QUESTIONS:
            given = [value for row in rows if (value := row.answers[name]) is not None]
            if given:
                means[name] = statistics.fmean(given)
        return means

    async def pulse(self, window: Window) -> list[PulseWeek]:
        self._check_entered()
        buckets: dict[date, list[tuple[str, PulseRow]]] = {}
        for respondent, row in self._counted_pulse(window):
            buckets.setdefault(_monday(row.answered_at), []).append((respondent, row))
        return [
            PulseWeek(week, len({r for r, _ in rows}), self._means([row for _, row in rows]))
            for week, rows in buckets.items()
        ]

    async def team_pulse(self, window: Window) -> list[TeamPulse]:
        self._check_entered()
        counted = self._counted_pulse(window)
        home: dict[tuple[date, str], tuple[datetime, str | None]] = {}
        for respondent, row in counted:
            key = (_monday(row.answered_at), respondent)
            if key not in home or row.answered_at > home[key][0]:
                home[key] = (row.answered_at, row.team_id)
        buckets: dict[tuple[date, str | None], list[tuple[str, PulseRow]]] = {}
        for respondent, row in counted:
            week = _monday(row.answered_at)
            buckets.setdefault((week, home[week, respondent][1]), []).append((respondent, row))
        return [
            TeamPulse(w, t, len({r for r, _ in rows}), self._means([row for _, row in rows]))
            for (w, t), rows in buckets.items()
        ]

    async def released_weeks(self, window: Window) -> dict[date, ReleasedWeek]:
        self._check_entered()
        return {
            week: released
            for week, released in self.report_weeks.items()
            if window.start <= week < window.end
        }

    async def release_weeks(self, weeks: Sequence[ReleasedWeek], at: datetime) -> None:
        self._check_entered()
        for released in weeks:
            # As stored and read back: a copy, never the caller's object.
            self.report_weeks.setdefault(
                released.week, ReleasedWeek.model_validate_json(released.model_dump_json())
            )

    # Erasure -----------------------------------------------------------------

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        self._check_entered()
        fresh = {event for event in event_ids if (consumer, event) not in self.processed}
        self.processed |= {(consumer, event) for event in fresh}
        return fresh

    def _shred(self, refs: Sequence[str]) -> int:
        gone = [key for key, named in self.dead_letter_refs.items() if named & set(refs)]
        for key in gone:
            del self.dead_letter_refs[key]
        return len(gone)

    async def erase_person(self, person_id: str) -> dict[str, int]:
        self._check_entered()
        kudos = [
            kudos_id
            for kudos_id, stored in self.kudos.items()
            if person_id in (stored.kudos.from_person_id, stored.kudos.to_person_id)
        ]
        for kudos_id in kudos:
            del self.kudos[kudos_id]
        awards = [
            key
            for key, grant in self.awards.items()
            if grant.person_id == person_id or key in {f"kudos:{k}" for k in kudos}
        ]
        for key in awards:
            del self.awards[key]
        cases = [case for case, (responder, _) in self.supported.items() if responder == person_id]
        for case in cases:
            del self.supported[case]
        directory = int(self.people.pop(person_id, None) is not None)
        return {
            "kudos": len(kudos),
            "awards": len(awards),
            "supported_cases": len(cases),
            "directory": directory,
            "dead_letter_keys": self._shred([person_id]),
        }

    async def erase_subjects(self, subject_ids: Sequence[str]) -> dict[str, int]:
        self._check_entered()
        subjects = set(subject_ids)
        if not subjects:
            return {}
        gone = [k for k, g in self.awards.items() if g.subject_id in subjects]
        for key in gone:
            del self.awards[key]
        removed = {"streak_awards": len(gone)}
        # Anonymised as the adapter does: fresh stand-ins per table, per subject and per case.
        people = stand_ins(sorted(subjects))
        weeks = {k: v for k, v in self.weeks.items() if k[0] in subjects}
        for subject, week in weeks:
            self.weeks[people[subject], week] = self.weeks.pop((subject, week))
        removed["checkin_weeks_anonymised"] = len(weeks)
        people = stand_ins(sorted(subjects))
        answers = [k for k in self.pulse_rows if k[1] in subjects]
        for survey, respondent in answers:
            row = self.pulse_rows.pop((survey, respondent))
            row.response_id = f"{people[respondent]}:{survey}"
            self.pulse_rows[survey, people[respondent]] = row
        removed["pulse_responses_anonymised"] = len(answers)
        cases = [k for k, fact in self.case_facts.items() if fact.subject_id in subjects]
        cases += [k[0] for k, given in self.feedback_rows.items() if given.subject_id in subjects]
        people, ids = stand_ins(sorted(subjects)), stand_ins(cases)
        facts = [k for k, fact in self.case_facts.items() if fact.subject_id in subjects]
        for case_id in facts:
            fact = self.case_facts.pop(case_id)
            fact.subject_id, fact.team_id, fact.severity = people[fact.subject_id], None, "erased"
            self.case_facts[ids[case_id]] = fact
        removed["case_facts_anonymised"] = len(facts)
        people, ids = stand_ins(sorted(subjects)), stand_ins(cases)
        given = [k for k, score in self.feedback_rows.items() if score.subject_id in subjects]
        for case_id, side in given:
            score = self.feedback_rows.pop((case_id, side))
            score.subject_id = people[score.subject_id]
            self.feedback_rows[ids[case_id], side] = score
        removed["case_feedback_anonymised"] = len(given)
        ids = stand_ins(cases)
        supported = [case_id for case_id in self.supported if case_id in ids]
        for case_id in supported:
            self.supported[ids[case_id]] = self.supported.pop(case_id)
        removed["supported_cases_anonymised"] = len(supported)
        ids = stand_ins(cases)
        thanks = [case_id for case_id in ids if f"thanks:{case_id}" in self.awards]
        for case_id in thanks:
            grant = self.awards.pop(f"thanks:{case_id}")
            key = f"thanks:{ids[case_id]}"
            self.awards[key] = dataclasses.replace(grant, key=key)
        removed["thanks_awards_anonymised"] = len(thanks)
        removed["subject_dead_letter_keys"] = self._shred(sorted(subjects))
        return removed

    async def remember_erased(
        self, digests: Sequence[bytes], until: datetime, *, erased_at: datetime | None = None
    ) -> None:
        self._check_entered()
        for digest in digests:
            self.erased_ids[digest] = max(until, self.erased_ids.get(digest, until))
            if erased_at is not None:
                at = self.erased_times.get(digest, erased_at)
                self.erased_times[digest] = max(at, erased_at)

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        self._check_entered()
        times, kept = self.erased_times, self.erased_ids
        return {d: times[d] for d in digests if d in times and kept[d] > now}

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        self._check_entered()
        return {d for d in digests if d in self.erased_ids and self.erased_ids[d] > now}

    async def forget_erased(self, now: datetime, limit: int) -> int:
        self._check_entered()
        gone = [d for d, until in self.erased_ids.items() if until <= now][:limit]
        for digest in gone:
            del self.erased_ids[digest]
            self.erased_times.pop(digest, None)
        return len(gone)

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: Mapping[str, int],
        receipts_topic: str,
        now: datetime,
    ) -> OutboxMessage | None:
        self._check_entered()
        progress = self.progress.setdefault(erasure_id, ErasureProgress())
        if stage is ErasureStage.PERSON:
            progress.person_done = True
        else:
            progress.subjects_done = True
        progress.removed |= removed
        if progress.receipt_sent or not (progress.person_done and progress.subjects_done):
            return None
        progress.receipt_sent = True
        receipt = ErasureReceipt(
            id=f"{erasure_id}:recognition",
            erasure_id=erasure_id,
            service="recognition",
            completed_at=now,
            removed=dict(progress.removed),
        )
        return event_message(
            receipts_topic,
            erasure_id,
            receipt,
            event_id=receipt.id,
            event_type=ERASURE_RECEIPTS.event_type,
            source="kinship/recognition",
            time=now,
        )

    # A person's own data -----------------------------------------------------

    async def personal_records(self, person_id: str, subject_id: str | None) -> PersonalRecords:
        self._check_entered()
        kudos = sorted(
            (
                s
                for s in self.kudos.values()
                if person_id in (s.kudos.from_person_id, s.kudos.to_person_id)
            ),
            key=lambda s: (s.received_at, s.kudos.id),
        )
        facts = sorted(
            (item for item in self.case_facts.items() if item[1].subject_id == subject_id),
            key=lambda item: (item[1].opened_at or datetime.min.replace(tzinfo=UTC), item[0]),
        )
        return PersonalRecords(
            kudos=[
                KudosRecord(
                    s.kudos.id,
                    s.kudos.from_person_id,
                    s.kudos.to_person_id,
                    s.message,
                    s.kudos.occurred_at,
                    s.received_at,
                )
                for s in kudos
            ],
            checkin_weeks=sorted(week for subject, week in self.weeks if subject == subject_id),
            awards=[
                AwardRecord(key, grant.kind.value, grant.count, None)
                for key, grant in self.awards.items()
                if grant.person_id == person_id or grant.subject_id == subject_id
            ],
            pulse=[
                PulseRecord(survey, row.answered_at, dict(row.answers))
                for (survey, respondent), row in sorted(self.pulse_rows.items())
                if respondent == subject_id
            ],
            cases=[
                CaseFactRecord(
                    case_id,
                    fact.severity,
                    fact.opened_at,
                    fact.acknowledged_at,
                    fact.contacted_at,
                    fact.resolved_at,
                    fact.outcome,
                )
                for case_id, fact in facts
            ],
            feedback=[
                FeedbackRecord(case_id, given_by, row.score, row.given_at)
                for (case_id, given_by), row in sorted(self.feedback_rows.items())
                if row.subject_id == subject_id
            ],
            cases_supported=[
                case_id
                for case_id, (responder, _) in sorted(
                    self.supported.items(), key=lambda item: (item[1][1], item[0])
                )
                if responder == person_id
            ],
        )


class FakeChartRenderer:
    """Implements ``kinship_recognition.handlers.ports.ChartRenderer``: remembers what it drew."""

    def __init__(self) -> None:
        self.drawn: list[tuple[ProgrammeReport, ChartFormat]] = []

    async def render(self, report: ProgrammeReport, fmt: ChartFormat) -> bytes:
        self.drawn.append((report, fmt))
        return f"{fmt} chart of {len(report.weeks)} weeks".encode()


# Events as they arrive -------------------------------------------------------


def kudos(
    id_: str = "k-1",
    sender: str = "ann",
    to: str = "bob",
    message: str = "Thanks!",
    at: datetime | None = None,
) -> KudosSubmitted:
    """Kudos parsed from JSON, as they arrive over HTTP or Kafka."""
    body = {
        "id": id_,
        "from_person_id": sender,
        "to_person_id": to,
        "message": message,
        "occurred_at": (at or datetime(2026, 11, 24, 9, tzinfo=UTC)).isoformat(),
        "source": "tests",
    }
    return KudosSubmitted.model_validate_json(json.dumps(body))


def checkin_recorded(
    id_: str, subject_id: str, at: datetime, team_id: str | None = None
) -> CheckinRecorded:
    """A recorded check-in (answers and scores play no part in recognition)."""
    return CheckinRecorded(
        id=id_,
        subject_id=subject_id,
        team_id=team_id,
        occurred_at=at,
        recorded_at=at,
        source="tests",
        mood=2,
        scores=DerivedScores(),
    )


def case_event(
    case_id: str,
    sequence: int,
    kind: CaseEventKind,
    at: datetime,
    subject_id: str = "subject-w",
    **fields: Any,
) -> CaseEvent:
    """A case transition as the escalation service publishes it."""
    body = {
        "id": f"{case_id}:{sequence}",
        "case_id": case_id,
        "sequence": sequence,
        "kind": kind.value,
        "occurred_at": at.isoformat(),
        "subject_id": subject_id,
        "status": "opened",
        "severity": "high",
        "rules": ["self_referral"],
        **fields,
    }
    return CaseEvent.model_validate_json(json.dumps(body))


def pulse(
    id_: str, person: str, at: datetime, survey: str = "2026-11", **answers: int
) -> PulseSubmitted:
    """Pulse-survey answers as they arrive."""
    body = {
        "id": id_,
        "person_id": person,
        "survey_id": survey,
        "occurred_at": at.isoformat(),
        "source": "tests",
        "answers": answers,
    }
    return PulseSubmitted.model_validate_json(json.dumps(body))

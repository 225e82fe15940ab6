"""The recognition service's ports in memory: the unit of work and the chart renderer."""

import copy
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from kinship_contracts.awards import Award
from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.checkins import CheckinRecorded, DerivedScores
from kinship_contracts.directory import DirectoryChange, latest_per_person
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.pulse import PULSE_QUESTIONS, PulseSubmitted
from kinship_recognition.domain.reports import (
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    Timing,
    Window,
)
from kinship_recognition.handlers.ports import ChartFormat
from kinship_runtime.outbox import OutboxMessage

_CASE_TIMES = {
    CaseEventKind.OPENED: "opened_at",
    CaseEventKind.ACKNOWLEDGED: "acknowledged_at",
    CaseEventKind.CONTACTED: "contacted_at",
    CaseEventKind.RESOLVED: "resolved_at",
}


class PoisonedRecordError(ValueError):
    """What the fake raises for kudos it was told to fail on (a lasting, non-transient error)."""


@dataclass
class Person:
    """A directory row as the projection keeps it."""

    team_id: str
    timezone: str = "UTC"
    active: bool = True
    subject_id: str | None = None


@dataclass
class StoredKudos:
    kudos: KudosSubmitted
    message: str
    received_at: datetime
    from_team_id: str | None


@dataclass
class CaseFact:
    subject_id: str
    team_id: str | None
    severity: str
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


@dataclass
class PulseRow:
    response_id: str
    team_id: str | None
    answered_at: datetime
    answers: dict[str, int | None]


def _monday(at: datetime | date) -> date:
    """The UTC Monday a time (or date) falls in, as ``date_trunc('week', ...)`` gives it."""
    day = at.astimezone(UTC).date() if isinstance(at, datetime) else at
    return day - timedelta(days=day.weekday())


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


class FakeRecognitionUnitOfWork:
    """Implements ``kinship_recognition.handlers.ports.RecognitionUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it is idempotent by id (kudos, weeks, awards, supported
    cases, feedback per side), keeps the earliest time of each case transition and a
    respondent's latest pulse answers, and is transactional: what a failed unit of work
    changed is rolled back. ``poisoned_kudos`` names kudos whose storing fails for good.
    """

    _STATE = (
        "people",
        "kudos",
        "weeks",
        "awards",
        "outbox",
        "supported",
        "case_facts",
        "feedback_rows",
        "pulse_rows",
    )

    def __init__(
        self,
        people: dict[str, Person] | None = None,
        *,
        subject_of: Callable[[str], str] | None = None,
        poisoned_kudos: Iterable[str] = (),
    ) -> None:
        self.people: dict[str, Person] = dict(people or {})
        self.subject_of = subject_of
        self.poisoned_kudos = set(poisoned_kudos)
        self.kudos: dict[str, StoredKudos] = {}
        self.weeks: set[tuple[str, date]] = set()
        self.awards: dict[str, Award] = {}
        self.outbox: list[OutboxMessage] = []
        self.supported: dict[str, tuple[str, datetime]] = {}
        self.case_facts: dict[str, CaseFact] = {}
        self.feedback_rows: dict[tuple[str, str], Feedback] = {}
        self.pulse_rows: dict[tuple[str, str], PulseRow] = {}
        self.commits = 0
        self.rollbacks = 0
        self._entered = False
        self._snapshot: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        assert not self._entered, "a unit of work is entered once at a time"
        self._entered = True
        self._snapshot = copy.deepcopy({name: getattr(self, name) for name in self._STATE})
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
        for name, value in self._snapshot.items():
            setattr(self, name, value)

    def _check_entered(self) -> None:
        assert self._entered, "handlers run inside an entered unit of work"

    # What tests read ---------------------------------------------------------

    def published(self, topic: str) -> list[dict[str, Any]]:
        """The payloads queued on ``topic``, in order."""
        return [json.loads(m.value or b"null") for m in self.outbox if m.topic == topic]

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
            subject = self.subject_of(person.person_id) if self.subject_of else None
            self.people[person.person_id] = Person(
                person.team_id, person.timezone, person.active, subject
            )

    def _by_subject(self, subject_ids: Sequence[str]) -> dict[str, Person]:
        wanted = set(subject_ids)
        return {
            p.subject_id: p
            for p in self.people.values()
            if p.subject_id is not None and p.subject_id in wanted
        }

    async def team_of_person(self, person_id: str) -> str | None:
        self._check_entered()
        person = self.people.get(person_id)
        return person.team_id if person else None

    async def timezones_of(self, subject_ids: Sequence[str]) -> dict[str, str]:
        self._check_entered()
        return {s: p.timezone for s, p in self._by_subject(subject_ids).items()}

    async def teams_of_subjects(self, subject_ids: Sequence[str]) -> dict[str, str]:
        self._check_entered()
        return {s: p.team_id for s, p in self._by_subject(subject_ids).items()}

    async def team_members(self, team_id: str) -> list[str]:
        self._check_entered()
        return sorted(k for k, p in self.people.items() if p.team_id == team_id and p.active)

    # Check-in weeks ----------------------------------------------------------

    async def add_weeks(self, weeks: Sequence[tuple[str, date]]) -> list[tuple[str, date]]:
        self._check_entered()
        new = [week for week in dict.fromkeys(weeks) if week not in self.weeks]
        self.weeks.update(new)
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
        subjects = {p.subject_id for p in members}
        participants = {s for s, w in self.weeks if w == week and s in subjects}
        return len(participants), len(members)

    # Awards ------------------------------------------------------------------

    async def add_award(self, award: Award) -> bool:
        self._check_entered()
        if award.id in self.awards:
            return False
        self.awards[award.id] = award
        return True

    async def is_awarded(self, award_id: str) -> bool:
        self._check_entered()
        return award_id in self.awards

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        self._check_entered()
        self.outbox += messages

    # Cases, feedback and pulse -----------------------------------------------

    async def record_case_fact(self, event: CaseEvent) -> None:
        self._check_entered()
        fact = self.case_facts.setdefault(
            event.case_id, CaseFact(event.subject_id, event.team_id, event.severity.value)
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
        self, case_id: str, given_by: str, subject_id: str, score: int, at: datetime
    ) -> None:
        self._check_entered()
        self.feedback_rows.setdefault((case_id, given_by), Feedback(subject_id, score, at))

    async def add_pulse(self, pulse: PulseSubmitted, respondent: str) -> None:
        self._check_entered()
        key = (pulse.survey_id, respondent)
        earlier = self.pulse_rows.get(key)
        if earlier is not None and pulse.occurred_at <= earlier.answered_at:
            return  # only later answers replace earlier ones
        person = self.people.get(pulse.person_id)
        self.pulse_rows[key] = PulseRow(
            pulse.id,
            person.team_id if person else None,
            pulse.occurred_at,
            {name: getattr(pulse.answers, name) for name in PULSE_QUESTIONS},
        )

    # Programme reports -------------------------------------------------------

    async def members(self, team_id: str | None) -> int:
        self._check_entered()
        return sum(1 for p in self.people.values() if p.active and team_id in (None, p.team_id))

    async def participation(
        self, window: Window, team_id: str | None, by_week: bool
    ) -> list[ParticipationWeek]:
        self._check_entered()
        active = {
            p.subject_id: p
            for p in self.people.values()
            if p.active and p.subject_id and team_id in (None, p.team_id)
        }
        buckets: dict[date | None, set[str]] = {}
        for subject, week in self.weeks:
            if subject in active and window.start <= week < window.end:
                buckets.setdefault(week if by_week else None, set()).add(subject)
        return [ParticipationWeek(week, len(people)) for week, people in buckets.items()]

    async def cases(self, window: Window, by_week: bool) -> list[CaseWeek]:
        self._check_entered()
        buckets: dict[date | None, list[CaseFact]] = {}
        for fact in self.case_facts.values():
            opened = fact.opened_at
            if opened is not None and window.start_time <= opened < window.end_time:
                buckets.setdefault(_monday(opened) if by_week else None, []).append(fact)
        return [self._case_week(week, facts) for week, facts in buckets.items()]

    @staticmethod
    def _case_week(week: date | None, facts: list[CaseFact]) -> CaseWeek:
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

    async def feedback(self, window: Window, by_week: bool) -> list[FeedbackWeek]:
        self._check_entered()
        buckets: dict[tuple[date | None, str], list[Feedback]] = {}
        for (_, side), row in self.feedback_rows.items():
            if window.start_time <= row.given_at < window.end_time:
                week = _monday(row.given_at) if by_week else None
                buckets.setdefault((week, side), []).append(row)
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

    async def pulse(self, window: Window, team_id: str | None, by_week: bool) -> list[PulseWeek]:
        self._check_entered()
        buckets: dict[date | None, dict[str, PulseRow]] = {}
        for (_, respondent), row in self.pulse_rows.items():
            in_window = window.start_time <= row.answered_at < window.end_time
            if in_window and team_id in (None, row.team_id):
                week = _monday(row.answered_at) if by_week else None
                buckets.setdefault(week, {})[respondent] = row
        result = []
        for week, rows in buckets.items():
            means = {}
            for name in PULSE_QUESTIONS:
                values = [r.answers[name] for r in rows.values()]
                given = [value for value in values if value is not None]
                if given:
                    means[name] = statistics.fmean(given)
            result.append(PulseWeek(week, len(rows), means))
        return result


class FakeChartRenderer:
    """Implements ``kinship_recognition.handlers.ports.ChartRenderer``: remembers what it drew."""

    def __init__(self) -> None:
        self.drawn: list[tuple[ProgrammeReport, ChartFormat]] = []

    async def render(self, report: ProgrammeReport, fmt: ChartFormat) -> bytes:
        self.drawn.append((report, fmt))
        return f"{fmt} chart of {len(report.weeks)} weeks".encode()


class FakeRelay:
    """Stands in for the outbox relay: counts wake-ups instead of publishing."""

    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


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


def checkin_recorded(id_: str, subject_id: str, at: datetime) -> CheckinRecorded:
    """A recorded check-in (answers and scores play no part in recognition)."""
    return CheckinRecorded(
        id=id_,
        subject_id=subject_id,
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

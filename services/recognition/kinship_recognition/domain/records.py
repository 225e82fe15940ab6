"""What the recognition service keeps about one person, as they may download it.

Kept by person id: kudos they sent or received, awards addressed to them, the cases they
supported as a responder. Kept by subject id (the vault's pseudonym, asked for the request
and never stored beside the person id): their check-in weeks, streak awards, pulse answers,
and the facts and feedback of cases about them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class KudosRecord:
    """Kudos the person sent or received, with their text."""

    id: str
    from_person_id: str
    to_person_id: str
    message: str
    occurred_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class AwardRecord:
    """An award addressed to the person (by their id or their subject id)."""

    id: str
    kind: str
    count: int | None
    awarded_at: datetime | None


@dataclass(frozen=True)
class PulseRecord:
    """The person's answers to one pulse survey round."""

    survey_id: str
    answered_at: datetime
    answers: dict[str, int | None]


@dataclass(frozen=True)
class CaseFactRecord:
    """The facts of a case about the person (times and outcome, never its content)."""

    case_id: str
    severity: str
    opened_at: datetime | None
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None


@dataclass(frozen=True)
class FeedbackRecord:
    """A feedback score on a case about the person (given by them or by its responder)."""

    case_id: str
    given_by: str
    score: int
    given_at: datetime


@dataclass(frozen=True)
class PersonalRecords:
    """Everything the service keeps about one person."""

    kudos: list[KudosRecord] = field(default_factory=list)
    checkin_weeks: list[date] = field(default_factory=list)
    awards: list[AwardRecord] = field(default_factory=list)
    pulse: list[PulseRecord] = field(default_factory=list)
    cases: list[CaseFactRecord] = field(default_factory=list)
    feedback: list[FeedbackRecord] = field(default_factory=list)
    cases_supported: list[str] = field(default_factory=list)

"""A person's own copy of what the escalation service holds about them (``GET /v1/me/data``).

The escalation service knows people only by subject id: the person's is asked of the
check-in service's vault (``subjects:lookup``) for the request and never kept beside their
person id. The copy holds the cases about them (status, severity, the rules that fired,
times, outcome, every transition and read of the case with its time, and the feedback
scores) and the check-in observations detection keeps. It never holds a responder's private
notes about a case (the responder's working notes; see docs/decisions.md on a person's own
data), nor staff identities: actions by staff show as ``staff``, the person's as ``you``.

Its port lives here rather than in ``ports.py``: a read-only view of its own, kept apart
from the unit of work so that the workflow's changes and this one do not collide.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from kinship_escalation.domain.observations import CheckinObservation
from kinship_escalation.handlers.ports import Vault


@dataclass(frozen=True)
class CaseEntry:
    """One entry of a case's audit trail: what happened, when, and by whom as stored."""

    at: datetime
    action: str
    actor: str


@dataclass(frozen=True)
class SubjectCase:
    """A case about the subject, as the subject may see it."""

    case_id: str
    status: str
    severity: str
    rules: list[str]
    opened_at: datetime
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None
    history: list[CaseEntry] = field(default_factory=list)
    feedback: dict[str, int] = field(default_factory=dict)
    """Feedback score by side (``person``, ``responder``)."""


class SubjectRecords(Protocol):
    """Read-only: what is kept about subject ids (no lock, its own transaction)."""

    async def cases_about(self, subject_ids: Sequence[str]) -> list[SubjectCase]:
        """Every case about the subjects, oldest first, with their audit trail (oldest
        first) and feedback."""
        ...

    async def observations_of(self, subject_ids: Sequence[str]) -> list[CheckinObservation]:
        """Every observation kept about the subjects, oldest first."""
        ...


@dataclass(frozen=True)
class SubjectData:
    """Everything the escalation service holds about one person."""

    person_id: str
    cases: list[SubjectCase]
    observations: list[CheckinObservation]


def shown_actor(actor: str) -> str:
    """Who acted, as the person's copy shows it: ``you`` for the person themself, ``staff``
    for a responder or coordinator (never their id), the part of Kinship otherwise."""
    if actor == "subject":
        return "you"
    if actor.startswith("person:"):
        return "staff"
    return actor


async def subject_data(person_id: str, vault: Vault, records: SubjectRecords) -> SubjectData:
    """What the service holds about ``person_id``, for them alone."""
    subject_id = (await vault.subjects([person_id], create=False, purpose="my_data")).get(person_id)
    if subject_id is None:  # never checked in: nothing is kept about them here
        return SubjectData(person_id, [], [])
    cases = await records.cases_about([subject_id])
    shown = [
        SubjectCase(
            case_id=case.case_id,
            status=case.status,
            severity=case.severity,
            rules=list(case.rules),
            opened_at=case.opened_at,
            acknowledged_at=case.acknowledged_at,
            contacted_at=case.contacted_at,
            resolved_at=case.resolved_at,
            outcome=case.outcome,
            history=[CaseEntry(e.at, e.action, shown_actor(e.actor)) for e in case.history],
            feedback=dict(case.feedback),
        )
        for case in cases
    ]
    return SubjectData(person_id, shown, await records.observations_of([subject_id]))

"""What a responder's case list shows: severity, status and age; most urgent first."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class CaseRow:
    """One line of "My cases"."""

    case_id: str
    severity: str
    status: str
    opened_at: datetime
    age: timedelta
    ack_due_at: datetime | None = None
    contact_due_at: datetime | None = None

    @property
    def short_id(self) -> str:
        """The first eight characters, as alerts print them."""
        return self.case_id[:8]


@dataclass(frozen=True)
class CaseFacts:
    """The facts of a case the list needs (from the escalation service's case view)."""

    case_id: str
    severity: str
    status: str
    opened_at: datetime
    ack_due_at: datetime | None = None
    """When the current step escalates unless acknowledged (unacknowledged cases)."""
    contact_due_at: datetime | None = None
    """When the case escalates unless the person is reached (acknowledged cases)."""


def case_rows(cases: Iterable[CaseFacts], now: datetime) -> list[CaseRow]:
    """Rows ordered by severity (critical first), then oldest first."""
    rows = [
        CaseRow(
            case_id=case.case_id,
            severity=case.severity,
            status=case.status,
            opened_at=case.opened_at,
            age=max(now - case.opened_at, timedelta(0)),
            ack_due_at=case.ack_due_at,
            contact_due_at=case.contact_due_at,
        )
        for case in cases
    ]
    return sorted(rows, key=lambda row: (SEVERITY_ORDER.get(row.severity, 9), row.opened_at))

"""What the escalation service observes about a subject: check-ins and signals."""

from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.checkins import CheckinRecorded


@dataclass(frozen=True)
class CheckinObservation:
    """The parts of a recorded check-in that detection uses (never notes)."""

    id: str
    at: datetime
    mood: int | None = None
    stress: int | None = None
    energy: int | None = None
    who5_raw: int | None = None
    phq9_total: int | None = None
    phq2_total: int | None = None
    item9_positive: bool = False
    wants_contact: bool = False

    @classmethod
    def of(cls, event: CheckinRecorded) -> "CheckinObservation":
        """The observation a recorded check-in gives."""
        scores = event.scores
        return cls(
            id=event.id,
            at=event.occurred_at,
            mood=event.mood,
            stress=event.stress,
            energy=event.energy,
            who5_raw=scores.who5_raw,
            phq9_total=scores.phq9_total,
            phq2_total=scores.phq2_total,
            item9_positive=bool(scores.phq9_item9_positive),
            wants_contact=event.wants_contact,
        )

"""What the escalation service observes about a subject: check-ins and load signals."""

from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.signals import SignalKind


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

    @property
    def phq2_screen(self) -> int | None:
        """The PHQ-2 total when the PHQ-2 was asked on its own, else None.

        ``phq2_total`` is what the check-in service published, which is derived from PHQ-9
        items 1-2 when a full PHQ-9 was answered; then the PHQ-9 total decides (Kroenke et al.
        2001) and the derived PHQ-2 screens nothing (``DerivedScores.phq2_screen``).
        """
        return self.phq2_total if self.phq9_total is None else None

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


@dataclass(frozen=True)
class SignalObservation:
    """A load signal about a subject (overtime, on-call load, absence): its kind, severity
    (1-5) and when. Its id is not kept: next to the subject it would lead back to the person
    the signal named."""

    kind: SignalKind
    severity: int
    at: datetime

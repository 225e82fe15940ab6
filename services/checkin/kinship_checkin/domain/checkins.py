"""Recording a check-in: what is stored, what is published, and when support is immediate."""

from dataclasses import dataclass
from datetime import datetime

from kinship_checkin.domain.privacy import SealedNote
from kinship_contracts.checkins import CheckinRecorded, CheckinSubmitted, DerivedScores


@dataclass(frozen=True)
class RecordedCheckin:
    """A check-in as the service stores it: pseudonymous, note sealed, scores derived."""

    event: CheckinRecorded
    sealed_note: SealedNote | None


def record_checkin(
    submission: CheckinSubmitted,
    subject_id: str,
    team_id: str | None,
    sealed_note: SealedNote | None,
    recorded_at: datetime,
) -> RecordedCheckin:
    """Turn a valid submission into the stored check-in and its ``CheckinRecorded`` event."""
    event = CheckinRecorded(
        id=submission.id,
        subject_id=subject_id,
        team_id=team_id,
        occurred_at=submission.occurred_at,
        recorded_at=recorded_at,
        source=submission.source,
        mood=submission.mood,
        stress=submission.stress,
        energy=submission.energy,
        who5=submission.who5,
        phq9=submission.phq9,
        phq2=submission.phq2,
        wants_contact=submission.wants_contact,
        has_note=submission.note is not None and submission.note != "",
        note_shared=bool(submission.note) and submission.share_note,
        scores=DerivedScores.of(submission),
    )
    return RecordedCheckin(event=event, sealed_note=sealed_note)


def needs_immediate_support(submission: CheckinSubmitted) -> bool:
    """The spec's immediate-risk rule: PHQ-9 item 9 >= 1, or wants_contact with stress 5 or mood 1.

    The check-in service uses it only to put crisis resources in the HTTP response at once;
    the escalation service owns detection and cases.
    """
    if submission.phq9 is not None and submission.phq9[8] >= 1:
        return True
    return submission.wants_contact and (submission.stress == 5 or submission.mood == 1)


def first_of_each_id(submissions: list[CheckinSubmitted]) -> list[CheckinSubmitted]:
    """Drop repeats of an id within one batch: the first occurrence is the one that counts."""
    seen: set[str] = set()
    unique = []
    for submission in submissions:
        if submission.id not in seen:
            seen.add(submission.id)
            unique.append(submission)
    return unique


@dataclass(frozen=True)
class StoredCheckin:
    """A check-in as the service keeps it, for its person's own copy of their data: the
    answers, the derived scores and the sealed note (the service does not keep whether the
    note was shared: that travels to escalation with the recorded event)."""

    id: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    team_id: str | None
    mood: int | None
    stress: int | None
    energy: int | None
    who5: list[int] | None
    phq9: list[int] | None
    phq2: list[int] | None
    wants_contact: bool
    who5_raw: int | None
    who5_percent: int | None
    phq9_total: int | None
    phq9_item9_positive: bool | None
    phq2_total: int | None
    sealed_note: SealedNote | None

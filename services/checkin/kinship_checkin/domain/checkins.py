"""Recording a check-in: what is stored, what is published, and when support is immediate."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from kinship_checkin.domain.privacy import SealedNote
from kinship_contracts import scoring
from kinship_contracts.checkins import CheckinSubmitted


class Scores(NamedTuple):
    """The derived scores of a check-in: ``DerivedScores``' fields, by the same scoring rules
    (``DerivedScores.of``), without building the pydantic model on the hot path. (Named
    tuples here: immutable, and built at a third of a frozen dataclass's cost.)"""

    who5_raw: int | None
    who5_percent: int | None
    phq9_total: int | None
    phq9_band: scoring.Phq9Band | None
    phq9_item9_positive: bool | None
    phq2_total: int | None

    def present(self) -> dict[str, Any]:
        """The scores there are, in the contract's order (``DerivedScores``' fields)."""
        return _present(self._fields, self)


def _present(names: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """Fields in order, the absent (None) ones left out, as ``exclude_none`` does."""
    return {name: value for name, value in zip(names, values, strict=True) if value is not None}


def derived_scores(checkin: CheckinSubmitted) -> Scores:
    """Every score the check-in's answers allow: what ``DerivedScores.of`` gives (a property
    test holds them equal). The answers are validated already (item counts and ranges), so
    the totals are plain sums here; the band is the contract's ``scoring.phq9_band``."""
    who5, phq9, phq2 = checkin.who5, checkin.phq9, checkin.phq2
    who5_raw = sum(who5) if who5 is not None else None
    phq9_total = sum(phq9) if phq9 is not None else None
    phq2_items = phq2 if phq2 is not None else (phq9 or [])[:2]
    return Scores(
        who5_raw=who5_raw,
        who5_percent=who5_raw * 4 if who5_raw is not None else None,
        phq9_total=phq9_total,
        phq9_band=scoring.phq9_band(phq9_total) if phq9_total is not None else None,
        phq9_item9_positive=phq9[8] >= 1 if phq9 is not None else None,
        phq2_total=sum(phq2_items) if phq2_items else None,
    )


class RecordedEvent(NamedTuple):
    """A ``CheckinRecorded`` event's fields (the contract's names and order), serialised with
    orjson by ``json``: the same bytes as ``CheckinRecorded.model_dump_json(exclude_none=True)``
    at a fraction of the cost (a property test holds them equal)."""

    id: str
    subject_id: str
    team_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    source: str
    mood: int | None
    stress: int | None
    energy: int | None
    who5: list[int] | None
    phq9: list[int] | None
    phq2: list[int] | None
    wants_contact: bool
    has_note: bool
    note_shared: bool
    scores: Scores

    def json(self) -> bytes:
        """The event's JSON: fields in the contract's order, absent ones left out (as
        ``exclude_none`` does), UTC written as ``Z`` (as pydantic does)."""
        event = _present(self._fields[:-1], self[:-1])
        event["scores"] = self.scores.present()
        return orjson.dumps(event, option=orjson.OPT_UTC_Z)


@dataclass(frozen=True, slots=True)
class RecordedCheckin:
    """A check-in as the service stores it: pseudonymous, note sealed, scores derived."""

    event: RecordedEvent
    sealed_note: SealedNote | None


def record_checkin(
    submission: CheckinSubmitted,
    subject_id: str,
    team_id: str | None,
    sealed_note: SealedNote | None,
    recorded_at: datetime,
) -> RecordedCheckin:
    """Turn a valid submission into the stored check-in and its ``CheckinRecorded`` event."""
    note = submission.note
    event = RecordedEvent(
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
        has_note=note is not None and note != "",
        note_shared=bool(note) and submission.share_note,
        scores=derived_scores(submission),
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

"""Check-in events: what people (or systems on their behalf) submit, and what Kinship records."""

from typing import Annotated, Self

from pydantic import AwareDatetime, Field, StrictBool, StrictInt, model_validator

from kinship_contracts import scoring
from kinship_contracts.base import (
    EventId,
    FreeText,
    Identifier,
    IngestionModel,
    PlatformModel,
    SourceName,
    Timestamp,
)

Likert = Annotated[StrictInt, Field(ge=1, le=5)]
Who5Item = Annotated[StrictInt, Field(ge=0, le=5)]
PhqItem = Annotated[StrictInt, Field(ge=0, le=3)]
Who5Answers = Annotated[list[Who5Item], Field(min_length=5, max_length=5)]
Phq9Answers = Annotated[list[PhqItem], Field(min_length=9, max_length=9)]
Phq2Answers = Annotated[list[PhqItem], Field(min_length=2, max_length=2)]

NOTE_MAX_CHARS = 2000


class CheckinSubmitted(IngestionModel):
    """A check-in submitted by a person or by a system on their behalf.

    Topic ``wellbeing.checkins.submitted`` (key ``person_id``) and ``POST /v1/checkins``.
    At least one of mood, who5, phq9, phq2 or wants_contact must be present.
    """

    id: EventId
    person_id: Identifier = Field(description="The person's id in the organisation directory.")
    occurred_at: Timestamp = Field(description="When the person checked in (RFC 3339).")
    source: SourceName
    mood: Likert | None = Field(default=None, description="1 (very low) to 5 (very good).")
    stress: Likert | None = Field(default=None, description="1 (none) to 5 (most stress).")
    energy: Likert | None = Field(default=None, description="1 (exhausted) to 5 (most energy).")
    who5: Who5Answers | None = Field(default=None, description="WHO-5 items, each 0-5.")
    phq9: Phq9Answers | None = Field(default=None, description="PHQ-9 items, each 0-3.")
    phq2: Phq2Answers | None = Field(default=None, description="PHQ-2 items, each 0-3.")
    note: Annotated[FreeText, Field(max_length=NOTE_MAX_CHARS)] | None = Field(
        default=None,
        description="Free text for peer responders; encrypted at rest, never on Kafka.",
    )
    wants_contact: StrictBool = Field(
        default=False, description="The person asks a peer responder to reach out."
    )
    share_note: StrictBool = Field(
        default=False,
        description="The person allows the peer responder who reaches out to read the note "
        "(otherwise nobody reads it).",
    )

    @model_validator(mode="after")
    def _needs_an_answer(self) -> Self:
        answered = (
            self.mood is not None
            or self.who5 is not None
            or self.phq9 is not None
            or self.phq2 is not None
            or "wants_contact" in self.model_fields_set
        )
        if not answered:
            raise ValueError(
                "a check-in needs at least one of: mood, who5, phq9, phq2, wants_contact"
            )
        return self


class DerivedScores(PlatformModel):
    """Scores derived from the questionnaires, by the published scoring rules."""

    who5_raw: int | None = Field(default=None, description="WHO-5 raw score, 0-25.")
    who5_percent: int | None = Field(default=None, description="WHO-5 percentage, 0-100.")
    phq9_total: int | None = Field(default=None, description="PHQ-9 total, 0-27.")
    phq9_band: scoring.Phq9Band | None = Field(default=None, description="PHQ-9 severity band.")
    phq9_item9_positive: bool | None = Field(
        default=None, description="PHQ-9 item 9 (thoughts of self-harm) answered above 0."
    )
    phq2_total: int | None = Field(
        default=None,
        description="PHQ-2 total, 0-6; from PHQ-9 items 1-2 when only PHQ-9 is given (kept for "
        "compatibility: with a full PHQ-9 its total decides, so this derived PHQ-2 screens "
        "nothing; see phq2_screen).",
    )

    @property
    def phq2_screen(self) -> int | None:
        """The PHQ-2 total as a screen: only when the PHQ-2 was asked on its own.

        With a full PHQ-9 its total (and item 9) decides (Kroenke et al. 2001); its items 1-2
        are no separate PHQ-2 screen (Kroenke et al. 2003 validate the PHQ-2 as a short form
        asked instead of the PHQ-9), so a PHQ-9 totalling 3 with items 1-2 at 2 and 1 is
        "minimal", not a positive screen.
        """
        return self.phq2_total if self.phq9_total is None else None

    @classmethod
    def of(cls, checkin: CheckinSubmitted) -> "DerivedScores":
        """Derive every score the check-in's answers allow."""
        phq9_total = scoring.phq9_total(checkin.phq9) if checkin.phq9 is not None else None
        phq2_items = checkin.phq2 if checkin.phq2 is not None else (checkin.phq9 or [])[:2]
        return cls(
            who5_raw=scoring.who5_raw(checkin.who5) if checkin.who5 is not None else None,
            who5_percent=scoring.who5_percent(checkin.who5) if checkin.who5 is not None else None,
            phq9_total=phq9_total,
            phq9_band=scoring.phq9_band(phq9_total) if phq9_total is not None else None,
            phq9_item9_positive=(
                scoring.phq9_item9_positive(checkin.phq9) if checkin.phq9 is not None else None
            ),
            phq2_total=scoring.phq2_total(phq2_items) if phq2_items else None,
        )


class CheckinRecorded(PlatformModel):
    """A validated, persisted check-in, published on ``wellbeing.checkins.recorded``.

    Keyed by ``subject_id``. It keeps the submission's ``id``, replaces ``person_id`` by the
    pseudonymous subject id, never carries the note (only whether there is one), and adds
    the derived scores.
    """

    id: str = Field(description="The submission's event id.")
    subject_id: str = Field(
        description="Pseudonymous subject id: random, linked to the person only in the check-in "
        "service's vault."
    )
    team_id: str | None = Field(
        default=None, description="The person's team from the directory, when known."
    )
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime = Field(description="When Kinship persisted the check-in.")
    source: str
    mood: int | None = None
    stress: int | None = None
    energy: int | None = None
    who5: list[int] | None = None
    phq9: list[int] | None = None
    phq2: list[int] | None = None
    wants_contact: bool = False
    has_note: bool = Field(
        default=False, description="A note exists (readable only by an assigned responder)."
    )
    note_shared: bool = Field(
        default=False,
        description="The person allowed the responder who reaches out to read the note.",
    )
    scores: DerivedScores

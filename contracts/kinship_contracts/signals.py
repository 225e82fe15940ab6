"""Signals from other systems: critical-incident exposure, overtime, on-call load, absence."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StrictInt, model_validator

from kinship_contracts.base import (
    EventId,
    FreeText,
    Identifier,
    IngestionModel,
    SourceName,
    Timestamp,
)


class SignalKind(StrEnum):
    """What a signal reports."""

    CRITICAL_INCIDENT = "critical_incident"
    OVERTIME = "overtime"
    ON_CALL_LOAD = "on_call_load"
    ABSENCE = "absence"
    OTHER = "other"


class SignalSubmitted(IngestionModel):
    """A wellbeing signal about a person or a team, on ``wellbeing.signals.submitted``.

    Keyed by ``person_id`` or ``team_id``; exactly one of the two is given.
    """

    id: EventId
    person_id: Identifier | None = None
    team_id: Identifier | None = None
    kind: SignalKind
    severity: Annotated[StrictInt, Field(ge=1, le=5)]
    occurred_at: Timestamp
    source: SourceName
    summary: Annotated[FreeText, Field(max_length=500)] | None = Field(
        default=None, description="Short description for responders; no clinical detail."
    )

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.person_id is None) == (self.team_id is None):
            raise ValueError("give exactly one of person_id or team_id")
        return self

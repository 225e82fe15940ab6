"""Programme pulse surveys: a few fixed questions about the programme itself.

Survey tools publish responses on ``programme.pulse.submitted`` (or call
``POST /v1/pulse`` on the recognition service). Answers are about the programme, never
about how a person feels, and carry no free text; they are reported only in groups of at
least five respondents.
"""

from typing import Annotated, Self

from pydantic import Field, model_validator

from kinship_contracts.base import EventId, Identifier, IngestionModel, SourceName, Timestamp

Agreement = Annotated[int, Field(ge=1, le=5, description="1 strongly disagree … 5 strongly agree.")]

PULSE_QUESTIONS: dict[str, str] = {
    "know_how_to_get_support": "I know how to reach a peer responder if I need one.",
    "comfortable_asking": "I would feel comfortable asking a colleague for support.",
    "programme_helps": "The peer support programme makes our workplace better.",
}
"""The pulse questions, by answer field: the wording coordinators see in reports."""


class PulseAnswers(IngestionModel):
    """Agreement (1-5) with each pulse question: any may be skipped, not all; no others."""

    know_how_to_get_support: Agreement | None = None
    comfortable_asking: Agreement | None = None
    programme_helps: Agreement | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if all(getattr(self, name) is None for name in PULSE_QUESTIONS):
            raise ValueError("answer at least one pulse question")
        return self


class PulseSubmitted(IngestionModel):
    """One person's answers to one pulse survey, on ``programme.pulse.submitted``.

    Keyed by ``person_id``. A person answers a survey once: a later response with another
    id to the same ``survey_id`` replaces their earlier answers.
    """

    id: EventId
    person_id: Identifier
    survey_id: Identifier = Field(description="The survey round, e.g. '2026-11'.")
    occurred_at: Timestamp
    source: SourceName
    answers: PulseAnswers

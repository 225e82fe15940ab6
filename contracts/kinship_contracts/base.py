"""Shared model configuration for event payloads."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

EventId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
    Field(description="Event id; the idempotency key: the same id twice has one effect."),
]
"""An event id: printable ASCII without spaces, at most 200 characters."""

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
"""An opaque identifier from the organisation's directory (person, team)."""

SourceName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    Field(description="The publishing system, e.g. 'hr-portal' or 'chat-bot'."),
]


def _reject_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it at the edge instead of failing in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


FreeText = Annotated[str, AfterValidator(_reject_nul)]


class IngestionModel(BaseModel):
    """Payloads published into Kinship by other systems: strict, unknown fields rejected.

    Unknown fields are rejected on purpose: a misspelt optional field (``wants_contcat``)
    would otherwise be dropped silently, and with it a request for help.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class PlatformModel(BaseModel):
    """Payloads Kinship publishes: readers ignore fields they do not know (forward compatible)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

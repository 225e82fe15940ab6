"""Shared model configuration for event payloads."""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

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


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_only(value: Any) -> Any:
    """Refuse what a lax datetime would take but RFC 3339 is not: epoch numbers, other text."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-11-24T09:00:00Z")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
"""An RFC 3339 timestamp with an offset, as the public contract says; nothing laxer."""


def _reject_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it at the edge instead of failing in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


FreeText = Annotated[str, AfterValidator(_reject_nul)]


class IngestionModel(BaseModel):
    """Payloads published into Kinship by other systems: frozen, unknown fields rejected.

    Unknown fields are rejected on purpose: a misspelt optional field (``wants_contcat``)
    would otherwise be dropped silently, and with it a request for help. Type checks are
    pydantic's lax ones unless a field says ``StrictInt`` or ``StrictBool``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class PlatformModel(BaseModel):
    """Payloads Kinship publishes: readers ignore fields they do not know (forward compatible)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

"""Shared model configuration for event payloads."""

import re
from datetime import UTC, datetime
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


_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8: refuse
    # both at the edge with a clear reason instead of failing in the database. (ASCII text,
    # the usual case, skips the scan; the compiled class is ~10x a per-character loop.)
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.isascii() and _SURROGATE.search(value):
        raise ValueError("must not contain unpaired surrogate code points (invalid Unicode)")
    return value


SourceName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(_storable),
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


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    # Year 1 or 9999 with an offset is valid RFC 3339 but overflows date arithmetic later.
    try:
        inside = EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError("must be between 1970-01-01 and 2100-01-01 (UTC)")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(_in_range)]
"""An RFC 3339 timestamp with an offset, as the public contract says, within a sane range."""


FreeText = Annotated[str, AfterValidator(_storable)]


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

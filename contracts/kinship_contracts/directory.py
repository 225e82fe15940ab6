"""Directory records: people, their teams, time zones, roles and alert channels."""

from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AnyHttpUrl, EmailStr, Field, StrictBool

from kinship_contracts.base import Identifier, IngestionModel


class Role(StrEnum):
    """A person's roles in the peer support programme."""

    PEER_RESPONDER = "peer_responder"
    COORDINATOR = "coordinator"


def _known_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        # The value is not repeated: error messages travel into dead-letter headers.
        raise ValueError("not a known IANA time zone, e.g. 'Europe/London'") from error
    return name


Timezone = Annotated[str, AfterValidator(_known_timezone)]


class Channels(IngestionModel):
    """Where a person can be reached."""

    email: EmailStr | None = None
    webhook: AnyHttpUrl | None = None
    slack_webhook: AnyHttpUrl | None = None


class DirectoryPerson(IngestionModel):
    """A person in the organisation directory, on the compacted topic ``directory.people``.

    Keyed by ``person_id``; a record with a null value (tombstone) removes the person.
    """

    person_id: Identifier
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    team_id: Identifier
    timezone: Timezone = "UTC"
    roles: list[Role] = Field(default_factory=list)
    channels: Channels = Field(default_factory=Channels)
    active: StrictBool = True

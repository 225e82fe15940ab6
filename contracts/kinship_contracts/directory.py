"""Directory records: people, their teams, time zones, roles and alert channels."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AnyHttpUrl, EmailStr, Field, StrictBool, ValidationError

from kinship_contracts.base import FreeText, Identifier, IngestionModel
from kinship_contracts.errors import safe_field_errors


class Role(StrEnum):
    """A person's roles in the peer support programme (every person is also an employee)."""

    PEER_RESPONDER = "peer_responder"
    COORDINATOR = "coordinator"
    TEAM_MANAGER = "team_manager"
    """Reads their teams' aggregate trends (k >= 5, closed periods); never individual data."""


class OutreachPreference(StrEnum):
    """Whether a peer may reach out when a person's check-ins show they are struggling.

    A self-referral is consent; immediate risk overrides the preference (duty of care).
    """

    WELCOME = "welcome"
    """A peer may contact me when my check-ins show I am struggling."""
    ASK_FIRST = "ask_first"
    """Kinship asks me first (a one-tap yes/no) before anyone sees who I am. The default."""
    RESOURCES_ONLY = "resources_only"
    """Send me resources; no outreach (except immediate risk)."""


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
    slack_user_id: Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,30}$")] | None = Field(
        default=None,
        description="The person's Slack user id (U…/W…): only they may press the buttons of "
        "their Slack alerts (unset: whoever sees the message may).",
    )


class DirectoryPerson(IngestionModel):
    """A person in the organisation directory, on the compacted topic ``directory.people``.

    Keyed by ``person_id``; a record with a null value (tombstone) removes the person.
    """

    person_id: Identifier
    display_name: Annotated[FreeText, Field(min_length=1, max_length=200)]
    team_id: Identifier
    timezone: Timezone = "UTC"
    roles: list[Role] = Field(default_factory=list)
    channels: Channels = Field(default_factory=Channels)
    active: StrictBool = True
    manages: list[Identifier] = Field(
        default_factory=list,
        max_length=50,
        description="Teams whose aggregate trends a team_manager reads (their own team when "
        "empty).",
    )
    outreach: OutreachPreference | None = Field(
        default=None,
        description="The person's outreach preference as the directory knows it; a choice the "
        "person makes in Kinship wins over it.",
    )


@dataclass(frozen=True)
class DirectoryChange:
    """One ``directory.people`` record: a person's new state, or ``None`` for a removal."""

    person_id: str
    person: DirectoryPerson | None


class DirectoryRecordError(ValueError):
    """A ``directory.people`` record that cannot be used; ``reason`` says why, safely."""

    def __init__(self, reason: dict[str, Any]) -> None:
        super().__init__(reason["code"])
        self.reason = reason


def parse_directory_record(key: bytes | None, value: bytes | None) -> DirectoryChange:
    """A directory change from a record's key and value (a null value removes the person).

    Raises ``DirectoryRecordError`` for a missing key, an invalid person, or a key that
    differs from the person's id.
    """
    if key is None:
        raise DirectoryRecordError({"code": "missing_key", "errors": []})
    person_id = key.decode(errors="replace")
    if value is None:
        return DirectoryChange(person_id, None)
    try:
        person = DirectoryPerson.model_validate_json(value)
    except ValidationError as error:
        raise DirectoryRecordError(
            {"code": "validation_failed", "errors": safe_field_errors(error, DirectoryPerson)}
        ) from None
    if person.person_id != person_id:
        raise DirectoryRecordError(
            {
                "code": "key_mismatch",
                "errors": [{"loc": ["person_id"], "msg": "record key differs from person_id"}],
            }
        )
    return DirectoryChange(person_id, person)


def latest_per_person(changes: Sequence[DirectoryChange]) -> list[DirectoryChange]:
    """The last change per person, in first-seen order: a batch applies as a compaction would."""
    latest: dict[str, DirectoryChange] = {}
    for change in changes:
        latest[change.person_id] = change
    return list(latest.values())

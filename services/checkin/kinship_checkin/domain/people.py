"""What the check-in service can tell about a person, and to whom."""

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Contact:
    """How the assigned responder can reach a person (from the directory)."""

    display_name: str
    channels: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"

    def for_a_responder(self) -> "Contact":
        """What a responder may be shown: only the channels a human uses to reach someone,
        in ``HUMAN_CHANNELS`` order. Webhook URLs (``webhook``, ``slack_webhook``) are
        credentials for posting into the person's channel and are never shown."""
        channels = {name: self.channels[name] for name in HUMAN_CHANNELS if name in self.channels}
        return Contact(self.display_name, channels, self.timezone)


HUMAN_CHANNELS = ("email", "slack_user_id")
"""The directory channels a responder can use to reach a person themself, in the order
shown. (The person's own order of contact methods lives in the notifications service, which
the check-in service does not read.)"""


@dataclass(frozen=True)
class Revealed:
    """What a reveal shows the assigned responder: who, how to reach them, and the note of
    the triggering check-in only when the person allowed it."""

    case_id: str
    contact: Contact
    note: str | None
    note_unreadable: bool = False
    """The person allowed the note, but it cannot be opened (its key is gone or it is
    damaged)."""


@dataclass(frozen=True)
class ErasureStatus:
    """How far an erasure got: when it was asked for, and each service's receipt."""

    erasure_id: str
    requested_at: datetime
    requested_by: str
    services: dict[str, datetime | None]

    @property
    def complete(self) -> bool:
        """Every service has sent its receipt."""
        return all(done is not None for done in self.services.values())


@dataclass(frozen=True)
class DirectoryEntry:
    """What this service's copy of the directory holds about one person."""

    person_id: str
    display_name: str | None
    team_id: str | None
    timezone: str | None
    roles: tuple[str, ...]
    manages: tuple[str, ...]
    channels: dict[str, str]
    active: bool


@dataclass(frozen=True)
class Profile:
    """Who a signed-in person is to Kinship: their name, team and roles, and the teams whose
    trends they read (as a team manager)."""

    person_id: str
    display_name: str | None
    team_id: str | None
    roles: tuple[str, ...]
    managed_teams: tuple[str, ...]


@dataclass(frozen=True)
class PersonMatch:
    """An active colleague found by name: their id and display name, nothing else."""

    person_id: str
    display_name: str


@dataclass(frozen=True)
class AuditEvent:
    """An audit record about a person: what was done, when, by whom, for which case."""

    at: datetime
    action: str
    actor: str
    case_id: str | None

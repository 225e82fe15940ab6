"""Awards: what Kinship celebrates, on ``recognition.awards``.

No award is ever derived from a person's scores, from cases about them, or from the outcome
of their own case: celebrating must never reveal distress.
"""

from enum import StrEnum

from pydantic import AwareDatetime, Field

from kinship_contracts.base import PlatformModel


class AwardKind(StrEnum):
    """What is celebrated."""

    KUDOS_RECEIVED = "kudos_received"
    KUDOS_MILESTONE = "kudos_milestone"
    CHECKIN_STREAK = "checkin_streak"
    RESPONDER_APPRECIATION = "responder_appreciation"
    TEAM_MILESTONE = "team_milestone"


class Award(PlatformModel):
    """An award, keyed by its recipient (person, subject or team).

    ``id`` is deterministic: replays award nothing twice.
    """

    id: str
    kind: AwardKind
    person_id: str | None = Field(default=None, description="For kudos awards.")
    subject_id: str | None = Field(default=None, description="For streaks (pseudonymous).")
    team_id: str | None = Field(
        default=None, description="For team celebrations (teams with ≥ 5 contributing)."
    )
    title: str = Field(description="Words to celebrate with, e.g. '4 weeks of check-ins'.")
    count: int | None = Field(default=None, description="The milestone reached, if any.")
    occurred_at: AwareDatetime

"""Crisis-support cases: every transition published on ``escalation.cases``.

Cases are about a pseudonymous subject; they never carry check-in answers, notes or
diagnoses, only which rules fired (by name) so the decision stays explainable.
"""

from enum import StrEnum

from pydantic import AwareDatetime, Field

from kinship_contracts.base import PlatformModel


class Severity(StrEnum):
    """How urgently a case needs a person: ordered ``medium < high < critical``."""

    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for medium, 1 for high, 2 for critical."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


class CaseStatus(StrEnum):
    """Where a case is in the workflow."""

    OPENED = "opened"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    CONTACTED = "contacted"
    RESOLVED = "resolved"


class CaseOutcome(StrEnum):
    """How a case ended."""

    SUPPORTED = "supported"
    REFERRED_PROFESSIONAL = "referred_professional"
    REFERRED_EMERGENCY = "referred_emergency"
    NO_CONTACT = "no_contact"
    DECLINED = "declined"


class CaseEventKind(StrEnum):
    """The transitions published on ``escalation.cases``."""

    OPENED = "opened"
    EVIDENCE_ADDED = "evidence_added"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    CONTACTED = "contacted"
    HANDED_OVER = "handed_over"
    RESOLVED = "resolved"
    FEEDBACK_RECEIVED = "feedback_received"
    FOLLOW_UP_DUE = "follow_up_due"


class CaseEvent(PlatformModel):
    """One transition of a case, keyed by ``case_id`` on ``escalation.cases``."""

    id: str = Field(description="Event id: '<case_id>:<sequence>'; the idempotency key.")
    case_id: str
    sequence: int = Field(ge=1, description="Position of this transition in the case's history.")
    kind: CaseEventKind
    occurred_at: AwareDatetime
    subject_id: str = Field(description="Pseudonymous subject id of the person supported.")
    team_id: str | None = None
    status: CaseStatus
    severity: Severity
    rules: list[str] = Field(description="Names of the detection rules that fired, in order.")
    step: int | None = Field(default=None, description="Escalation step (1-based) alerted.")
    responder_id: str | None = Field(
        default=None, description="The responder assigned (a person_id from the directory)."
    )
    outcome: CaseOutcome | None = None
    feedback_score: int | None = Field(default=None, ge=1, le=5)
    feedback_from: str | None = Field(default=None, description="'person' or 'responder'.")
    rules_version: str | None = Field(
        default=None,
        description="Version of the detection rules that judged the case's latest evidence "
        "(absent before versions were recorded).",
    )
    evidence_rules: list[str] | None = Field(
        default=None,
        description="On 'opened' and 'evidence_added': the rules whose evidence this "
        "transition adds, in the order they fired (their thresholds and observations stay in "
        "the service: the case view explains them).",
    )


class GroupSessionKind(StrEnum):
    """Voluntary peer group sessions (never compulsory; no attendance or notes kept)."""

    DEFUSING = "defusing"
    SUPPORT_SESSION = "support_session"


class GroupSessionProposed(PlatformModel):
    """A voluntary group session offered to a team's coordinators, on ``escalation.cases``.

    Keyed by ``team_id``. Raised by critical-incident exposure or a team cluster.
    """

    id: str
    team_id: str
    kind: GroupSessionKind
    reason: str = Field(description="'critical_incident' or 'team_cluster'.")
    offer_by: AwareDatetime = Field(description="Offer the session before this time.")
    window_start: AwareDatetime
    window_end: AwareDatetime
    occurred_at: AwareDatetime

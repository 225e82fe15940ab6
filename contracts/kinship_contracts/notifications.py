"""What the notifications service delivers, and what happened to each delivery."""

from enum import StrEnum

from pydantic import AwareDatetime, Field, HttpUrl

from kinship_contracts.base import PlatformModel
from kinship_contracts.cases import Severity
from kinship_contracts.resources import SupportResource


class MessageKind(StrEnum):
    """The kinds of message Kinship sends."""

    ALERT = "alert"
    CRISIS_RESOURCES = "crisis_resources"
    SELF_CARE = "self_care"
    CHECKIN_REMINDER = "checkin_reminder"
    FEEDBACK_REQUEST = "feedback_request"
    GROUP_SESSION_OFFER = "group_session_offer"
    CELEBRATION = "celebration"


class Recipient(PlatformModel):
    """Who receives a message: a directory person (responders, coordinators) or a subject.

    People being supported are addressed by their pseudonymous subject id; the notifications
    service resolves it to channels from the directory.
    """

    person_id: str | None = None
    subject_id: str | None = None


class Alert(PlatformModel):
    """The outgoing alert body (spec: 'Outgoing alerts'); nothing about answers or notes."""

    alert_id: str
    case_id: str
    severity: Severity
    step: int
    reason: str = Field(description="Why the case was opened, in words a responder can act on.")
    opened_at: AwareDatetime
    ack_url: HttpUrl = Field(
        description="The acknowledgement link WITHOUT its token: the notifications service "
        "mints the token when it sends the alert (kinship_contracts.links), so no usable link "
        "is stored or travels on Kafka. (Requests from before carry a token: used as is.)"
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="Until when the acknowledgement link works; 24 h after sending if absent.",
    )


class NotificationRequest(PlatformModel):
    """A message to deliver, on ``notifications.requests``, keyed by recipient.

    ``id`` is the delivery id: carried to the channel (webhook header, email Message-ID) so a
    redelivered request never reaches the recipient twice.
    """

    id: str
    kind: MessageKind
    recipient: Recipient
    critical: bool = Field(
        default=False, description="Critical messages ignore quiet hours and rate limits."
    )
    alert: Alert | None = None
    template: str = Field(description="Template name, e.g. 'alert', 'crisis_resources'.")
    params: dict[str, str] = Field(
        default_factory=dict, description="Template parameters; never answers or notes."
    )
    resources: list[SupportResource] = Field(
        default_factory=list, description="Resources to include (crisis lines, guides)."
    )
    case_id: str | None = None
    created_at: AwareDatetime


class DeliveryStatus(StrEnum):
    """What happened to a delivery."""

    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class NotificationReceipt(PlatformModel):
    """The outcome of one request, on ``notifications.receipts``, keyed by request id."""

    id: str
    request_id: str
    kind: MessageKind
    status: DeliveryStatus
    channel: str | None = None
    attempts: int = 0
    case_id: str | None = None
    alert_id: str | None = None
    reason: str | None = Field(default=None, description="Why it failed or was suppressed.")
    occurred_at: AwareDatetime

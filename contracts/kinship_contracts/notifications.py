"""What the notifications service delivers, and what happened to each delivery."""

from enum import StrEnum

from pydantic import AwareDatetime, Field, HttpUrl

from kinship_contracts.base import PlatformModel
from kinship_contracts.cases import Severity
from kinship_contracts.resources import SupportResource


class MessageKind(StrEnum):
    """The kinds of message Kinship sends.

    Most are **care** (``CARE_KINDS``): they are the programme's work and are never
    rate-limited, opted out of or dropped. Only celebrations and plain check-in reminders
    count against a person's daily limit (a reminder whose purpose is a follow-up is care:
    ``NotificationRequest.care``).
    """

    ALERT = "alert"
    CRISIS_RESOURCES = "crisis_resources"
    SELF_CARE = "self_care"
    CHECKIN_REMINDER = "checkin_reminder"
    FEEDBACK_REQUEST = "feedback_request"
    GROUP_SESSION_OFFER = "group_session_offer"
    CELEBRATION = "celebration"
    CONSENT_REQUEST = "consent_request"
    """Asks a person (``ask_first``) whether a peer supporter may reach out: one-tap yes/no
    links (``params["consent_yes_url"]``, ``["consent_no_url"]``, without tokens; the
    notifications service mints them with ``kinship_contracts.links.mint_consent_token``)."""

    @property
    def care(self) -> bool:
        """Whether every message of this kind is care (never limited, opted out or dropped)."""
        return self in CARE_KINDS


CARE_KINDS = frozenset(
    {
        MessageKind.ALERT,
        MessageKind.CRISIS_RESOURCES,
        MessageKind.SELF_CARE,
        MessageKind.FEEDBACK_REQUEST,
        MessageKind.GROUP_SESSION_OFFER,
        MessageKind.CONSENT_REQUEST,
    }
)
"""Kinds that are always care. Celebrations and check-in reminders are not (a reminder whose
purpose is a follow-up is: ``ReminderPurpose.care``)."""


class ReminderPurpose(StrEnum):
    """Why a check-in reminder is sent (``params["purpose"]``): the message says so, and
    claims nothing else."""

    FOLLOW_UP = "follow_up"
    """A follow-up check-in after a case (care)."""
    EXPOSURE_FOLLOW_UP = "exposure_follow_up"
    """A follow-up after a critical incident: a short WHO-5 check-in (care)."""
    OVERDUE = "overdue"
    """A regular check-in is overdue (held to the daily limit)."""

    @property
    def care(self) -> bool:
        """Whether a reminder with this purpose is a follow-up (care)."""
        return self is not ReminderPurpose.OVERDUE


class Param(StrEnum):
    """Names of template parameters (``NotificationRequest.params``; docs/notifications.md
    says which kind uses which). Times are RFC 3339 with an offset; messages show them in
    the recipient's time zone and locale. Links are shown as given, except the consent links,
    whose tokens the notifications service adds when it sends."""

    PURPOSE = "purpose"
    """Check-in reminders: a ``ReminderPurpose``; self-care messages: ``self_referral`` when
    the person asked for contact (the message says the request was received)."""
    CHECKIN_URL = "checkin_url"
    """Check-in reminders: where to check in (default: the console's check-in page)."""
    LAST_CHECKIN_AT = "last_checkin_at"
    """Overdue check-in reminders (optional): when the person last checked in."""
    CHECKIN_AT = "checkin_at"
    """Self-care (optional): when the check-in that prompted it was made."""
    FROM = "from"
    """Feedback requests: ``person`` (the person supported) or ``responder``."""
    FEEDBACK_URL = "feedback_url"
    """Feedback requests: where to give feedback (default: the console)."""
    CASE_ID = "case_id"
    CONSENT_ID = "consent_id"
    """Consent requests: what the tokens of the yes/no links are bound to."""
    CONSENT_YES_URL = "consent_yes_url"
    CONSENT_NO_URL = "consent_no_url"
    CONSENT_EXPIRES_AT = "consent_expires_at"
    """Consent requests (optional): until when the links work (default 72 h after sending)."""
    TEAM_ID = "team_id"
    SESSION_KIND = "kind"
    """Group-session offers: a ``kinship_contracts.cases.GroupSessionKind``."""
    WINDOW_START = "window_start"
    WINDOW_END = "window_end"
    TEXT = "text"
    """Celebrations: what is celebrated."""


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
    urgent: bool = Field(
        default=False,
        description="Urgent messages skip the recipient's quiet hours (high-severity alerts when "
        "the escalation policy says so); unlike critical ones they keep their place in the "
        "queue. Critical implies urgent.",
    )
    alert: Alert | None = None
    template: str = Field(description="Template name, e.g. 'alert', 'crisis_resources'.")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Template parameters (names: `Param`; docs/notifications.md lists them per "
        "kind); never answers or notes.",
    )
    resources: list[SupportResource] = Field(
        default_factory=list, description="Resources to include (crisis lines, guides)."
    )
    case_id: str | None = None
    created_at: AwareDatetime

    @property
    def purpose(self) -> ReminderPurpose | None:
        """A check-in reminder's purpose (``params["purpose"]``), if it names a known one."""
        try:
            return ReminderPurpose(self.params.get("purpose", ""))
        except ValueError:
            return None

    @property
    def care(self) -> bool:
        """Care messages are never rate-limited, opted out of or dropped: every kind in
        ``CARE_KINDS``, and check-in reminders that are follow-ups (after a case or a critical
        incident)."""
        if self.kind.care:
            return True
        purpose = self.purpose
        return self.kind is MessageKind.CHECKIN_REMINDER and purpose is not None and purpose.care

    @property
    def limited(self) -> bool:
        """Whether this message counts against, and is held to, the recipient's daily limit
        (and opt-outs): celebrations and plain check-in reminders that are not critical."""
        return not (self.critical or self.care)


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

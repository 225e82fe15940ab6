"""Deliveries as the service keeps them: a queued request, its recipient, its state."""

from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import NotificationRequest, Recipient


@dataclass(frozen=True)
class QueuedRequest:
    """A request to queue, with the trace it came in on (a W3C traceparent: ids only) and
    when its Kafka record was produced (``kinship_runtime.records.produced_at``; None when
    the record has no timestamp)."""

    request: NotificationRequest
    traceparent: str | None = None
    produced_at: datetime | None = None


def addressed_once(request: NotificationRequest) -> NotificationRequest:
    """The request with one address: a recipient named by person id AND subject id keeps
    only the person id, so that no delivery row holds a person id next to a subject id."""
    recipient = request.recipient
    if recipient.person_id is None or recipient.subject_id is None:
        return request
    return request.model_copy(update={"recipient": Recipient(person_id=recipient.person_id)})


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: the request, how many attempts were made before, and how often it
    waited for something other than its channel (the vault): those waits are not attempts."""

    id: str
    request: NotificationRequest
    attempts: int
    traceparent: str | None = None
    waits: int = 0
    method: int = 0
    """Which of the recipient's contact methods this attempt uses (0: the first)."""
    round_started_at: datetime | None = None
    """When this round over the methods began (their delays count from it)."""


@dataclass(frozen=True)
class Reachable:
    """A directory person as the notifications service knows them."""

    person_id: str
    timezone: str
    channels: Channels
    active: bool


@dataclass(frozen=True)
class DeliveryState:
    """Where a delivery stands, for operators: no content, no address."""

    id: str
    kind: str
    critical: bool
    status: str
    attempts: int
    channel: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

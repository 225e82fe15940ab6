"""Deliveries as the service keeps them: a queued request, its recipient, its state."""

from dataclasses import dataclass
from datetime import datetime

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import NotificationRequest


@dataclass(frozen=True)
class QueuedRequest:
    """A request to queue, with the trace it came in on (a W3C traceparent: ids only)."""

    request: NotificationRequest
    traceparent: str | None = None


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: the request and how many attempts were made before."""

    id: str
    request: NotificationRequest
    attempts: int
    traceparent: str | None = None


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

"""The ports the notifications handlers need: persistence as a unit of work, the channels,
the templates and the clock."""

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from kinship_contracts.directory import DirectoryChange
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_notifications.domain.channels import Address, Rendered
from kinship_notifications.domain.deliveries import (
    Delivery,
    DeliveryState,
    QueuedRequest,
    Reachable,
)
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.outbox import OutboxMessage

Clock = Callable[[], datetime]
"""The current time (timezone-aware)."""


class NotificationsUnitOfWork(Protocol):
    """One transaction over deliveries, preferences, recipients and the outbox: entered with
    ``async with``, committed on a clean exit and rolled back on an exception."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def accept(self, requests: Sequence[QueuedRequest], now: datetime) -> int:
        """Queue requests, due at ``now``; a known request id is ignored. Returns new ones."""
        ...

    async def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        """Up to ``limit`` due deliveries, critical first, leased until ``lease_until``."""
        ...

    async def reachable(self, recipient: Recipient) -> Reachable | None:
        """The directory entry of a person id or a subject id."""
        ...

    async def preferences(self, person_id: str) -> Preferences:
        """A person's preferences, or the defaults."""
        ...

    async def save_preferences(self, person_id: str, preferences: Preferences) -> None:
        """Create or replace a person's preferences."""
        ...

    async def sent_since(self, person_id: str, since: datetime) -> int:
        """Non-critical messages delivered to a person since ``since``."""
        ...

    async def finish(
        self,
        delivery_id: str,
        status: str,
        *,
        attempts: int,
        person_id: str | None,
        channel: str | None,
        error: str | None,
        receipt: OutboxMessage,
        now: datetime,
    ) -> bool:
        """Record a pending delivery's outcome and queue its receipt; False (and nothing
        queued) when it was already finished."""
        ...

    async def retry_at(
        self, delivery_id: str, attempts: int, when: datetime, error: str | None
    ) -> None:
        """Release a pending delivery's lease and try it again at ``when``."""
        ...

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes (the last per person wins; ``None`` removes)."""
        ...

    async def delivery_state(self, delivery_id: str) -> DeliveryState | None:
        """Where a delivery stands, if it exists."""
        ...


class Sender(Protocol):
    """Sends one rendered message to one address, carrying the delivery id to the channel."""

    async def send(
        self, address: Address, request: NotificationRequest, rendered: Rendered
    ) -> None:
        """Deliver, or raise ``domain.channels.DeliveryFailedError`` with a reason."""
        ...


class TemplateRenderer(Protocol):
    """Renders a request's template in a locale."""

    def render(self, request: NotificationRequest, locale: str) -> Rendered:
        """The message in ``locale``, or in the fallback language when it has no translation."""
        ...

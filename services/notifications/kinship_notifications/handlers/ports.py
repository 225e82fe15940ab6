"""The ports the notifications handlers need: persistence as a unit of work, the vault's
delivery targets, the channels, the templates and the clock."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from kinship_contracts.directory import DirectoryChange
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_contracts.privacy import ErasureStage
from kinship_notifications.domain.channels import Address, Rendered
from kinship_notifications.domain.deliveries import (
    Delivery,
    DeliveryState,
    QueuedRequest,
    Reachable,
)
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.unit_of_work import UnitOfWork

Clock = Callable[[], datetime]
"""The current time (timezone-aware)."""


class NotificationsUnitOfWork(UnitOfWork, Protocol):
    """One transaction over deliveries, preferences, the directory and the outbox: entered
    with ``async with``, committed on a clean exit and rolled back on an exception."""

    async def accept(self, requests: Sequence[QueuedRequest], now: datetime) -> int:
        """Queue requests, due at ``now``; a known request id is ignored. Returns new ones.

        A delivery keeps its recipient as addressed: a person id, or a subject id (never
        both, never the person a subject id was resolved to).
        """
        ...

    async def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        """Up to ``limit`` due deliveries, critical first, leased until ``lease_until``."""
        ...

    async def reachable(self, person_id: str) -> Reachable | None:
        """A person's directory entry (time zone, channels, active)."""
        ...

    async def preferences(self, person_id: str) -> Preferences:
        """A person's preferences, or the defaults."""
        ...

    async def save_preferences(self, person_id: str, preferences: Preferences) -> None:
        """Create or replace a person's preferences."""
        ...

    async def sent_since(self, recipient: Recipient, since: datetime) -> int:
        """Messages held to the daily limit (``NotificationRequest.limited``: celebrations and
        plain check-in reminders, not critical) delivered to this address (person id or
        subject id) since ``since``; care messages do not count."""
        ...

    async def finish(
        self,
        delivery_id: str,
        status: str,
        *,
        attempts: int,
        channel: str | None,
        error: str | None,
        receipt: OutboxMessage,
        now: datetime,
    ) -> bool:
        """Record a pending delivery's outcome and queue its receipt; False (and nothing
        queued) when it was already finished (or erased)."""
        ...

    async def fall_through(
        self,
        delivery_id: str,
        attempts: int,
        method: int,
        when: datetime,
        round_started_at: datetime,
        error: str | None,
    ) -> None:
        """The channel failed: try the recipient's contact method ``method`` at ``when``."""
        ...

    async def retry_at(
        self, delivery_id: str, attempts: int, when: datetime, error: str | None
    ) -> None:
        """Release a pending delivery's lease and try it again at ``when``."""
        ...

    async def postpone(self, delivery_id: str, when: datetime, reason: str) -> None:
        """Release a pending delivery's lease and try again at ``when``, counting a wait
        (not an attempt: the channel was not tried)."""
        ...

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes (the last per person wins; ``None`` removes)."""
        ...

    async def delivery_state(self, delivery_id: str) -> DeliveryState | None:
        """Where a delivery stands, if it exists."""
        ...

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; the ids never seen before."""
        ...

    async def erase_person(self, person_id: str) -> dict[str, int]:
        """Remove everything kept about a person by their id (directory entry, preferences,
        deliveries to them and their receipts not yet sent, the keys of dead letters naming
        them); counts by kind."""
        ...

    async def erase_subjects(self, subject_ids: Sequence[str]) -> dict[str, int]:
        """Remove deliveries to these subject ids (and their unsent receipts) and shred the
        keys of dead letters naming them; counts by kind."""
        ...

    async def remember_erased(
        self, digests: Sequence[bytes], until: datetime, *, erased_at: datetime | None = None
    ) -> None:
        """Keep the digests of erased subject ids (``kinship_runtime.erased_ids``), or with
        ``erased_at`` of erased person ids, until ``until`` (a digest kept already keeps the
        later of each time); first in the erasure's transaction (it waits for batches
        checking the record)."""
        ...

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` (person ids) kept as erased and not expired at ``now``, with
        when each was (last) erased; like ``erased_among``."""
        ...

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        """Those of ``digests`` kept as erased and not expired at ``now`` (waits for an
        erasure in progress); before the batch stores anything."""
        ...

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``; how many went."""
        ...

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: Mapping[str, int],
        *,
        receipts_topic: str,
        now: datetime,
    ) -> bool:
        """Record that one half of an erasure is done; queue this service's receipt once
        both are (returns whether it was queued now)."""
        ...

    async def deliveries_to(self, person_id: str, subject_id: str | None) -> list[DeliveryState]:
        """Deliveries addressed to the person's id or to their subject id, oldest first:
        states only (no content, no address, no link)."""
        ...


class DeliveryTargets(Protocol):
    """The check-in service's vault, asked whom to deliver a message to a subject to."""

    async def delivery_target(self, subject_id: str, request_id: str) -> str | None:
        """The person behind ``subject_id`` for request ``request_id`` (an audited lookup),
        or None when the subject is unknown (erased). Raises ``OSError`` when the vault
        cannot answer now (``kinship_runtime.vault.VaultUnavailableError``) and
        ``VaultRefusedError`` when it refuses this service."""
        ...


class SubjectLookup(Protocol):
    """The check-in service's vault, asked for a person's own subject id (scope
    ``subjects:lookup``) when they download their data; the answer is used for that request
    and never stored."""

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        """Each person's subject id (with ``create=False``, only people who have one)."""
        ...


class Sender(Protocol):
    """Sends one rendered message to one address, carrying the delivery id to the channel."""

    async def send(
        self, address: Address, request: NotificationRequest, rendered: Rendered
    ) -> None:
        """Deliver, or raise ``domain.channels.DeliveryFailedError`` with a coarse reason."""
        ...


class TemplateRenderer(Protocol):
    """Renders a request's template for one recipient."""

    def render(self, request: NotificationRequest, locale: str, timezone: str) -> Rendered:
        """The message in the language of the recipient's ``locale`` preference (English
        when there is no translation), its times in their ``timezone`` and locale;
        ``domain.channels.TemplateFailedError`` when the template is missing or fails."""
        ...

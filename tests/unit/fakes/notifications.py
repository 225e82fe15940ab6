"""The notifications service's ports, in memory: the unit of work, the sender, the template
renderer and the clock."""

import asyncio
import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from kinship_contracts.directory import Channels, DirectoryChange, latest_per_person
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_notifications.domain.channels import Address, DeliveryFailedError, Rendered
from kinship_notifications.domain.deliveries import (
    Delivery,
    DeliveryState,
    QueuedRequest,
    Reachable,
)
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.outbox import OutboxMessage

NOW = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
"""23:30 in London, 00:30 in Berlin."""


@dataclass
class StoredDelivery:
    """A row of ``deliveries``."""

    request: NotificationRequest
    next_attempt_at: datetime
    traceparent: str | None = None
    status: str = "pending"
    attempts: int = 0
    lease_until: datetime | None = None
    channel: str | None = None
    last_error: str | None = None
    person_id: str | None = None
    finished_at: datetime | None = None


@dataclass
class Tables:
    """What the PostgreSQL unit of work keeps: deliveries, directory, preferences, outbox."""

    deliveries: dict[str, StoredDelivery] = field(default_factory=dict)
    people: dict[str, Reachable] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)
    """subject id -> person id"""
    preferences: dict[str, Preferences] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)


def subject_of(person_id: str) -> str:
    """The fake's subject ids (the real ones are an HMAC: the adapter's business)."""
    return f"subject-{person_id}"


class FakeNotificationsUnitOfWork:
    """Implements ``kinship_notifications.handlers.ports.NotificationsUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it ignores a known request id, claims only due and
    unleased deliveries (critical first), finishes a delivery once, and rolls back what a
    failed unit of work changed. ``another()`` is a second unit of work over the same tables
    (deliveries run concurrently, each with its own). ``claim_errors`` are raised by the next
    claims, one each (a database that is away).
    """

    def __init__(self, tables: Tables | None = None) -> None:
        self.tables = tables or Tables()
        self.claim_errors: list[BaseException] = []
        self.commits = 0
        self.rollbacks = 0
        self._entered = False
        self._snapshot: Tables | None = None

    def another(self) -> "FakeNotificationsUnitOfWork":
        """A unit of work over the same tables."""
        other = FakeNotificationsUnitOfWork(self.tables)
        other.claim_errors = self.claim_errors
        return other

    async def __aenter__(self) -> Self:
        assert not self._entered, "a unit of work is entered once at a time"
        self._entered = True
        self._snapshot = copy.deepcopy(self.tables)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        if exc is None:
            self.commits += 1
            return
        self.rollbacks += 1
        assert self._snapshot is not None
        for name in ("deliveries", "people", "subjects", "preferences", "outbox"):
            setattr(self.tables, name, getattr(self._snapshot, name))

    def _check_entered(self) -> None:
        assert self._entered, "handlers run inside an entered unit of work"

    # Test set-up -------------------------------------------------------------

    def add_person(
        self, person_id: str, channels: Channels, timezone: str = "UTC", active: bool = True
    ) -> None:
        """A directory entry, as ``apply_directory`` would keep it."""
        self.tables.people[person_id] = Reachable(person_id, timezone, channels, active)
        self.tables.subjects[subject_of(person_id)] = person_id

    def delivery(self, delivery_id: str) -> StoredDelivery:
        """A stored delivery."""
        return self.tables.deliveries[delivery_id]

    def receipts(self) -> list[dict[str, Any]]:
        """The receipts queued in the outbox, as their JSON payloads."""
        return [json.loads(message.value or b"null") for message in self.tables.outbox]

    # The port ----------------------------------------------------------------

    async def accept(self, requests: Sequence[QueuedRequest], now: datetime) -> int:
        self._check_entered()
        new = 0
        for queued in requests:
            if queued.request.id in self.tables.deliveries:
                continue
            self.tables.deliveries[queued.request.id] = StoredDelivery(
                queued.request, next_attempt_at=now, traceparent=queued.traceparent
            )
            new += 1
        return new

    async def claim(self, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
        self._check_entered()
        if self.claim_errors:
            raise self.claim_errors.pop(0)
        due = [
            (delivery_id, stored)
            for delivery_id, stored in self.tables.deliveries.items()
            if stored.status == "pending"
            and stored.next_attempt_at <= now
            and (stored.lease_until is None or stored.lease_until <= now)
        ]
        due.sort(key=lambda item: (not item[1].request.critical, item[1].next_attempt_at))
        claimed = []
        for delivery_id, stored in due[:limit]:
            stored.lease_until = lease_until
            claimed.append(
                Delivery(delivery_id, stored.request, stored.attempts, stored.traceparent)
            )
        return claimed

    async def reachable(self, recipient: Recipient) -> Reachable | None:
        self._check_entered()
        person_id = recipient.person_id
        if person_id is None and recipient.subject_id is not None:
            person_id = self.tables.subjects.get(recipient.subject_id)
        return self.tables.people.get(person_id) if person_id is not None else None

    async def preferences(self, person_id: str) -> Preferences:
        self._check_entered()
        return self.tables.preferences.get(person_id, Preferences())

    async def save_preferences(self, person_id: str, preferences: Preferences) -> None:
        self._check_entered()
        self.tables.preferences[person_id] = preferences

    async def sent_since(self, person_id: str, since: datetime) -> int:
        self._check_entered()
        return sum(
            1
            for stored in self.tables.deliveries.values()
            if stored.person_id == person_id
            and stored.status == "delivered"
            and not stored.request.critical
            and stored.finished_at is not None
            and stored.finished_at >= since
        )

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
        self._check_entered()
        stored = self.tables.deliveries.get(delivery_id)
        if stored is None or stored.status != "pending":
            return False
        stored.status, stored.attempts, stored.person_id = status, attempts, person_id
        stored.channel, stored.last_error, stored.finished_at = channel, error, now
        stored.lease_until = None
        self.tables.outbox.append(receipt)
        return True

    async def retry_at(
        self, delivery_id: str, attempts: int, when: datetime, error: str | None
    ) -> None:
        self._check_entered()
        stored = self.tables.deliveries.get(delivery_id)
        if stored is None or stored.status != "pending":
            return
        stored.attempts, stored.next_attempt_at, stored.last_error = attempts, when, error
        stored.lease_until = None

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        self._check_entered()
        for change in latest_per_person(changes):
            person = change.person
            if person is None:
                self.tables.people.pop(change.person_id, None)
                continue
            self.add_person(person.person_id, person.channels, person.timezone, person.active)

    async def delivery_state(self, delivery_id: str) -> DeliveryState | None:
        self._check_entered()
        stored = self.tables.deliveries.get(delivery_id)
        if stored is None:
            return None
        return DeliveryState(
            id=delivery_id,
            kind=stored.request.kind.value,
            critical=stored.request.critical,
            status=stored.status,
            attempts=stored.attempts,
            channel=stored.channel,
            last_error=stored.last_error,
            created_at=stored.request.created_at,
            finished_at=stored.finished_at,
        )


@dataclass(frozen=True)
class Sent:
    """One call of the sender."""

    address: Address
    request: NotificationRequest
    rendered: Rendered


class FakeSender:
    """Implements ``kinship_notifications.handlers.ports.Sender``: records every call.

    ``fail(target, reason, times)`` makes the next calls to ``target`` fail (all of them
    when ``times`` is None); ``hang(target)`` makes calls to it wait until ``release()``.
    """

    def __init__(self) -> None:
        self.calls: list[Sent] = []
        self._succeeded: list[Sent] = []
        self._failures: dict[str, tuple[str, int | None]] = {}
        self._hanging: set[str] = set()
        self._released = asyncio.Event()

    def fail(self, target: str, reason: str, times: int | None = None) -> None:
        self._failures[target] = (reason, times)

    def recover(self, target: str) -> None:
        """Calls to ``target`` work again."""
        self._failures.pop(target, None)

    def hang(self, target: str) -> None:
        self._hanging.add(target)

    def release(self) -> None:
        self._released.set()

    def delivered(self, target: str | None = None) -> list[Sent]:
        """Calls that succeeded (to ``target``, or to anyone)."""
        return [sent for sent in self._succeeded if target in (None, sent.address.target)]

    async def send(
        self, address: Address, request: NotificationRequest, rendered: Rendered
    ) -> None:
        sent = Sent(address, request, rendered)
        self.calls.append(sent)
        if address.target in self._hanging:
            await self._released.wait()
        failure = self._failures.get(address.target)
        if failure is not None:
            reason, times = failure
            if times is not None:
                if times <= 1:
                    del self._failures[address.target]
                else:
                    self._failures[address.target] = (reason, times - 1)
            raise DeliveryFailedError(reason)
        self._succeeded.append(sent)


class FakeTemplates:
    """Implements ``kinship_notifications.handlers.ports.TemplateRenderer``: names what it
    rendered, in which locale."""

    def __init__(self) -> None:
        self.locales: list[str] = []

    def render(self, request: NotificationRequest, locale: str) -> Rendered:
        self.locales.append(locale)
        return Rendered(subject=f"{request.template} ({locale})", text=f"{request.id}\n")


class FakeClock:
    """The clock port (``handlers.ports.Clock``): stands still until moved."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def request(
    id_: str = "d-1",
    kind: str = "checkin_reminder",
    person_id: str | None = "p-1",
    **fields: Any,
) -> NotificationRequest:
    """A notification request to ``person_id`` (or to ``subject_id=`` when given)."""
    recipient = (
        Recipient(person_id=person_id)
        if "subject_id" not in fields
        else Recipient(subject_id=fields.pop("subject_id"))
    )
    return NotificationRequest.model_validate(
        {
            "id": id_,
            "kind": kind,
            "recipient": recipient.model_dump(),
            "template": fields.pop("template", kind),
            "created_at": NOW,
            **fields,
        }
    )


def no_jitter() -> float:
    """The jitter band's centre: backoff delays come out exact."""
    return 0.5

"""The notifications service's ports, in memory: the unit of work, the vault's delivery
targets, the sender, the template renderer and the clock."""

import asyncio
import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import HttpUrl

from kinship_contracts.directory import Channels, DirectoryChange, latest_per_person
from kinship_contracts.notifications import NotificationRequest, Recipient
from kinship_contracts.privacy import ErasureReceipt, ErasureStage
from kinship_notifications.domain.channels import (
    Address,
    DeliveryFailedError,
    Rendered,
    TemplateFailedError,
)
from kinship_notifications.domain.deliveries import (
    Delivery,
    DeliveryState,
    QueuedRequest,
    Reachable,
)
from kinship_notifications.domain.links import has_token, without_token
from kinship_notifications.domain.policy import Preferences
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.vault import VaultRefusedError, VaultUnavailableError
from tests.unit.fakes.unit_of_work import FakeUnitOfWork

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
    finished_at: datetime | None = None
    waits: int = 0
    method: int = 0
    round_started_at: datetime | None = None

    @property
    def person_id(self) -> str | None:
        """The recipient's person id, when the request named one (as the table keeps it)."""
        return self.request.recipient.person_id

    @property
    def subject_id(self) -> str | None:
        """The recipient's subject id, when the request named one."""
        return self.request.recipient.subject_id


@dataclass
class ErasureProgress:
    """A row of ``erasure_progress`` (the runtime's ``note_done``)."""

    stages: set[ErasureStage] = field(default_factory=set)
    removed: dict[str, int] = field(default_factory=dict)
    receipt_sent: bool = False


@dataclass
class Tables:
    """What the PostgreSQL unit of work keeps: deliveries, directory, preferences, outbox,
    processed events, dead-letter keys (by the people they name), erasure progress."""

    deliveries: dict[str, StoredDelivery] = field(default_factory=dict)
    people: dict[str, Reachable] = field(default_factory=dict)
    preferences: dict[str, Preferences] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    processed: set[tuple[str, str]] = field(default_factory=set)
    dead_letter_keys: dict[str, set[str]] = field(default_factory=dict)
    """key id -> the person and subject ids its dead letter names"""
    erasures: dict[str, ErasureProgress] = field(default_factory=dict)
    erased_ids: dict[bytes, datetime] = field(default_factory=dict)
    """Digests of erased subject ids → when each expires."""
    erased_people: dict[bytes, tuple[datetime, datetime]] = field(default_factory=dict)
    """Digests of erased person ids → (when erased, when it expires); the same table as
    ``erased_ids`` in PostgreSQL (its ``erased_at`` column)."""


class FakeNotificationsUnitOfWork(FakeUnitOfWork):
    """Implements ``kinship_notifications.handlers.ports.NotificationsUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it ignores a known request id, claims only due and
    unleased deliveries (critical first), finishes a delivery once, and rolls back what a
    failed unit of work changed. ``another()`` is a second unit of work over the same tables
    (deliveries run concurrently, each with its own). ``claim_errors`` are raised by the next
    claims, one each (a database that is away).
    """

    _STATE = ("tables",)

    def __init__(self, tables: Tables | None = None) -> None:
        super().__init__()
        self.tables = tables or Tables()
        self.claim_errors: list[BaseException] = []

    def another(self) -> "FakeNotificationsUnitOfWork":
        """A unit of work over the same tables."""
        other = FakeNotificationsUnitOfWork(self.tables)
        other.claim_errors = self.claim_errors
        return other

    def _restore(self, snapshot: dict[str, Any]) -> None:
        # The tables are shared with ``another()`` unit of work: restore them in place.
        for name in dataclasses.fields(Tables):
            setattr(self.tables, name.name, getattr(snapshot["tables"], name.name))

    # Test set-up -------------------------------------------------------------

    def add_person(
        self, person_id: str, channels: Channels, timezone: str = "UTC", active: bool = True
    ) -> None:
        """A directory entry, as ``apply_directory`` would keep it."""
        self.tables.people[person_id] = Reachable(person_id, timezone, channels, active)

    def delivery(self, delivery_id: str) -> StoredDelivery:
        """A stored delivery."""
        return self.tables.deliveries[delivery_id]

    def receipts(self) -> list[dict[str, Any]]:
        """The receipts queued in the outbox, as their JSON payloads."""
        return [json.loads(message.value or b"null") for message in self.tables.outbox]

    def add_dead_letter(self, key_id: str, *refs: str) -> None:
        """A dead letter's key, linked to the people it names."""
        self.tables.dead_letter_keys[key_id] = set(refs)

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
                Delivery(
                    delivery_id,
                    stored.request,
                    stored.attempts,
                    stored.traceparent,
                    stored.waits,
                    stored.method,
                    stored.round_started_at,
                )
            )
        return claimed

    async def reachable(self, person_id: str) -> Reachable | None:
        self._check_entered()
        return self.tables.people.get(person_id)

    async def preferences(self, person_id: str) -> Preferences:
        self._check_entered()
        return self.tables.preferences.get(person_id, Preferences())

    async def save_preferences(self, person_id: str, preferences: Preferences) -> None:
        self._check_entered()
        self.tables.preferences[person_id] = preferences

    async def sent_since(self, recipient: Recipient, since: datetime) -> int:
        self._check_entered()
        if recipient.person_id is None and recipient.subject_id is None:
            return 0
        return sum(
            1
            for stored in self.tables.deliveries.values()
            if (stored.person_id, stored.subject_id) == (recipient.person_id, recipient.subject_id)
            and stored.status == "delivered"
            and stored.request.limited
            and stored.finished_at is not None
            and stored.finished_at >= since
        )

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
        self._check_entered()
        stored = self.tables.deliveries.get(delivery_id)
        if stored is None or stored.status != "pending":
            return False
        stored.status, stored.attempts = status, attempts
        alert = stored.request.alert
        if alert is not None and has_token(str(alert.ack_url)):  # as the adapter's SQL does
            link = HttpUrl(without_token(str(alert.ack_url)))
            update = {"alert": alert.model_copy(update={"ack_url": link})}
            stored.request = stored.request.model_copy(update=update)
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

    async def fall_through(
        self,
        delivery_id: str,
        attempts: int,
        method: int,
        when: datetime,
        round_started_at: datetime,
        error: str | None,
    ) -> None:
        self._check_entered()
        stored = self.tables.deliveries.get(delivery_id)
        if stored is None or stored.status != "pending":
            return
        stored.attempts, stored.method, stored.next_attempt_at = attempts, method, when
        stored.round_started_at, stored.last_error, stored.lease_until = (
            round_started_at,
            error,
            None,
        )

    async def postpone(self, delivery_id: str, when: datetime, reason: str) -> None:
        self._check_entered()
        stored = self.tables.deliveries.get(delivery_id)
        if stored is None or stored.status != "pending":
            return
        stored.waits += 1
        stored.next_attempt_at, stored.last_error, stored.lease_until = when, reason, None

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        self._check_entered()
        for change in latest_per_person(changes):
            person = change.person
            if person is None:
                self.tables.people.pop(change.person_id, None)
                continue
            self.add_person(person.person_id, person.channels, person.timezone, person.active)

    async def deliveries_to(self, person_id: str, subject_id: str | None) -> list[DeliveryState]:
        self._check_entered()
        mine = [
            delivery_id
            for delivery_id, stored in self.tables.deliveries.items()
            if stored.person_id == person_id
            or (subject_id is not None and stored.subject_id == subject_id)
        ]
        states = [await self.delivery_state(delivery_id) for delivery_id in mine]
        found = [state for state in states if state is not None]
        return sorted(found, key=lambda state: (state.created_at, state.id))

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

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        self._check_entered()
        fresh = {id_ for id_ in event_ids if (consumer, id_) not in self.tables.processed}
        self.tables.processed |= {(consumer, id_) for id_ in fresh}
        return fresh

    def _erase_deliveries(self, doomed: set[str]) -> int:
        for delivery_id in doomed:
            del self.tables.deliveries[delivery_id]
        keys = {delivery_id.encode() for delivery_id in doomed}
        kept = [message for message in self.tables.outbox if message.key not in keys]
        dropped = len(self.tables.outbox) - len(kept)
        self.tables.outbox = kept
        return dropped

    def _shred(self, refs: set[str]) -> int:
        doomed = [key for key, named in self.tables.dead_letter_keys.items() if named & refs]
        for key in doomed:
            del self.tables.dead_letter_keys[key]
        return len(doomed)

    async def erase_person(self, person_id: str) -> dict[str, int]:
        self._check_entered()
        doomed = {
            d for d, stored in self.tables.deliveries.items() if stored.person_id == person_id
        }
        return {
            "directory_people": int(self.tables.people.pop(person_id, None) is not None),
            "preferences": int(self.tables.preferences.pop(person_id, None) is not None),
            "deliveries": len(doomed),
            "unsent_receipts": self._erase_deliveries(doomed),
            "dead_letter_keys": self._shred({person_id}),
        }

    async def erase_subjects(self, subject_ids: Sequence[str]) -> dict[str, int]:
        self._check_entered()
        if not subject_ids:
            return {}
        wanted = set(subject_ids)
        doomed = {d for d, stored in self.tables.deliveries.items() if stored.subject_id in wanted}
        return {
            "subject_deliveries": len(doomed),
            "subject_unsent_receipts": self._erase_deliveries(doomed),
            "subject_dead_letter_keys": self._shred(wanted),
        }

    async def remember_erased(
        self, digests: Sequence[bytes], until: datetime, *, erased_at: datetime | None = None
    ) -> None:
        self._check_entered()
        if erased_at is not None:
            people = self.tables.erased_people
            for digest in digests:
                was_at, was_until = people.get(digest, (erased_at, until))
                people[digest] = (max(erased_at, was_at), max(until, was_until))
            return
        kept = self.tables.erased_ids
        for digest in digests:
            kept[digest] = max(until, kept.get(digest, until))

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        self._check_entered()
        kept = self.tables.erased_people
        return {d: kept[d][0] for d in digests if d in kept and kept[d][1] > now}

    async def erased_among(self, digests: Sequence[bytes], now: datetime) -> set[bytes]:
        self._check_entered()
        kept = self.tables.erased_ids
        return {d for d in digests if d in kept and kept[d] > now}

    async def forget_erased(self, now: datetime, limit: int) -> int:
        self._check_entered()
        subjects, people = self.tables.erased_ids, self.tables.erased_people
        gone = [d for d, until in subjects.items() if until <= now][:limit]
        for digest in gone:
            del subjects[digest]
        gone_people = [d for d, (_, until) in people.items() if until <= now]
        for digest in gone_people[: limit - len(gone)]:
            del people[digest]
        return len(gone) + len(gone_people[: limit - len(gone)])

    async def erasure_done(
        self,
        erasure_id: str,
        stage: ErasureStage,
        removed: Mapping[str, int],
        *,
        receipts_topic: str,
        now: datetime,
    ) -> bool:
        self._check_entered()
        progress = self.tables.erasures.setdefault(erasure_id, ErasureProgress())
        progress.stages.add(stage)
        progress.removed |= dict(removed)
        if progress.receipt_sent or progress.stages != set(ErasureStage):
            return False
        progress.receipt_sent = True
        receipt = ErasureReceipt(
            id=f"{erasure_id}:notifications",
            erasure_id=erasure_id,
            service="notifications",
            completed_at=now,
            removed=progress.removed,
        )
        self.tables.outbox.append(
            OutboxMessage(
                receipt.id, receipts_topic, erasure_id.encode(), receipt.model_dump_json().encode()
            )
        )
        return True


class FakeVault:
    """Implements ``handlers.ports.DeliveryTargets`` and ``SubjectLookup``: the vault's
    subject -> person links.

    ``unavailable`` makes calls raise ``VaultUnavailableError`` (an ``OSError``) and
    ``refusing`` ``VaultRefusedError``; ``calls`` records each (subject id, request id).
    """

    def __init__(self, links: Mapping[str, str] | None = None) -> None:
        self.links = dict(links or {})
        self.unavailable = False
        self.refusing = False
        self.calls: list[tuple[str, str]] = []

    async def subjects(
        self, person_ids: Sequence[str], *, create: bool = True, purpose: str = "unstated"
    ) -> dict[str, str]:
        """``handlers.ports.SubjectLookup``: each person's subject id (a new one for a person
        the links do not name, as the vault gives one, unless ``create`` is false)."""
        if self.unavailable:
            raise VaultUnavailableError("the check-in service is unreachable")
        found = {}
        for person in person_ids:
            known = [subject for subject, linked in self.links.items() if linked == person]
            if not known and not create:
                continue
            if not known:
                self.links[f"subj-{person}"] = person
                known = [f"subj-{person}"]
            found[person] = known[0]
        return found

    async def delivery_target(self, subject_id: str, request_id: str) -> str | None:
        self.calls.append((subject_id, request_id))
        if self.unavailable:
            raise VaultUnavailableError("the check-in service is unreachable")
        if self.refusing:
            raise VaultRefusedError("refused")
        return self.links.get(subject_id)


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
        self._failures: dict[str, tuple[str, int | None, bool]] = {}
        self._hanging: set[str] = set()
        self._released = asyncio.Event()

    def fail(
        self, target: str, reason: str, times: int | None = None, *, permanent: bool = False
    ) -> None:
        self._failures[target] = (reason, times, permanent)

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
            reason, times, permanent = failure
            if times is not None:
                if times <= 1:
                    del self._failures[address.target]
                else:
                    self._failures[address.target] = (reason, times - 1, permanent)
            raise DeliveryFailedError(reason, permanent=permanent)
        self._succeeded.append(sent)


class FakeTemplates:
    """Implements ``kinship_notifications.handlers.ports.TemplateRenderer``: names what it
    rendered, in which locale, with its links (an alert's, and every ``*_url`` parameter);
    records the locales and time zones it was asked for; templates named in ``missing``
    fail."""

    def __init__(self) -> None:
        self.locales: list[str] = []
        self.timezones: list[str] = []
        self.missing: set[str] = set()

    def render(self, request: NotificationRequest, locale: str, timezone: str) -> Rendered:
        if request.template in self.missing:
            raise TemplateFailedError
        self.locales.append(locale)
        self.timezones.append(timezone)
        links = [str(request.alert.ack_url)] if request.alert else []
        links += [value for name, value in sorted(request.params.items()) if name.endswith("_url")]
        text = "\n".join([request.id, *links])
        return Rendered(subject=f"{request.template} ({locale})", text=f"{text}\n")


class FakeClock:
    """The clock port (``handlers.ports.Clock``): stands still until moved."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class _Default:
    """``person_id`` not given."""


_DEFAULT = _Default()


def request(
    id_: str = "d-1",
    kind: str = "checkin_reminder",
    person_id: str | _Default | None = _DEFAULT,
    **fields: Any,
) -> NotificationRequest:
    """A notification request to ``person_id`` (``p-1`` by default); with ``subject_id=`` to
    that subject (and to a person too only when ``person_id`` is given as well)."""
    subject_id = fields.pop("subject_id", None)
    if isinstance(person_id, _Default):
        person_id = None if subject_id is not None else "p-1"
    recipient = Recipient(person_id=person_id, subject_id=subject_id)
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

"""The port the check-in handlers need from persistence: one unit of work (a transaction)."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from kinship_checkin.domain.checkins import RecordedCheckin, StoredCheckin
from kinship_checkin.domain.people import (
    AuditEvent,
    Contact,
    DirectoryEntry,
    ErasureStatus,
    PersonMatch,
)
from kinship_checkin.domain.privacy import PersonKey, SealedNote
from kinship_checkin.domain.trends import ReleasedTrend, ReleasedWeek, ReleasedWindow, TrendCell
from kinship_contracts.directory import DirectoryChange, OutreachPreference
from kinship_contracts.privacy import ErasureReceipt
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.unit_of_work import UnitOfWork


class CheckinUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the check-in service (``kinship_runtime.unit_of_work``)."""

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Mark events processed by ``consumer``; the ids never seen before."""
        ...

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        """Team ids of the given people, as far as the directory knows them."""
        ...

    async def subjects_for(self, person_ids: Sequence[str], create: bool = True) -> dict[str, str]:
        """The vault's subject id of each person (new random ones when ``create``)."""
        ...

    async def person_of(self, subject_id: str) -> str | None:
        """The vault's person for a subject id (None once erased)."""
        ...

    async def person_keys(self, subject_ids: Sequence[str]) -> dict[str, PersonKey]:
        """The data keys of these people, as far as they have one."""
        ...

    async def add_person_keys(self, keys: Mapping[str, PersonKey]) -> None:
        """Store new data keys (a key stored meanwhile by another transaction wins)."""
        ...

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        """Store check-ins and their outbox messages; skip known ids; the ids stored now."""
        ...

    async def note_of(self, checkin_id: str, subject_id: str) -> SealedNote | None:
        """The sealed note of one of this subject's check-ins, if it has one."""
        ...

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes (the last per person wins; ``None`` removes)."""
        ...

    async def contact_of(self, person_id: str) -> Contact | None:
        """The person's name, channels and time zone from the directory."""
        ...

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """Weekly raw figures of a team's check-ins, closed weeks only, each as it stood when
        it was first read."""
        ...

    async def released_trend(self, team_id: str, weeks: int) -> ReleasedTrend:
        """The last ``weeks`` closed weeks' Mondays and what is stored for them: the weeks
        released so far and the window, if read before."""
        ...

    async def release_trend(
        self, team_id: str, weeks: Sequence[ReleasedWeek], window: ReleasedWindow | None
    ) -> None:
        """Store each week and the window unless already stored: the first release stays."""
        ...

    async def audit(
        self,
        action: str,
        actor: str,
        subject_id: str | None = None,
        case_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append to the audit trail: who did what, and whom it concerns."""
        ...

    async def erase(self, person_id: str, subject_ids: Sequence[str]) -> dict[str, int]:
        """Remove or crypto-shred everything about the person; counts by kind."""
        ...

    async def record_erasure(self, erasure_id: str, requested_at: datetime, by: str) -> None:
        """Remember an erasure request (never whom it is about)."""
        ...

    async def remember_erased(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        """Keep the digests of erased person ids (``kinship_runtime.erased_ids``) with the
        erasure's time until ``until``; first in the erasure's transaction (takes the lock
        that batches checking the record wait for)."""
        ...

    async def erased_since(self, digests: Sequence[bytes], now: datetime) -> dict[bytes, datetime]:
        """Those of ``digests`` erased and not expired at ``now``, with when each person was
        (last) erased; first in a batch's transaction (waits for an erasure in progress)."""
        ...

    async def forget_erased(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` digests expired at ``now``; how many."""
        ...

    async def mark_erased(self, erasure_id: str, at: datetime, subjects: int) -> None:
        """This service finished the erasure."""
        ...

    async def hold_erasure_subjects(
        self, erasure_id: str, subject_ids: Sequence[str], expires_at: datetime
    ) -> None:
        """Keep an open erasure's subject ids for the other services (once per erasure)."""
        ...

    async def erasure_subjects(self, erasure_id: str, now: datetime) -> list[str] | None:
        """An open erasure's subject ids; None once released, expired, or never held."""
        ...

    async def release_erasure_subjects(self, erasure_id: str | None, now: datetime) -> int:
        """Forget the subject ids of ``erasure_id`` (None: of no erasure in particular) and of
        every erasure past its deadline; how many erasures' ids were forgotten."""
        ...

    async def add_receipt(self, receipt: ErasureReceipt) -> None:
        """A service's erasure receipt (once per erasure and service)."""
        ...

    async def erasure_status(
        self, erasure_id: str, services: Sequence[str]
    ) -> ErasureStatus | None:
        """An erasure's progress across ``services``."""
        ...

    async def erasures(self, services: Sequence[str], limit: int) -> list[ErasureStatus]:
        """The latest erasures, newest first."""
        ...

    async def outreach_of(self, subject_id: str) -> tuple[OutreachPreference, str] | None:
        """A subject's outreach preference and who chose it ('person' or 'directory')."""
        ...

    async def set_outreach(
        self, subject_id: str, preference: OutreachPreference, chosen_by: str, now: datetime
    ) -> bool:
        """Store a preference; a directory default never replaces the person's own choice.

        Returns whether anything changed.
        """
        ...

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in this transaction's outbox."""
        ...

    async def directory_entry(self, person_id: str) -> DirectoryEntry | None:
        """What the directory copy holds about a person (None when it does not know them)."""
        ...

    async def search_people(self, text: str, limit: int) -> list[PersonMatch]:
        """Active people whose display name contains ``text`` or whose id starts with it
        (case-insensitive; ``%`` and ``_`` match themselves), by name, at most ``limit``."""
        ...

    async def checkins_of(self, subject_id: str) -> list[StoredCheckin]:
        """Every check-in of a subject, oldest first."""
        ...

    async def audit_about(self, subject_id: str) -> list[AuditEvent]:
        """The audit records that concern a subject, oldest first."""
        ...

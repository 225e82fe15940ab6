"""The port the check-in handlers need from persistence: one unit of work (a transaction)."""

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from kinship_checkin.domain.checkins import RecordedCheckin
from kinship_checkin.domain.trends import TrendCell
from kinship_contracts.directory import DirectoryChange
from kinship_runtime.outbox import OutboxMessage


class CheckinUnitOfWork(Protocol):
    """One transaction of the check-in service: entered with ``async with``, committed on a
    clean exit and rolled back on an exception."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        """Team ids of the given people, as far as the directory knows them."""
        ...

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        """Store check-ins, vault entries and outbox messages; skip known ids.

        Returns the ids stored now (the others were already there).
        """
        ...

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        """Apply directory changes (the last per person wins; ``None`` removes)."""
        ...

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """Weekly raw figures of a team's check-ins."""
        ...

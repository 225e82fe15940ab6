"""Keeping the check-in service's view of the organisation directory."""

from collections.abc import Sequence

from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.directory import DirectoryChange


async def apply_directory(changes: Sequence[DirectoryChange], uow: CheckinUnitOfWork) -> None:
    """Apply a batch of directory changes (a person's team decides their check-ins' team)."""
    await uow.apply_directory(changes)

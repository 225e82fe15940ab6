"""Keeping the notifications service's view of the organisation directory."""

from collections.abc import Sequence

from kinship_contracts.directory import DirectoryChange
from kinship_notifications.handlers.ports import NotificationsUnitOfWork


async def apply_directory(changes: Sequence[DirectoryChange], uow: NotificationsUnitOfWork) -> None:
    """Apply a batch of directory changes (a person's channels and time zone, by person id
    and by subject id)."""
    await uow.apply_directory(changes)

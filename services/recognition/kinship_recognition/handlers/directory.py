"""Keeping the recognition service's view of the organisation directory (time zones for
streak weeks, teams for team celebrations)."""

from collections.abc import Sequence

from kinship_contracts.directory import DirectoryChange
from kinship_recognition.handlers.ports import RecognitionUnitOfWork


async def apply_directory(changes: Sequence[DirectoryChange], uow: RecognitionUnitOfWork) -> None:
    """Apply a batch of directory changes (the last per person wins; a removal forgets)."""
    await uow.apply_directory(changes)

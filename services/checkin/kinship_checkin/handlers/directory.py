"""Keeping the check-in service's view of the organisation directory."""

from collections.abc import Sequence
from datetime import datetime

from kinship_checkin.handlers.outreach import apply_directory_defaults
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.directory import DirectoryChange


async def apply_directory(
    changes: Sequence[DirectoryChange],
    uow: CheckinUnitOfWork,
    outreach_topic: str,
    now: datetime,
) -> None:
    """Apply a batch of directory changes: teams, contact details for reveals, and the
    outreach preferences the directory states."""
    await uow.apply_directory(changes)
    await apply_directory_defaults(changes, uow, outreach_topic, now)

"""Keeping the escalation service's view of the organisation directory: who is a peer
responder or a coordinator, each person's team and time zone."""

from collections.abc import Sequence

from kinship_contracts.directory import DirectoryChange
from kinship_escalation.handlers.ports import EscalationUnitOfWork


async def apply_directory(changes: Sequence[DirectoryChange], uow: EscalationUnitOfWork) -> None:
    """Apply a batch of directory changes (the last per person wins; ``None`` removes)."""
    await uow.directory.apply(changes)

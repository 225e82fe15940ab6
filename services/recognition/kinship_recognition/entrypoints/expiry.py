"""The erased-ids expiry: deletes the digests of erased subject ids (``domain.erased``) once
the topics that could bring events about them have dropped those events, hourly, whether or
not erasures keep coming (a ``SupervisedLoop``)."""

from collections.abc import Callable
from datetime import UTC, datetime

from kinship_recognition.handlers.ports import RecognitionUnitOfWork
from kinship_runtime.workers import SupervisedLoop

EXPIRY_BATCH = 1000
"""Digests deleted per transaction (a round repeats at once while it fills one)."""
EXPIRY_POLL_SECONDS = 3600.0


class ErasedIdsExpiry:
    """Deletes expired digests of erased subject ids every ``poll_seconds``."""

    def __init__(
        self,
        unit_of_work: Callable[[], RecognitionUnitOfWork],
        poll_seconds: float = EXPIRY_POLL_SECONDS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._loop = SupervisedLoop("erased-ids-expiry", self.expire, poll_seconds=poll_seconds)
        self.name = self._loop.name
        self.expired = 0

    async def expire(self) -> bool:
        """One round: delete up to ``EXPIRY_BATCH`` expired digests; True when it filled the
        batch (more may be waiting)."""
        uow = self._unit_of_work()
        async with uow:
            deleted = await uow.forget_erased(datetime.now(UTC), EXPIRY_BATCH)
        self.expired += deleted
        return deleted >= EXPIRY_BATCH

    def start(self) -> None:
        """Expire digests in the background until ``stop``."""
        self._loop.start()

    async def stop(self) -> None:
        """Finish the round in progress and stop."""
        await self._loop.stop()

    def healthy(self) -> bool:
        """Whether the loop runs and is not stuck."""
        return self._loop.healthy()

"""What every service's unit-of-work port extends: one transaction, used with ``async with``.

A service's port adds its own methods (``class CheckinUnitOfWork(UnitOfWork, Protocol)``);
``database.PoolTransaction`` is the PostgreSQL base of the adapters, the in-memory fakes
restore their state after an exception.
"""

from types import TracebackType
from typing import Protocol, Self


class UnitOfWork(Protocol):
    """One transaction: entered with ``async with``, committed on a clean exit and rolled back
    on an exception."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

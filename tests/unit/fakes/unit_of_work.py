"""What every in-memory unit of work shares: transactions, as the PostgreSQL ones behave."""

import copy
from types import TracebackType
from typing import Any, ClassVar, Self


class FakeUnitOfWork:
    """Entered once at a time; commits when the block succeeds; after an exception, restores
    the attributes named in ``_STATE`` to what they were on entry (a rolled-back transaction).

    Subclasses name their state in ``_STATE`` and call ``_check_entered`` in every port method;
    one whose state is shared with other units of work restores it in place (``_restore``).
    """

    _STATE: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.commits = 0
        self.rollbacks = 0
        self._entered = False
        self._snapshot: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        assert not self._entered, "a unit of work is entered once at a time"
        self._entered = True
        self._snapshot = copy.deepcopy({name: getattr(self, name) for name in self._STATE})
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        if exc is None:
            self.commits += 1
            return
        self.rollbacks += 1
        self._restore(self._snapshot)

    def _restore(self, snapshot: dict[str, Any]) -> None:
        """Put the state back as it was on entry (a rolled-back transaction)."""
        for name, value in snapshot.items():
            setattr(self, name, value)

    def _check_entered(self) -> None:
        assert self._entered, "handlers run inside an entered unit of work"

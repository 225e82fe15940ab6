"""Background loops that never die silently.

Every worker of a service (the outbox relay, escalation's timers, notifications' deliveries)
runs as a ``SupervisedLoop``: rounds run until ``stop``; a transient failure (the database or
the broker is away) is waited out with backoff and logged once per outage; any other error is
logged and the loop carries on after a backoff. A loop whose task ended anyway, whose round
has been stuck for longer than ``stall_seconds``, or whose rounds have all failed for that
long, reports itself unhealthy, which fails the service's ``/readyz`` so that the
orchestrator restarts it.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from kinship_runtime.resilience import Backoff, Outage, is_transient

log = logging.getLogger(__name__)

Round = Callable[[], Awaitable[bool]]
"""One round of work; returns True when it did something (run the next round at once)."""


class Worker(Protocol):
    """A background part of a service, started after its resources and stopped before them."""

    name: str

    def start(self) -> None:
        """Run in the background."""
        ...

    async def stop(self) -> None:
        """Finish the round in progress and stop."""
        ...

    def healthy(self) -> bool:
        """Whether the worker is running and not stuck."""
        ...


class SupervisedLoop:
    """Runs ``round`` until stopped, surviving every failure; see the module docstring."""

    def __init__(
        self,
        name: str,
        round_: Round,
        *,
        poll_seconds: float,
        stall_seconds: float = 300.0,
        logger: logging.Logger | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self._round = round_
        self._poll = poll_seconds
        self._stall = stall_seconds
        self._log = logger or log
        self._backoff = backoff or Backoff(first=0.5, cap=15.0)
        self._outage = Outage(name, self._log)
        self._wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._round_started: float | None = None
        self._failing_since: float | None = None
        self.rounds = 0
        self.failures = 0

    def start(self) -> None:
        """Run in the background until ``stop``."""
        if self._task is None or self._task.done():
            self.stopping.clear()
            self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Run the next round now instead of after the poll interval."""
        self._wake.set()

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Let the round in progress finish (up to ``grace_seconds``), then stop."""
        self.stopping.set()
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_seconds)
        except TimeoutError:
            self._log.warning("%s did not stop in time; cancelling it", self.name)
            self._task.cancel()

    def healthy(self) -> bool:
        """Running; no round stuck, and not every round failing, for ``stall_seconds``."""
        if self._task is None or self._task.done():
            return False
        now = time.monotonic()
        failing = self._failing_since
        if failing is not None and now - failing >= self._stall:
            return False  # a failure that never ends is not an outage to wait out silently
        started = self._round_started
        return started is None or now - started < self._stall

    async def _run(self) -> None:
        while not self.stopping.is_set():
            self._wake.clear()
            self._round_started = time.monotonic()
            try:
                busy = await self._round()
            except Exception as error:
                self._round_started = None
                self.failures += 1
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                if is_transient(error):
                    self._outage.failed(error)
                else:
                    self._log.error(
                        "%s round failed (%s); it carries on after a pause",
                        self.name,
                        type(error).__name__,
                        exc_info=error,
                    )
                await self._back_off(self._backoff.delay())
                continue
            self._round_started = None
            self._failing_since = None
            self.rounds += 1
            self._outage.recovered()
            self._backoff.reset()
            if not busy:
                await self._pause(self._poll)
            else:
                await asyncio.sleep(0)  # let other tasks in between busy rounds

    async def _back_off(self, seconds: float) -> None:
        # After a failure only stopping cuts the wait short, not a wake(): a relay woken by
        # every commit would otherwise retry a failing round at once, without backoff.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)


class LoopWorker:
    """A ``Worker`` that is one ``SupervisedLoop`` (``self._loop``, set by the subclass):
    started, stopped (the round in progress finished) and checked through it."""

    _loop: SupervisedLoop

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._loop.start()

    async def stop(self) -> None:
        """Finish the round in progress and stop."""
        await self._loop.stop()

    def healthy(self) -> bool:
        """Whether the loop runs and is not stuck."""
        return self._loop.healthy()

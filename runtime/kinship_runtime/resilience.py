"""Telling an outage from a bad record, and waiting out outages without flooding the logs.

A *transient* failure (PostgreSQL or Kafka unreachable, restarting, or asking for a retry)
goes away on its own: the work is retried with capped exponential backoff. Anything else is
a property of the work itself (an invalid value, a bug) and retrying it forever would stop a
partition: callers isolate it instead.

An outage is logged once when it starts and once when it ends, with the number of retries,
never once per attempt.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

T = TypeVar("T")

_TRANSIENT_DATABASE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    # What asyncpg raises when a query goes out on a connection the server closed in the
    # middle of an operation ("cannot switch to state 15; another operation (2) is in
    # progress"): seen on every fast shutdown of PostgreSQL under load (the chaos suite). A new
    # attempt gets another connection.
    asyncpg.exceptions.InternalClientError,
)


TRANSIENT_TYPES: tuple[type[Exception], ...] = (
    *_TRANSIENT_DATABASE_ERRORS,
    OSError,
    KafkaError,
)
"""Every exception class ``is_transient`` may accept (for Kafka, only retriable errors)."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` means "a dependency is away", not "this work is wrong"."""
    if isinstance(error, (*_TRANSIENT_DATABASE_ERRORS, OSError, TimeoutError)):
        return True
    if isinstance(error, KafkaConnectionError | KafkaTimeoutError):
        return True
    if isinstance(error, KafkaError):
        return bool(getattr(error, "retriable", False))
    return False


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter."""

    first: float = 0.2
    cap: float = 10.0
    jitter: Callable[[], float] = field(default=random.random)
    _next: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next = self.first

    def delay(self) -> float:
        """The next wait: up to twice the previous, at most ``cap``, jittered."""
        current = self._next
        self._next = min(self._next * 2, self.cap)
        return current / 2 + current / 2 * self.jitter()

    def reset(self) -> None:
        """Start again from ``first`` after a success."""
        self._next = self.first


class Outage:
    """Logs that ``what`` waits for a dependency: once at the start, once at the end."""

    def __init__(self, what: str, logger: logging.Logger) -> None:
        self._what = what
        self._log = logger
        self.retries = 0

    def failed(self, error: BaseException) -> None:
        """An attempt failed transiently."""
        if self.retries == 0:
            self._log.warning(
                "%s waits for a dependency (%s); retrying with backoff",
                self._what,
                type(error).__name__,
            )
        self.retries += 1

    def recovered(self) -> None:
        """An attempt succeeded: log the end of an outage, if there was one."""
        if self.retries:
            self._log.warning(
                "%s resumed after %d retries",
                self._what,
                self.retries,
                extra={"count": self.retries},
            )
            self.retries = 0


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    what: str,
    logger: logging.Logger,
    *,
    stopping: asyncio.Event | None = None,
    backoff: Backoff | None = None,
) -> T:
    """Run ``operation`` until it succeeds, waiting out transient failures.

    Holding the caller (and so a partition) is right for storage: nothing can be stored until
    the database is back, and offsets stay uncommitted meanwhile. Any non-transient error is
    raised at once. When ``stopping`` is set, the last transient error is raised instead of
    waiting again.
    """
    outage = Outage(what, logger)
    backoff = backoff or Backoff()
    while True:
        try:
            result = await operation()
        except Exception as error:
            if not is_transient(error) or (stopping is not None and stopping.is_set()):
                raise
            outage.failed(error)
            await _sleep(backoff.delay(), stopping)
            continue
        outage.recovered()
        return result


async def _sleep(seconds: float, stopping: asyncio.Event | None) -> None:
    if stopping is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)

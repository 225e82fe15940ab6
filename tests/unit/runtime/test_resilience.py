"""Outages are waited out and logged twice, not once per attempt (kinship_runtime.resilience)."""

import logging

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownTopicOrPartitionError

from kinship_runtime.resilience import Backoff, Outage, is_transient, retry_transient


@pytest.mark.parametrize(
    "error",
    [
        OSError("connection refused"),
        ConnectionResetError(),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.InterfaceError("connection is closed"),
        KafkaConnectionError(),
        KafkaTimeoutError(),
        UnknownTopicOrPartitionError(),  # retriable: a topic being created
    ],
    ids=lambda error: type(error).__name__,
)
def test_outages_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        OverflowError("date value out of range"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        asyncpg.exceptions.CheckViolationError("violates check"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        KeyError("x"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_bad_work_is_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


def test_backoff_doubles_up_to_its_cap_and_starts_again_after_a_reset() -> None:
    backoff = Backoff(first=0.2, cap=1.0, jitter=lambda: 1.0)
    assert [backoff.delay() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.delay() == 0.2


def test_full_jitter_waits_between_half_and_all_of_the_step() -> None:
    assert Backoff(first=1.0, jitter=lambda: 0.0).delay() == 0.5


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("test consumer", logging.getLogger("outage-test"))
    with caplog.at_level(logging.WARNING, "outage-test"):
        for _ in range(50):
            outage.failed(OSError())
        outage.recovered()
        outage.recovered()  # no outage in progress: nothing more to say
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "test consumer waits for a dependency (OSError); retrying with backoff",
        "test consumer resumed after 50 retries",
    ]


async def test_retry_transient_waits_out_an_outage_then_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float, _stopping: object = None) -> None:
        slept.append(seconds)

    monkeypatch.setattr("kinship_runtime.resilience._sleep", fake_sleep)
    failures = iter([OSError()] * 4)

    async def operation() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "stored"

    result = await retry_transient(
        operation, "test", logging.getLogger("t"), backoff=Backoff(jitter=lambda: 1.0)
    )
    assert result == "stored"
    assert slept == [0.2, 0.4, 0.8, 1.6]


async def test_retry_transient_raises_lasting_errors_at_once() -> None:
    calls = 0

    async def operation() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad record")

    with pytest.raises(ValueError, match="bad record"):
        await retry_transient(operation, "test", logging.getLogger("t"))
    assert calls == 1

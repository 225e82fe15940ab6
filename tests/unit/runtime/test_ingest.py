"""Storing a batch or isolating the record that cannot be stored (kinship_runtime.ingest)."""

from collections.abc import Sequence

import asyncpg
import pytest

from kinship_runtime.ingest import RECORD_TRIES, store_or_isolate
from kinship_runtime.records import Accepted
from tests.unit.fakes.kafka import FakeRecord


def accepted(*names: str) -> list[Accepted[str]]:
    return [Accepted(FakeRecord(name.encode(), offset=n), name) for n, name in enumerate(names)]


async def test_a_batch_the_store_refuses_is_retried_record_by_record_isolating_the_poison() -> None:
    stored: list[list[str]] = []

    async def store(items: Sequence[str]) -> None:
        if "poison" in items:
            raise ValueError("refused")
        stored.append(list(items))

    batch = accepted("a", "poison", "b")
    rejected = await store_or_isolate(batch, store, "test")
    assert stored == [["a"], ["b"]]
    assert [r.record for r in rejected] == [batch[1].record]
    assert rejected[0].reason == {"code": "processing_failed", "errors": [{"msg": "ValueError"}]}


async def test_a_poisonous_record_is_tried_a_bounded_number_of_times_then_dead_lettered() -> None:
    tries: list[str] = []

    async def store(items: Sequence[str]) -> None:
        tries.extend(items)
        if "poison" in items:
            raise OverflowError("date value out of range")

    rejected = await store_or_isolate(accepted("poison"), store, "test")
    assert tries == ["poison"] * (1 + RECORD_TRIES)  # the batch, then each lone try
    assert rejected[0].reason["errors"] == [{"msg": "OverflowError"}]


async def test_a_record_that_fails_once_then_succeeds_is_not_dead_lettered() -> None:
    calls = 0

    async def store(items: Sequence[str]) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise ValueError("flaky handler")

    assert await store_or_isolate(accepted("a"), store, "test") == []


async def test_a_database_error_on_one_record_is_isolated_too() -> None:
    async def store(items: Sequence[str]) -> None:
        if "bad" in items:
            raise asyncpg.exceptions.CheckViolationError("violates check")

    rejected = await store_or_isolate(accepted("ok", "bad"), store, "test")
    assert rejected[0].reason["errors"] == [{"msg": "CheckViolationError"}]


async def test_an_empty_batch_is_not_stored() -> None:
    async def store(items: Sequence[str]) -> None:
        raise AssertionError("must not be called")

    assert await store_or_isolate([], store, "test") == []


async def test_a_database_outage_holds_the_batch_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_sleep(_seconds: float, _stopping: object = None) -> None:
        return None

    monkeypatch.setattr("kinship_runtime.resilience._sleep", no_sleep)
    outages = iter([asyncpg.exceptions.CannotConnectNowError("starting up")] * 5)
    stored: list[list[str]] = []

    async def store(items: Sequence[str]) -> None:
        error = next(outages, None)
        if error is not None:
            raise error
        stored.append(list(items))

    assert await store_or_isolate(accepted("a", "b"), store, "test") == []
    assert stored == [["a", "b"]]  # one batch, after the outage: no record by record

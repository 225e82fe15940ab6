"""Idempotent consumers: each event id has one effect per consumer.

The ids are recorded in ``processed_events`` (the runtime's migration) in the same
transaction as the effect, so a redelivered or replayed event is recognised and skipped.
Handlers use :func:`first_seen` through their unit of work's ``first_time``; adapters
implement that with :func:`first_time`.
"""

from collections.abc import Sequence
from typing import Protocol, TypeVar

from kinship_runtime.database import Connection


async def first_time(conn: Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Mark events processed by ``consumer``; returns the ids never seen before."""
    if not event_ids:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_events (consumer, event_id)"
        " SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        list(event_ids),
    )
    return {row["event_id"] for row in rows}


class SeenEvents(Protocol):
    """What a unit of work offers to make a handler idempotent."""

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]: ...


class Identified(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=Identified)


async def first_seen(uow: SeenEvents, consumer: str, events: Sequence[E]) -> list[E]:
    """The events ``consumer`` never handled before, in order, once each (marked as handled
    in the caller's transaction): a repeat within the batch is a duplicate too."""
    fresh = await uow.first_time(consumer, [event.id for event in events])
    kept: list[E] = []
    for event in events:
        if event.id in fresh:
            fresh.discard(event.id)
            kept.append(event)
    return kept

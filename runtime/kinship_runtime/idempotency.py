"""Idempotent consumers: each event id has one effect per consumer.

The ids are recorded in ``processed_events`` (the runtime's migration) in the same
transaction as the effect, so a redelivered or replayed event is recognised and skipped.
"""

from collections.abc import Sequence

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

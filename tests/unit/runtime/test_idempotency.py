"""``first_seen``: each event once per consumer, however often it arrives."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from kinship_runtime.idempotency import first_seen


@dataclass(frozen=True)
class Event:
    id: str
    body: str = ""


@dataclass
class Log:
    """``processed_events`` in memory: per consumer, the ids seen."""

    seen: dict[str, set[str]] = field(default_factory=dict)

    async def first_time(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        known = self.seen.setdefault(consumer, set())
        fresh = set(event_ids) - known
        known.update(fresh)
        return fresh


async def test_new_events_are_kept_in_order_and_a_repeat_in_the_batch_is_dropped() -> None:
    batch = [Event("b"), Event("a"), Event("b", "again"), Event("c")]
    kept = await first_seen(Log(), "erasure", batch)
    assert kept == [Event("b"), Event("a"), Event("c")]


async def test_events_seen_before_are_dropped_for_that_consumer_only() -> None:
    log = Log()
    await first_seen(log, "erasure", [Event("a")])
    assert await first_seen(log, "erasure", [Event("a"), Event("d")]) == [Event("d")]
    assert await first_seen(log, "other", [Event("a")]) == [Event("a")]

"""The one way a service consumes a topic: ``ingest(broker, settings, container, subscription)``.

Every subscriber does the same things, declared once here:

1. take a batch from the topic's consumer group (batch size and wait from the settings;
   offsets committed only after the whole batch is handled: at-least-once);
2. parse it: each record becomes an event or a rejection with a reason;
3. store the events through the service's ``store`` function, whose other parameters are
   injected by dishka from a fresh request scope (a new unit of work for each attempt);
4. if storing fails for a reason that will not go away, retry record by record (a bounded
   number of tries each) so that one poisonous record never costs its neighbours; transient
   failures (database or broker away) are waited out instead, holding the partition;
5. dead-letter what could not be used (rejections only when this service is the topic's
   ``dead_letter_owner``: one owner per topic, declared in the contracts), wake the outbox
   relay, commit.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from inspect import Parameter
from typing import Generic, TypeVar

from dishka import AsyncContainer
from dishka.integrations.base import wrap_injection
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from kinship_contracts.topics import TopicSpec
from kinship_runtime.dead_letters import DeadLetters
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.records import (
    Accepted,
    Parse,
    Rejected,
    keep_raw_records,
    records_of,
    tolerant_parser,
)
from kinship_runtime.resilience import is_transient, retry_transient
from kinship_runtime.settings import KinshipSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

RECORD_TRIES = 3
"""How often one record is tried on its own before it is dead-lettered."""

_CONTAINER = Parameter("dishka_container", Parameter.KEYWORD_ONLY, annotation=AsyncContainer)


@dataclass(frozen=True)
class Subscription(Generic[T]):
    """A service's consumer of one registered topic.

    ``store`` is an async function whose first parameter receives the batch's events (a
    list); its other parameters are ``FromDishka[...]`` dependencies.
    """

    topic: TopicSpec
    purpose: str
    """Names the consumer group: ``<prefix>.<service>.<purpose>``."""
    parse: Parse[T]
    store: Callable[..., Awaitable[object]]
    description: str
    max_records: int | None = None
    """Batch size; the service's ``ingest_max_records`` when None."""


def ingest(
    broker: KafkaBroker,
    settings: KinshipSettings,
    container: AsyncContainer,
    subscription: Subscription[T],
) -> None:
    """Declare ``subscription``'s batch subscriber on ``broker``."""
    store = wrap_injection(
        func=subscription.store,
        container_getter=lambda _args, kwargs: kwargs["dishka_container"],
        is_async=True,
        additional_params=[_CONTAINER],
    )
    topic = subscription.topic
    consumer = settings.consumer_group(subscription.purpose)

    async def attempt(events: Sequence[T]) -> None:
        async with container() as request:
            await store(list(events), dishka_container=request)

    async def consume(message: KafkaMessage) -> None:
        accepted, rejected = subscription.parse(records_of(message))
        if topic.dead_letter_owner != settings.service_name:
            if rejected:
                log.info(
                    "skipped invalid records (another service dead-letters them)",
                    extra={"topic": topic.name, "count": len(rejected)},
                )
            rejected = []
        failed = await store_or_isolate(accepted, attempt, topic.name)
        if accepted:
            (await container.get(OutboxRelay)).wake()
        await (await container.get(DeadLetters)).send([*rejected, *failed])

    consume.__name__ = consume.__qualname__ = f"on_{subscription.purpose}"
    broker.subscriber(
        settings.topic(topic),
        group_id=consumer,
        title=f"{settings.service_name}.{subscription.purpose}",
        description=subscription.description,
        batch=True,
        max_records=subscription.max_records or settings.ingest_max_records,
        batch_timeout_ms=settings.ingest_batch_timeout_ms,
        fetch_min_bytes=settings.kafka_fetch_min_bytes,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_partition_fetch_bytes=settings.kafka_max_partition_fetch_bytes,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=tolerant_parser,
        decoder=keep_raw_records,
    )(consume)


async def store_or_isolate(
    items: Sequence[Accepted[T]],
    store: Callable[[Sequence[T]], Awaitable[None]],
    what: str,
) -> list[Rejected]:
    """Store a batch; if it fails for a lasting reason, try each record on its own.

    Records that still fail after ``RECORD_TRIES`` tries come back as rejections with the
    error's type (never its message, which may quote input). Transient failures are waited
    out at every step.
    """
    if not items:
        return []
    events = [item.event for item in items]
    try:
        await retry_transient(lambda: store(events), what, log)
        return []
    except Exception as error:
        log.warning(
            "%s: a batch failed (%s); trying its records one by one",
            what,
            type(error).__name__,
            extra={"count": len(items)},
        )
    rejected = []
    for item in items:
        error_type = await _store_alone(item, store, what)
        if error_type is not None:
            reason = {"code": "processing_failed", "errors": [{"msg": error_type}]}
            rejected.append(Rejected(item.record, reason))
    return rejected


async def _store_alone(
    item: Accepted[T], store: Callable[[Sequence[T]], Awaitable[None]], what: str
) -> str | None:
    last = "error"
    for _ in range(RECORD_TRIES):
        try:
            await retry_transient(lambda: store([item.event]), what, log)
            return None
        except Exception as error:
            if is_transient(error):  # pragma: no cover - retry_transient waits these out
                raise
            last = type(error).__name__
    log.error(
        "%s: a record failed %d times and is dead-lettered (%s)",
        what,
        RECORD_TRIES,
        last,
        extra={
            "topic": item.record.topic,
            "partition": item.record.partition,
            "offset": item.record.offset,
        },
    )
    return last

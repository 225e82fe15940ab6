"""End-to-end check-in throughput: submitted -> validated, persisted, recorded.

Needs the local stack with the check-in service running (``make up``). Publishes N check-ins
to ``wellbeing.checkins.submitted``, times until all N are on ``wellbeing.checkins.recorded``,
then runs a plain aiokafka consume-and-produce loop over the same broker with the same N
messages as the baseline, and prints both rates and their ratio.

    uv run python bench/checkin_throughput.py --count 50000
"""

import argparse
import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pipeline import produce  # the script's directory is on sys.path: bench/pipeline.py


def _payload(run: str, index: int) -> bytes:
    return json.dumps(
        {
            "id": f"bench-{run}-{index}",
            "person_id": f"bench-person-{index % 5000}",
            "occurred_at": "2026-11-24T09:00:00+00:00",
            "source": "bench",
            # Every rule is evaluated, none fires: the benchmark must not open cases or page
            # anyone on the stack it runs against.
            "mood": 3 + index % 3,
            "stress": 1 + (index * 7) % 4,
            "who5": [3, 3, 4, 3, 3],
        }
    ).encode()


async def _produce(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> None:
    # The load generator builds record batches per partition (keyed like send() would), so
    # it spends little CPU on the shared machine: the service, not the generator, is measured.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await producer.start()
    try:
        await produce(producer, topic, payloads)
    finally:
        await producer.stop()


async def _count_until(
    bootstrap: str, topic: str, prefix: bytes, want: int, started: asyncio.Event
) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        group_id=f"bench-{uuid.uuid4().hex}",
        max_poll_records=5000,
    )
    await consumer.start()
    # Produce only once partitions are assigned and their "latest" positions resolved, or
    # the first records could be skipped and the run would wait for nothing.
    while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no assignment event
        await asyncio.sleep(0.05)
    for partition in consumer.assignment():
        await consumer.position(partition)
    started.set()
    seen = 0
    try:
        while seen < want:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                seen += sum(1 for record in records if prefix in record.value)
        return time.perf_counter()
    finally:
        await consumer.stop()


async def kinship_rate(bootstrap: str, count: int) -> float:
    """Check-ins per second through the running check-in service."""
    run = uuid.uuid4().hex[:8]
    payloads = [(f"bench-person-{i % 5000}".encode(), _payload(run, i)) for i in range(count)]
    started = asyncio.Event()
    done = asyncio.create_task(
        _count_until(
            bootstrap, "wellbeing.checkins.recorded", f"bench-{run}-".encode(), count, started
        )
    )
    await started.wait()
    begin = time.perf_counter()
    await _produce(bootstrap, "wellbeing.checkins.submitted", payloads)
    return count / (await done - begin)


async def baseline_rate(bootstrap: str, count: int) -> float:
    """A plain aiokafka consume-and-produce loop (no validation, no database)."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench.baseline.{run}.in", f"bench.baseline.{run}.out"
    payloads = [(f"bench-person-{i % 5000}".encode(), _payload(run, i)) for i in range(count)]
    await _produce(bootstrap, source, payloads[:1])  # create the topics
    await _produce(bootstrap, sink, payloads[:1])
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        group_id=f"bench-{run}",
        max_poll_records=5000,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        acks="all",
        enable_idempotence=True,
        max_batch_size=256 * 1024,
    )
    await consumer.start()
    await producer.start()

    async def relay() -> None:
        moved = 0
        while moved < count:
            batch = await consumer.getmany(timeout_ms=500)
            futures = [
                await producer.send(sink, value=r.value, key=r.key)
                for records in batch.values()
                for r in records
            ]
            await asyncio.gather(*futures)
            moved += len(futures)
            await consumer.commit()

    started = asyncio.Event()
    done = asyncio.create_task(
        _count_until(bootstrap, sink, f"bench-{run}-".encode(), count, started)
    )
    await started.wait()
    await asyncio.sleep(1.0)
    relay_task = asyncio.create_task(relay())
    begin = time.perf_counter()
    await _produce(bootstrap, source, payloads)
    finished = await done
    relay_task.cancel()
    await consumer.stop()
    await producer.stop()
    return count / (finished - begin)


async def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--count", type=int, default=50_000)
    args = parser.parse_args()
    kinship = await kinship_rate(args.bootstrap, args.count)
    baseline = await baseline_rate(args.bootstrap, args.count)
    print(f"check-ins:                        {args.count}")
    print(f"kinship check-in service:         {kinship:,.0f} check-ins/s end to end")
    print(f"plain aiokafka consume->produce:  {baseline:,.0f} messages/s")
    print(f"ratio kinship/baseline:           {kinship / baseline:.2f}")


if __name__ == "__main__":
    asyncio.run(main())

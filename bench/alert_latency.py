"""Critical check-in → the on-call responder's webhook: latency, end to end.

Needs the local stack with the check-in, escalation and notifications services running
(``make up``). Runs a webhook receiver on loopback, registers a peer responder whose
webhook points at it, then posts critical check-ins over HTTP one at a time (each for a new
person, so each opens a case) and measures the time from the POST to the signed alert
arriving. ``--background`` streams ordinary check-ins into Kafka meanwhile (per second).
Prints p50, p90, p99 and max. Only the benchmark's responder is paged meanwhile (a
one-step policy, restored afterwards); the cases stay open: use it on a dev stack.

    uv run python bench/alert_latency.py --count 100
    uv run python bench/alert_latency.py --count 100 --background 5000
"""

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer

from kinship_devstack.demo import as_person
from kinship_devstack.receiver import DemoReceiver

AUTH = {"Authorization": "Bearer kinship-dev-key"}


async def _background(bootstrap: str, rate: int, stop: asyncio.Event) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    sent = 0
    try:
        while not stop.is_set():
            started = time.perf_counter()
            batch = rate // 10
            for _ in range(batch):
                who = f"bg-person-{sent % 5000}"
                body = {
                    "id": f"bg-{uuid.uuid4().hex}",
                    "person_id": who,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "source": "bench",
                    "mood": 4,
                }
                await producer.send(
                    "wellbeing.checkins.submitted",
                    json.dumps(body).encode(),
                    key=who.encode(),
                )
                sent += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - started)))
    finally:
        await producer.stop()
    return sent


async def main() -> None:
    """Measure and print the latency figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--background", type=int, default=0, help="check-ins/s streamed")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    receiver = DemoReceiver(
        os.environ.get("KINSHIP_WEBHOOK_SECRET", "kinship-dev-secret").encode(), port=8098
    )
    await receiver.start()
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    await producer.start()
    responder = f"bench-responder-{run}"
    person = {
        "person_id": responder,
        "display_name": "Bench",
        "team_id": "bench-care",
        "timezone": "UTC",
        "roles": ["peer_responder"],
        "channels": {"webhook": receiver.url(responder)},
        "active": True,
    }
    await producer.send_and_wait(
        "directory.people", json.dumps(person).encode(), key=responder.encode()
    )
    await asyncio.sleep(3)  # the directory reaches escalation and notifications
    # Only this responder is paged while the benchmark runs (a one-step policy with a long
    # timeout); the stack's policy is put back afterwards.
    # Policies are a coordinator's to change (issue 11: no service key may): the demo's
    # coordinator, cora, signs in as the demo does.
    async with httpx.AsyncClient(
        base_url="http://127.0.0.1:8002", headers=as_person("cora")
    ) as escalation:
        previous = (await escalation.get("/v1/policies/default")).json()
        only_us = {"steps": [{"target": f"person:{responder}", "timeout_seconds": 3600}]}
        (await escalation.put("/v1/policies/default", json=only_us)).raise_for_status()
    stop = asyncio.Event()
    background = (
        asyncio.create_task(_background(args.bootstrap, args.background, stop))
        if args.background
        else None
    )
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8001", headers=AUTH) as client:
        for index in range(args.count):
            body = {
                "id": f"latency-{run}-{index}",
                "person_id": f"latency-{run}-{index}",
                "occurred_at": datetime.now(UTC).isoformat(),
                "source": "bench",
                "phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1],
            }
            started = time.monotonic()
            response = await client.post("/v1/checkins", json=body)
            response.raise_for_status()
            while True:
                delivery = await asyncio.wait_for(receiver.arrived.get(), timeout=30)
                if delivery.kind == "alert" and delivery.recipient == responder:
                    latencies.append(delivery.at - started)
                    break
    stop.set()
    sent = await background if background else 0
    async with httpx.AsyncClient(
        base_url="http://127.0.0.1:8002", headers=as_person("cora")
    ) as escalation:
        (await escalation.put("/v1/policies/default", json=previous)).raise_for_status()
    # The benchmark's responder leaves the directory: nobody is paged at a dead port later.
    await producer.send_and_wait("directory.people", None, key=responder.encode())
    await producer.stop()
    await receiver.stop()
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    print(f"critical check-ins:  {len(latencies)} (background: {sent} check-ins streamed)")
    print(
        f"p50 {pct(0.5):.0f} ms  p90 {pct(0.9):.0f} ms  p99 {pct(0.99):.0f} ms  "
        f"max {ordered[-1] * 1000:.0f} ms  mean {statistics.mean(latencies) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())

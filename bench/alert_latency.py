"""Critical check-in → the on-call responder's webhook: latency, end to end.

Needs the local stack with the check-in, escalation and notifications services running
(``make up``). Runs a webhook receiver on loopback, registers a peer responder whose
webhook points at it, then posts critical check-ins over HTTP one at a time (each for a new
person, so each opens a case) and measures the time from the POST to the signed alert
arriving. ``--background`` streams ordinary check-ins into Kafka meanwhile (per second).
Prints p50, p90, p99 and max, and the same for each hop, from the Kafka records' create
times (one clock: everything runs on this machine): the check-in service's HTTP handler
(POST → ``recorded_at``), its outbox relay (→ the ``wellbeing.checkins.urgent`` record),
the escalation service (→ the alert request's ``created_at``), its commit and outbox relay
(→ the ``notifications.requests`` record) and the notifications service (→ the webhook
call). Only the benchmark's responder is paged meanwhile (a
one-step policy, restored afterwards); the cases stay open: use it on a dev stack.

    uv run python bench/alert_latency.py --count 100
    uv run python bench/alert_latency.py --count 100 --background 5000
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

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


class HopWatch:
    """When each critical check-in's records reached Kafka (their create times, wall clock)."""

    def __init__(self, bootstrap: str, responder: str) -> None:
        self._consumer = AIOKafkaConsumer(
            "wellbeing.checkins.urgent",
            "notifications.requests",
            bootstrap_servers=bootstrap,
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        self._responder = responder.encode()
        self.urgent: dict[str, float] = {}
        """Check-in id → its urgent record's create time."""
        self.recorded: dict[str, float] = {}
        """Check-in id → its ``recorded_at``."""
        self.requests: list[float] = []
        """Create times of the alert requests for the benchmark's responder, in order."""
        self.decided: list[float] = []
        """Their ``created_at``: when the escalation service decided to alert."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        for partition in self._consumer.assignment():
            await self._consumer.seek_to_end(partition)
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        async for record in self._consumer:
            created = record.timestamp / 1000
            if record.topic == "wellbeing.checkins.urgent" and record.value:
                event = json.loads(record.value)
                self.urgent.setdefault(event["id"], created)
                recorded = datetime.fromisoformat(event["recorded_at"]).timestamp()
                self.recorded.setdefault(event["id"], recorded)
            elif record.topic == "notifications.requests" and record.key == self._responder:
                self.requests.append(created)
                request = json.loads(record.value or b"{}")
                self.decided.append(datetime.fromisoformat(request["created_at"]).timestamp())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


def percentiles(values: list[float]) -> str:
    """p50, p90, p99 and max of seconds, in milliseconds."""
    if not values:
        return "no samples"
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return (
        f"p50 {pct(0.5):.0f} ms  p90 {pct(0.9):.0f} ms  p99 {pct(0.99):.0f} ms  "
        f"max {ordered[-1] * 1000:.0f} ms  mean {statistics.mean(values) * 1000:.0f} ms"
    )


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
    hops = HopWatch(args.bootstrap, responder)
    await hops.start()
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
    # Per check-in: (id, wall clock at the POST, wall clock at the webhook call).
    walls: list[tuple[str, float, float]] = []
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8001", headers=AUTH) as client:
        for index in range(args.count):
            checkin = f"latency-{run}-{index}"
            body = {
                "id": checkin,
                "person_id": f"latency-{run}-{index}",
                "occurred_at": datetime.now(UTC).isoformat(),
                "source": "bench",
                "phq9": [0, 0, 0, 0, 0, 0, 0, 0, 1],
            }
            started, wall = time.monotonic(), time.time()
            response = await client.post("/v1/checkins", json=body)
            response.raise_for_status()
            while True:
                delivery = await asyncio.wait_for(receiver.arrived.get(), timeout=30)
                if delivery.kind == "alert" and delivery.recipient == responder:
                    latencies.append(delivery.at - started)
                    walls.append((checkin, wall, wall + delivery.at - started))
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
    await hops.stop()
    print(f"critical check-ins:  {len(latencies)} (background: {sent} check-ins streamed)")
    print(f"POST → webhook:      {percentiles(latencies)}")
    # One alert request per critical check-in, in the order they were posted (one at a time).
    steps: dict[str, list[float]] = {
        name: [] for name in ("http", "relay", "escalation", "commit", "notify")
    }
    pairs = zip(walls, hops.requests, hops.decided, strict=False)
    for (checkin, posted, called), requested, decided in pairs:
        if checkin not in hops.urgent:
            continue
        recorded, urgent = hops.recorded[checkin], hops.urgent[checkin]
        steps["http"].append(recorded - posted)
        steps["relay"].append(urgent - recorded)
        steps["escalation"].append(decided - urgent)
        steps["commit"].append(requested - decided)
        steps["notify"].append(called - requested)
    print(f"hops measured:       {len(steps['http'])} (Kafka create times: millisecond clock)")
    print(f"  check-in HTTP:     {percentiles(steps['http'])}")
    print(f"  check-in relay:    {percentiles(steps['relay'])}")
    print(f"  escalation:        {percentiles(steps['escalation'])}")
    print(f"  its commit, relay: {percentiles(steps['commit'])}")
    print(f"  notifications:     {percentiles(steps['notify'])}")


if __name__ == "__main__":
    asyncio.run(main())

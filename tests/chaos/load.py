"""Check-ins streamed into a running platform the way its clients send them: over Kafka (a
producer that starts again and resends a batch, same ids, when the broker is away) and over
HTTP (a client that retries a submission, same id, after a 503 or a broken connection)."""

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from tests.chaos.harness import AUTH
from tests.kafka_reading import checkin

CRITICAL_PHQ9 = [1, 1, 1, 0, 0, 0, 0, 0, 2]
"""PHQ-9 with item 9 above 0: immediate risk."""


@dataclass
class Load:
    """The stream's state: what was sent (and acknowledged), what went wrong."""

    bootstrap: str
    topic: str
    checkin_url: str
    people: int = 200
    kafka_ids: set[str] = field(default_factory=set)
    http_ids: set[str] = field(default_factory=set)
    crisis_people: dict[str, str] = field(default_factory=dict)
    """Immediate-risk check-in id → person."""
    unexpected: list[tuple[str, int, str]] = field(default_factory=list)
    """HTTP answers a client must never see (a 5xx other than 503, a 4xx for valid input)."""
    kafka_retries: int = 0
    http_retries: int = 0
    retry_after_missing: int = 0
    alert_sent_at: dict[str, float] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _counter: "itertools.count[int]" = field(default_factory=itertools.count)
    _producer: AIOKafkaProducer | None = None
    _publishing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def expected(self) -> set[str]:
        return self.kafka_ids | self.http_ids

    # Kafka -----------------------------------------------------------------------------------

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                linger_ms=5,
                request_timeout_ms=10_000,
                retry_backoff_ms=300,
            )
            try:
                await asyncio.wait_for(producer.start(), 15)
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 5)
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)

    async def publish(self, bodies: list[dict[str, Any]]) -> None:
        """Publish until the broker acknowledged every one (resending the same ids)."""
        async with self._publishing:
            await self._publish(bodies)
        self.kafka_ids.update(b["id"] for b in bodies)

    async def _publish(self, bodies: list[dict[str, Any]]) -> None:
        while True:
            try:
                producer = await self._producer_started()
                await asyncio.wait_for(self._send_all(producer, bodies), 30)
                break
            except (KafkaError, OSError, TimeoutError):
                self.kafka_retries += 1
                await self._drop_producer()
                await asyncio.sleep(1)

    async def stream_kafka(self, per_second: float, batch: int = 25) -> None:
        """Ordinary check-ins over Kafka until ``stopping``."""
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                bodies = []
                for _ in range(batch):
                    n = next(self._counter)
                    bodies.append(checkin(f"k-{n}", f"p{n % self.people}", mood=3 + n % 3))
                await self.publish(bodies)
                await asyncio.sleep(max(0.0, batch / per_second - (time.monotonic() - started)))
        finally:
            await self._drop_producer()

    async def _send_all(self, producer: AIOKafkaProducer, bodies: list[dict[str, Any]]) -> None:
        futures = [
            await producer.send(
                self.topic, value=json.dumps(b).encode(), key=b["person_id"].encode()
            )
            for b in bodies
        ]
        await asyncio.gather(*futures)

    # HTTP ------------------------------------------------------------------------------------

    async def submit(self, client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        """POST until 202, as a well-behaved client: again after a 503 or a broken connection."""
        while True:
            try:
                response = await client.post(self.checkin_url, json=body, headers=AUTH)
            except httpx.TransportError:
                self.http_retries += 1
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 202:
                self.http_ids.add(body["id"])
                return
            if response.status_code == 503:
                self.http_retries += 1
                if "retry-after" not in response.headers:
                    self.retry_after_missing += 1
                await asyncio.sleep(0.5)  # shorter than Retry-After: the test has no time
                continue
            self.unexpected.append((body["id"], response.status_code, response.text[:200]))
            return

    async def stream_http(self, per_second: float, worker: int) -> None:
        """Ordinary check-ins over HTTP until ``stopping`` (one client of several)."""
        async with httpx.AsyncClient(timeout=10) as client:
            n = 0
            while not self.stopping.is_set():
                started = time.monotonic()
                person = f"p{(worker * 7919 + n) % self.people}"
                await self.submit(client, checkin(f"h-{worker}-{n}", person, mood=3 + n % 3))
                n += 1
                await asyncio.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))

    # Immediate risk --------------------------------------------------------------------------

    async def crisis(self, person: str, via: str) -> None:
        """One immediate-risk check-in by ``person``, over ``via`` ("http" or "kafka")."""
        body = checkin(f"risk-{person}", person, phq9=CRITICAL_PHQ9)
        self.crisis_people[body["id"]] = person
        self.alert_sent_at[person] = time.monotonic()
        if via == "kafka":
            await self.publish([body])
        else:
            async with httpx.AsyncClient(timeout=10) as client:
                await self.submit(client, body)

"""Kafka stand-ins for unit tests: consumed records and an acknowledging producer."""

import asyncio
from dataclasses import dataclass, field


@dataclass
class FakeRecord:
    """The parts of an aiokafka ``ConsumerRecord`` that ingestion reads."""

    value: bytes | None
    key: bytes | None = b"key"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "wellbeing.checkins.submitted"
    partition: int = 0
    offset: int = 0


@dataclass
class SentRecord:
    """A record handed to the fake producer."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]


class FakeProducer:
    """Stands in for ``AIOKafkaProducer.send``: returns an already acknowledged future."""

    def __init__(self) -> None:
        self.sent: list[SentRecord] = []

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> "asyncio.Future[None]":
        self.sent.append(SentRecord(topic, value, key, list(headers or [])))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

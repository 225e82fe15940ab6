"""Kafka stand-ins for unit tests: consumed records and an acknowledging producer."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kinship_runtime.dead_letters import Sealed


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
class Timed(FakeRecord):
    """A consumed record with its Kafka timestamp (milliseconds since the epoch; -1: none)."""

    timestamp: int = -1


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


class ClearSealer:
    """Stands in for ``DeadLetterKeys``: keeps dead letters' bytes as they were (the real
    sealing is tested against PostgreSQL), each under a key id of its own."""

    def __init__(self) -> None:
        self.sealed: list[Any] = []

    async def seal(self, records: Sequence[Any]) -> list[Sealed]:
        self.sealed += records
        start = len(self.sealed) - len(records)
        return [Sealed(f"dlk-{start + n}", r.value, None) for n, r in enumerate(records)]

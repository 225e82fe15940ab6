"""The chaos suite's harness: the four services as real processes, their consumer groups'
lag read from the broker, and faults (SIGKILL a service, restart Kafka or PostgreSQL).

Everything here looks at the platform from outside: HTTP (``/readyz``, ``/asyncapi.json``),
Kafka (consumer-group offsets, end offsets) and row counts in each service's schema.
"""

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from kinship_devstack.stack import LocalStack
from kinship_notifications.domain.signing import endpoint_secret
from tests.escalation_support import escalation_env
from tests.processes import ServiceProcess
from tests.receivers import WEBHOOK_SECRET, Received, WebhookReceiver

API_KEY = "test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}

SERVICES = {
    "checkin": ("kinship_checkin", "c"),
    "escalation": ("kinship_escalation", "e"),
    "notifications": ("kinship_notifications", "n"),
    "recognition": ("kinship_recognition", "r"),
}
"""Service name → (module, schema suffix)."""


def schema_of(service_env: dict[str, str], service: str) -> str:
    """The schema a service of this test owns (dropped with the test's schemas)."""
    return f"{service_env['KINSHIP_DATABASE_SCHEMA']}_{SERVICES[service][1]}"


def platform_env(service_env: dict[str, str], service: str) -> dict[str, str]:
    """One service's environment: the test's topics and groups, its own schema, short
    timers, webhooks signed with ``WEBHOOK_SECRET``, and no acknowledgement timeout within a
    test's lifetime (each case is alerted once, at step 1)."""
    return escalation_env(service_env) | {
        "KINSHIP_DATABASE_SCHEMA": schema_of(service_env, service),
        "KINSHIP_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KINSHIP_ACK_TIMEOUT_SECONDS": "3600",
        "KINSHIP_CONTACT_TIMEOUT_SECONDS": "7200",
        "KINSHIP_SMTP_HOST": "127.0.0.1",
        "KINSHIP_SMTP_PORT": "9",  # nothing listens: no email channel is used
        "KINSHIP_DELIVERY_TIMEOUT_SECONDS": "5",
        "KINSHIP_DELIVERY_LEASE_SECONDS": "8",
        "KINSHIP_DELIVERY_POLL_SECONDS": "0.2",
        "KINSHIP_RETRY_BASE_SECONDS": "0.2",
        "KINSHIP_RETRY_MAX_SECONDS": "2",
        "KINSHIP_DELIVERY_MAX_ATTEMPTS": "50",
        "KINSHIP_TIMER_POLL_SECONDS": "0.2",
        "KINSHIP_GRACEFUL_TIMEOUT_SECONDS": "5",
        "KINSHIP_CHECKIN_API_KEY": API_KEY,
        "KINSHIP_LOG_LEVEL": "INFO",
    }


@dataclass
class Platform:
    """The four services as processes; ``kill``/``start`` one, ask each for ``/readyz``."""

    processes: dict[str, ServiceProcess]

    @classmethod
    def of(
        cls, service_env: dict[str, str], logs: Path, only: Iterable[str] = SERVICES
    ) -> "Platform":
        processes: dict[str, ServiceProcess] = {}
        names = list(only)
        for name in names:
            module, _suffix = SERVICES[name]
            processes[name] = ServiceProcess(
                platform_env(service_env, name), logs / f"{name}.log", module=module
            )
        if "checkin" in processes:  # the other services' vault client points at it
            url = f"http://127.0.0.1:{processes['checkin'].port}"
            for name, process in processes.items():
                if name != "checkin":
                    process.env["KINSHIP_CHECKIN_URL"] = url
        return cls(processes)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.processes[service].port}{path}"

    async def start(self, *names: str, timeout: float = 240.0) -> None:
        """Start services (all by default) and wait until each is ready."""
        chosen = names or tuple(self.processes)
        for name in chosen:
            self.processes[name].start()
        await asyncio.gather(*(self.processes[n].ready(timeout) for n in chosen))

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        self.processes[name].stop()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()

    async def readiness(self) -> dict[str, tuple[int, Any]]:
        """Each service's ``/readyz`` status code and body (-1 when it does not answer)."""
        answers: dict[str, tuple[int, Any]] = {}
        async with httpx.AsyncClient(timeout=5) as client:
            for name in self.processes:
                try:
                    response = await client.get(self.url(name, "/readyz"))
                    answers[name] = (response.status_code, response.json())
                except (httpx.HTTPError, ValueError) as error:
                    answers[name] = (-1, type(error).__name__)
        return answers

    async def wait_ready(self, timeout: float = 90.0) -> dict[str, tuple[int, Any]]:
        """``/readyz`` of every service, polled until all are 200 (or the timeout)."""
        deadline = time.monotonic() + timeout
        answers = await self.readiness()
        while time.monotonic() < deadline and any(code != 200 for code, _ in answers.values()):
            await asyncio.sleep(0.5)
            answers = await self.readiness()
        return answers

    def logs(self, lines: int = 40) -> str:
        parts = []
        for name, process in self.processes.items():
            text = process.log.read_text(errors="replace") if process.log.exists() else ""
            parts.append(f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)


def receive_operations(document: dict[str, Any], group_prefix: str) -> dict[str, str]:
    """Consumer group → topic, from a service's AsyncAPI document: its ``receive``
    operations are named ``<service>.<purpose>``, and the group is ``<prefix>.<that>``."""
    found: dict[str, str] = {}
    for name, operation in document["operations"].items():
        if operation["action"] == "receive":
            channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
            found[f"{group_prefix}.{name}"] = document["channels"][channel]["address"]
    return found


async def consumer_operations(urls: Iterable[str], group_prefix: str) -> dict[str, str]:
    """Consumer group → topic of every service at ``urls`` (their ``/asyncapi.json``)."""
    found: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for url in urls:
            document = (await client.get(f"{url}/asyncapi.json")).json()
            found |= receive_operations(document, group_prefix)
    return found


async def consumer_lag(bootstrap: str, groups: dict[str, str]) -> dict[str, int]:
    """Records each consumer group has not committed yet on its topic (end - committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await admin.start()
        await consumer.start()
        lags: dict[str, int] = {}
        for group, topic in groups.items():
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
            ends = await consumer.end_offsets(assignment) if assignment else {}
            committed = await admin.list_consumer_group_offsets(group)
            lag = 0
            for tp in assignment:
                done = committed.get(tp)
                position = done.offset if done is not None and done.offset >= 0 else 0
                lag += max(0, ends[tp] - position)
            lags[group] = lag
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def wait_for_no_lag(
    bootstrap: str, groups: dict[str, str], timeout: float = 60.0
) -> dict[str, int]:
    """Polls ``consumer_lag`` until every group has caught up (or the timeout)."""
    deadline = time.monotonic() + timeout
    lags = await consumer_lag(bootstrap, groups)
    while time.monotonic() < deadline and any(lags.values()):
        await asyncio.sleep(1.0)
        lags = await consumer_lag(bootstrap, groups)
    return {group: lag for group, lag in lags.items() if lag}


def signed(item: Received, master: str = WEBHOOK_SECRET) -> bool:
    """Whether a webhook carries a valid ``X-Kinship-Signature`` of its body, made with the
    secret of the endpoint it was sent to (derived from the service's webhook secret)."""
    url = f"http://{item.headers.get('host', '')}{item.path}"
    secret = endpoint_secret(master.encode(), url).encode()
    expected = hmac.new(secret, item.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(item.headers.get("x-kinship-signature", ""), f"sha256={expected}")


def alerts_seen(receiver: WebhookReceiver) -> dict[str, list[Received]]:
    """Accepted, signed alert webhooks by alert id: what a receiver acts on, once per id."""
    by_alert: dict[str, list[Received]] = {}
    for item in receiver.received:
        if not item.accepted or item.headers.get("x-kinship-kind") != "alert":
            continue
        body = json.loads(item.body)
        by_alert.setdefault(str(body["alert_id"]), []).append(item)
    return by_alert


@dataclass
class Faults:
    """Kafka and PostgreSQL of the test stack, stopped and started under a running platform."""

    stack: LocalStack
    log: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.log.append((time.monotonic(), what))
        print(f"[{time.strftime('%H:%M:%S')}] {what}", flush=True)  # shown with pytest -s

    async def restart_kafka(self, down_seconds: float = 2.0) -> None:
        """SIGKILL the broker, leave it down a moment, start it and wait for it."""
        self.note("kafka: SIGKILL")
        await self.stack.stop_kafka(kill=True)
        await asyncio.sleep(down_seconds)
        await self.stack.start_kafka(timeout=240)  # recovery after SIGKILL, on a busy machine
        self.note("kafka: back")

    async def restart_postgres(self, times: int = 1, pause: float = 1.0) -> None:
        """Stop PostgreSQL (fast shutdown: sessions are cut) and start it, ``times`` times."""
        for _ in range(times):
            self.note("postgres: stop")
            await self.stack.stop_postgres()
            await asyncio.sleep(pause / 2)
            await self.stack.start_postgres()
            self.note("postgres: back")
            await asyncio.sleep(pause)

    async def heal(self) -> None:
        """Make sure both run again (after a test that failed mid-fault)."""
        await self.stack.start_infra()


def log_entries(path: Path, *levels: str) -> list[dict[str, Any]]:
    """A service's JSON log lines at ``levels`` (every level when none is given)."""
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and (not levels or entry.get("level") in levels):
            entries.append(entry)
    return entries

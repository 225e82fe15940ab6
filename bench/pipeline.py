"""The whole pipeline, end to end (issue 17): N check-ins published to the ingestion topic
(and optionally some over HTTP), timed until every one is recorded by the check-in service
AND evaluated by escalation AND counted by recognition.

"Evaluated" and "counted" are read from the broker: a service commits a batch's offsets only
after the batch's unit of work committed (``kinship_runtime.ingest``), so a consumer group's
committed offset passing a record means the record was handled. The script polls the
committed offsets of the three groups (check-in on the submitted topic, escalation and
recognition on the recorded topic) and reads the recorded topic itself to know at which
offset each check-in landed: that gives each check-in's submitted → evaluated latency
(to the poll interval, 50 ms by default).

In the same run it measures a plain aiokafka consume → produce loop over the same broker
with the same N messages (the baseline), and prints the ratio, and each process's peak RSS
and CPU share (CPU seconds over the run's wall seconds: 1.00 is one core), PostgreSQL (all
its backends) and Kafka included, and how much CPU the rest of the machine used meanwhile
(other people's work on a shared machine: the figure to quote next to the rate).

It starts the four services as processes (``--replicas 2``: two of each consuming service:
check-in, escalation, recognition) on the test stack's Kafka and PostgreSQL
(``KINSHIP_TEST_KAFKA_PORT``/``KINSHIP_TEST_POSTGRES_PORT``, state under
``.kinship/test-stack``, shared with test sessions like ``tests/conftest.py`` does), in
schemas and topics of its own that it removes at the end. Not part of ``make test``.

    uv run python bench/pipeline.py --count 20000               # a short run
    uv run python bench/pipeline.py --count 100000 --replicas 2 --runs 3
    uv run python bench/pipeline.py --count 20000 --profile escalation   # py-spy SVG
"""

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the chaos suite's harness lives in tests/chaos

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from kinship_devstack.stack import LocalStack, StackConfig  # noqa: E402
from kinship_runtime.identity import all_scopes_key  # noqa: E402
from kinship_runtime.kafka import KeyHashPartitioner  # noqa: E402
from tests.chaos.harness import AUTH, SERVICES, platform_env, receive_operations  # noqa: E402
from tests.processes import ServiceProcess  # noqa: E402

NOTE_KEY = "bm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4="  # base64 of 32 bytes, test only
CONSUMING = ("checkin", "escalation", "recognition")
"""The services ``--replicas`` multiplies (notifications sees only what escalation sends)."""
SUBMITTED = "wellbeing.checkins.submitted"
RECORDED = "wellbeing.checkins.recorded"


# ---- the platform ---------------------------------------------------------------------------


@dataclass
class Platform:
    """The services as processes: ``name`` → its replicas."""

    env: dict[str, str]
    replicas: dict[str, list[ServiceProcess]]

    @classmethod
    def of(
        cls, service_env: dict[str, str], logs: Path, replicas: int, http_port: int
    ) -> "Platform":
        processes: dict[str, list[ServiceProcess]] = {}
        for index, name in enumerate(SERVICES):
            module = SERVICES[name][0]
            count = replicas if name in CONSUMING else 1
            for replica in range(count):
                process = ServiceProcess(
                    platform_env(service_env, name), logs / f"{name}-{replica}.log", module
                )
                # Ports of this benchmark's own: first replicas on http_port.., others +10.
                process.port = http_port + index + 10 * replica
                process.env["KINSHIP_HTTP_PORT"] = str(process.port)
                processes.setdefault(name, []).append(process)
        vault = f"http://127.0.0.1:{processes['checkin'][0].port}"
        for name, group in processes.items():
            for process in group:
                if name != "checkin":
                    process.env["KINSHIP_CHECKIN_URL"] = vault
        return cls(service_env, processes)

    def all(self) -> Iterable[tuple[str, ServiceProcess]]:
        for name, group in self.replicas.items():
            for replica, process in enumerate(group):
                yield f"{name}-{replica}", process

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.replicas[service][0].port}{path}"

    async def start(self) -> None:
        for _, process in self.all():
            process.start()
        await asyncio.gather(*(process.ready(240.0) for _, process in self.all()))

    def stop(self) -> None:
        for _, process in self.all():
            process.stop()

    async def groups(self) -> dict[str, str]:
        """Consumer group → topic of every service (from its ``/asyncapi.json``)."""
        found: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for name in self.replicas:
                document = (await client.get(self.url(name, "/asyncapi.json"))).json()
                found |= receive_operations(document, self.env["KINSHIP_CONSUMER_GROUP_PREFIX"])
        return found


def platform_service_env(stack: LocalStack, run_id: str) -> dict[str, str]:
    return {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "KINSHIP_DATABASE_URL": stack.database_url,
        "KINSHIP_DATABASE_SCHEMA": f"bench_{run_id}",
        "KINSHIP_TOPIC_PREFIX": f"bench{run_id}.",
        "KINSHIP_CONSUMER_GROUP_PREFIX": f"bench{run_id}",
        "KINSHIP_API_KEYS": all_scopes_key("tests", "test-key"),
        "KINSHIP_NOTE_KEYS": f"t1:{NOTE_KEY}",
        "KINSHIP_NOTE_KEY_ID": "t1",
        "KINSHIP_ENV": "dev",
        "KINSHIP_LOG_LEVEL": "WARNING",
        "KINSHIP_RATE_LIMIT_PER_KEY": "1000000/minute",
        "KINSHIP_RATE_LIMIT_PER_PERSON": "100000/minute",
    }


@contextlib.asynccontextmanager
async def test_stack(kafka_port: int, postgres_port: int) -> AsyncIterator[LocalStack]:
    """The test stack (``tests/conftest.py``'s: same state directory, same lock protocol:
    the last user out stops it)."""
    stack = LocalStack(
        StackConfig(
            state_dir=REPO / ".kinship" / "test-stack",
            kafka_port=kafka_port,
            postgres_port=postgres_port,
        )
    )
    stack.state.mkdir(parents=True, exist_ok=True)
    with (stack.state / "sessions.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        await stack.start_infra()
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield stack
        finally:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # a test session still uses the stack
            else:
                await stack.stop_infra()


async def clean(stack: LocalStack, env: dict[str, str]) -> None:
    """Drop the run's schemas and delete its topics."""
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(stack.database_url)
        try:
            for row in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 || '%'",
                env["KINSHIP_DATABASE_SCHEMA"],
            ):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
        finally:
            await conn.close()
    with contextlib.suppress(Exception):
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
        await admin.start()
        try:
            prefix = env["KINSHIP_TOPIC_PREFIX"]
            mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()


# ---- processes: CPU and memory --------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """Resident memory (``VmRSS``) or its peak (``VmHWM``) of a process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(parent: int) -> list[int]:
    """Direct children of a process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class Watched:
    """Processes whose CPU and memory a run reports: name → pids (PostgreSQL: many)."""

    pids: dict[str, list[int]]
    cpu_start: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    busy_start: float = 0.0
    started: float = 0.0

    def cpu(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self.pids.items()}

    def begin(self) -> None:
        self.cpu_start = self.cpu()
        self.busy_start = machine_busy_seconds()
        self.started = time.perf_counter()
        self.sample()

    def sample(self) -> None:
        for name, pids in self.pids.items():
            mb = sum(rss_mb(pid) for pid in pids)
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mb)

    def figures(self, count: int) -> dict[str, Any]:
        wall = time.perf_counter() - self.started
        used = {name: cpu - self.cpu_start[name] for name, cpu in self.cpu().items()}
        busy = machine_busy_seconds() - self.busy_start
        ours = sum(used.values())
        return {
            "cpu_share": {name: round(seconds / wall, 2) for name, seconds in used.items()},
            # CPU time per check-in hardly depends on how busy the machine is: the figure to
            # compare changes by on a shared machine (the rate is the one to quote).
            "cpu_us_per_checkin": {
                name: round(seconds / count * 1e6) for name, seconds in used.items()
            },
            "peak_rss_mb": {name: round(mb, 1) for name, mb in self.peak_mb.items()},
            "machine_cpu_share": round(busy / wall, 2),
            "others_cpu_share": round(max(0.0, busy - ours) / wall, 2),
        }


def watched(stack: LocalStack, platform: Platform, me: int) -> Watched:
    pids: dict[str, list[int]] = {}
    for name, process in platform.all():
        assert process.process is not None
        pids[name] = [process.process.pid]
    postmaster = stack.state / "postgres" / "data" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError):
        master = int(postmaster.read_text().split()[0])
        pids["postgresql"] = [master, *children(master)]
    with contextlib.suppress(OSError, ValueError):
        pids["kafka"] = [int((stack.state / "kafka" / "kafka.pid").read_text().strip())]
    pids["load+bench"] = [me]
    return Watched(pids)


# ---- the load -------------------------------------------------------------------------------


def checkin_body(run: str, index: int, people: int) -> dict[str, Any]:
    """An ordinary check-in: every rule is evaluated, none fires (no case, no page)."""
    return {
        "id": f"bench-{run}-{index}",
        "person_id": f"bench-person-{index % people}",
        "occurred_at": "2026-11-24T09:00:00+00:00",
        "source": "bench",
        "mood": 3 + index % 3,
        "stress": 1 + (index * 7) % 4,
        "who5": [3, 3, 4, 3, 3],
    }


async def produce(
    producer: AIOKafkaProducer,
    topic: str,
    payloads: Sequence[tuple[bytes, bytes]],
) -> None:
    """Record batches per partition, keyed as ``send()`` would: the generator spends little
    CPU on the shared machine, so the services, not the load, are measured."""
    partitions = sorted(await producer.partitions_for(topic))
    choose = KeyHashPartitioner()
    batches: dict[int, Any] = {}
    futures = []
    for key, value in payloads:
        partition = choose(key, partitions, partitions)
        batch = batches.get(partition)
        if batch is None or batch.append(key=key, value=value, timestamp=None) is None:
            if batch is not None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[partition] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    for partition, batch in batches.items():
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)


async def submit_http(url: str, bodies: Sequence[dict[str, Any]], clients: int) -> int:
    """POST check-ins with ``clients`` concurrent clients; returns how many were refused."""
    queue = list(bodies)
    refused = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal refused
        while queue:
            body = queue.pop()
            while True:
                response = await client.post(url, json=body, headers=AUTH)
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.2)
            refused += response.status_code != 202

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return refused


# ---- consumer-group progress ----------------------------------------------------------------


async def committed(admin: AIOKafkaAdminClient, group: str) -> dict[int, int]:
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def end_offsets(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    return {tp.partition: offset for tp, offset in ends.items()}


def passed(done: dict[int, int], targets: dict[int, int]) -> bool:
    return all(done.get(p, 0) >= offset for p, offset in targets.items())


@dataclass
class Progress:
    """When each group got past each of our records."""

    recorded_at: dict[tuple[int, int], int] = field(default_factory=dict)
    """(partition, offset) on the recorded topic → index of the check-in."""
    evaluated: dict[int, float] = field(default_factory=dict)
    """Check-in index → when escalation's committed offset passed it."""
    done_at: dict[str, float] = field(default_factory=dict)
    """Stage → when every check-in had passed it."""
    waiting: dict[int, deque[tuple[int, int]]] = field(default_factory=dict)
    """Partition → (offset, index) of check-ins not yet evaluated, in offset order."""
    recorded_targets: dict[int, int] | None = None
    """Partition → offset past the last of our records, once all were located."""


async def read_recorded(
    bootstrap: str,
    topic: str,
    run: str,
    count: int,
    progress: Progress,
    ready: asyncio.Event,
    id_prefix: str | None = None,
) -> None:
    """Where each of this run's check-ins landed on the recorded topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await consumer_partitions(consumer, topic)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        ready.set()
        # This run's check-ins: ids "bench-<run>-<index>" (or any id starting with id_prefix,
        # numbered as they come).
        marker = f'"{id_prefix or f"bench-{run}-"}'.encode()
        while len(progress.recorded_at) < count:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    value = record.value or b""
                    start = value.find(marker)
                    if start < 0:
                        continue
                    end = value.index(b'"', start + len(marker))
                    tail = value[start + len(marker) : end]
                    index = int(tail) if id_prefix is None else len(progress.recorded_at)
                    progress.recorded_at[(tp.partition, record.offset)] = index
                    progress.waiting.setdefault(tp.partition, deque()).append(
                        (record.offset, index)
                    )
        progress.done_at["recorded (seen on the topic)"] = time.perf_counter()
    finally:
        await consumer.stop()


async def consumer_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    return sorted(await end_offsets(consumer, topic))


def located(progress: Progress, count: int) -> dict[int, int] | None:
    """Once all ``count`` check-ins were seen on the recorded topic: partition → offset past
    the last of them (what escalation and recognition must commit)."""
    if progress.recorded_targets is None and len(progress.recorded_at) >= count:
        targets: dict[int, int] = {}
        for partition, offset in progress.recorded_at:
            targets[partition] = max(targets.get(partition, 0), offset + 1)
        progress.recorded_targets = targets
    return progress.recorded_targets


async def watch_groups(
    bootstrap: str,
    stages: dict[str, tuple[str, str]],
    submitted_targets: dict[int, int],
    count: int,
    progress: Progress,
    watch: Watched,
    every: float,
) -> None:
    """Polls the groups' committed offsets until all stages passed every check-in."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        while len(progress.done_at) < len(stages) + 1:
            now = time.perf_counter()
            watch.sample()
            recorded_targets = located(progress, count)
            for stage, (group, _topic) in stages.items():
                if stage in progress.done_at:
                    continue
                done = await committed(admin, group)
                if stage == "escalation":
                    for partition, waiting in progress.waiting.items():
                        while waiting and waiting[0][0] < done.get(partition, 0):
                            progress.evaluated[waiting.popleft()[1]] = now
                targets = submitted_targets if stage == "checkin" else recorded_targets
                if targets is not None and passed(done, targets):
                    progress.done_at[stage] = now
            await asyncio.sleep(every)
    finally:
        await admin.close()


# ---- one measurement ------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


async def pipeline_run(
    stack: LocalStack,
    platform: Platform,
    groups: dict[str, str],
    args: argparse.Namespace,
    watch: Watched,
) -> dict[str, Any]:
    prefix = platform.env["KINSHIP_TOPIC_PREFIX"]
    submitted, recorded = prefix + SUBMITTED, prefix + RECORDED
    stages = {
        name: next((g, t) for g, t in groups.items() if g.split(".")[1] == name and t == topic)
        for name, topic in (
            ("checkin", submitted),
            ("escalation", recorded),
            ("recognition", recorded),
        )
    }
    run = uuid.uuid4().hex[:8]
    count, over_http = args.count, min(args.http, args.count)
    bodies = [checkin_body(run, i, args.people) for i in range(count)]
    kafka_payloads = [(b["person_id"].encode(), json.dumps(b).encode()) for b in bodies[over_http:]]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, linger_ms=20, acks=1)
    probe = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers)
    await producer.start()
    await probe.start()
    progress = Progress()
    ready = asyncio.Event()
    reader = asyncio.create_task(
        read_recorded(stack.bootstrap_servers, recorded, run, count, progress, ready)
    )
    await ready.wait()
    before = await end_offsets(probe, submitted)
    submitted_at: list[float] = [0.0] * count
    watch.begin()
    begin = time.perf_counter()
    http_task = None
    if over_http:
        url = platform.url("checkin", "/v1/checkins")
        http_task = asyncio.create_task(submit_http(url, bodies[:over_http], args.http_clients))
        for i in range(over_http):
            submitted_at[i] = begin  # queued at the start; the HTTP clients drain the queue
    # Publish in slices (at ``--rate`` when given): each check-in's submit time is its slice's.
    step = 2000 if not args.rate else max(1, int(args.rate / 20))
    for start in range(0, len(kafka_payloads), step):
        if args.rate:
            due = begin + start / args.rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        at = time.perf_counter()
        for i in range(over_http + start, over_http + min(start + step, len(kafka_payloads))):
            submitted_at[i] = at
        await produce(producer, submitted, kafka_payloads[start : start + step])
    published = time.perf_counter()
    refused = await http_task if http_task is not None else 0
    after = await end_offsets(probe, submitted)
    await probe.stop()
    await producer.stop()
    targets = {p: offset for p, offset in after.items() if offset > before.get(p, 0)}
    watcher = asyncio.create_task(
        watch_groups(stack.bootstrap_servers, stages, targets, count, progress, watch, args.poll)
    )
    try:
        await asyncio.wait_for(asyncio.gather(reader, watcher), args.timeout)
    except TimeoutError:
        print(
            f"timed out: stages done {sorted(progress.done_at)}, "
            f"recorded seen {len(progress.recorded_at)}/{count}",
            file=sys.stderr,
        )
        raise
    end = max(progress.done_at.values())
    latencies = [progress.evaluated[i] - submitted_at[i] for i in progress.evaluated]
    return {
        "count": count,
        "over_http": over_http,
        "http_refused": refused,
        "publish_seconds": round(published - begin, 2),
        "seconds": round(end - begin, 2),
        "rate": count / (end - begin),
        "stage_seconds": {k: round(v - begin, 2) for k, v in sorted(progress.done_at.items())},
        "evaluated_latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000),
            "p99": round(percentile(latencies, 99) * 1000),
            "max": round(max(latencies, default=float("nan")) * 1000),
        },
        **watch.figures(count),
    }


async def baseline_rate(bootstrap: str, count: int, people: int) -> float:
    """A plain aiokafka consume → produce loop (no validation, no database), the same N
    messages over the same broker: what the hardware does with no service in the way."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench.baseline.{run}.in", f"bench.baseline.{run}.out"
    bodies = [checkin_body(run, i, people) for i in range(count)]
    payloads = [(b["person_id"].encode(), json.dumps(b).encode()) for b in bodies]
    loader = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await loader.start()
    for topic in (source, sink):  # create the topics
        await produce(loader, topic, payloads[:1])
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        group_id=f"bench-{run}",
        max_poll_records=5000,
        enable_auto_commit=False,
    )
    relay_producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        acks="all",
        enable_idempotence=True,
        max_batch_size=256 * 1024,
    )
    counter = AIOKafkaConsumer(
        sink, bootstrap_servers=bootstrap, auto_offset_reset="latest", group_id=f"bench-c-{run}"
    )
    await asyncio.gather(consumer.start(), relay_producer.start(), counter.start())
    try:
        for c in (consumer, counter):
            while not c.assignment():  # noqa: ASYNC110 - aiokafka offers no assignment event
                await asyncio.sleep(0.05)
            for tp in c.assignment():
                await c.position(tp)

        async def relay() -> None:
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                futures = [
                    await relay_producer.send(sink, value=r.value, key=r.key)
                    for records in batch.values()
                    for r in records
                ]
                await asyncio.gather(*futures)
                await consumer.commit()

        async def counted() -> float:
            marker, seen = f"bench-{run}-".encode(), 0
            while seen < count:
                batch = await counter.getmany(timeout_ms=500)
                seen += sum(marker in (r.value or b"") for rs in batch.values() for r in rs)
            return time.perf_counter()

        relay_task = asyncio.create_task(relay())
        done = asyncio.create_task(counted())
        begin = time.perf_counter()
        await produce(loader, source, payloads)
        finished = await done
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
        return count / (finished - begin)
    finally:
        await asyncio.gather(consumer.stop(), relay_producer.stop(), counter.stop(), loader.stop())
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics([source, sink])
        with contextlib.suppress(Exception):
            await admin.close()


def start_profiler(
    platform: Platform, service: str, out: Path, seconds: int, *, idle: bool = False
) -> Any:
    """``py-spy record`` on the service's first replica (if py-spy is installed); with
    ``idle``, waiting stacks are sampled too (where the wall time goes)."""
    spy = shutil.which("py-spy") or str(Path.home() / ".local" / "bin" / "py-spy")
    if not Path(spy).exists():
        print("py-spy not found (uv tool install py-spy): no profile", file=sys.stderr)
        return None
    process = platform.replicas[service][0].process
    assert process is not None
    return subprocess.Popen(  # noqa: S603 - py-spy on our own child process
        [
            spy,
            "record",
            "-p",
            str(process.pid),
            "-o",
            str(out),
            "-d",
            str(seconds),
            "-r",
            "50",
            *(["-f", "raw"] if out.suffix == ".txt" else []),
            *(["--idle"] if idle else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ---- the whole benchmark --------------------------------------------------------------------


async def warm_up(stack: LocalStack, platform: Platform, groups: dict[str, str]) -> None:
    """A few hundred check-ins through the platform first: connections, plans and caches."""
    args = argparse.Namespace(
        count=500, http=0, http_clients=1, people=500, rate=0.0, poll=0.1, timeout=180
    )
    watch = Watched({})
    await pipeline_run(stack, platform, groups, args, watch)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with test_stack(args.kafka_port, args.postgres_port) as stack:
        run_id = uuid.uuid4().hex[:8]
        env = platform_service_env(stack, run_id)
        logs = Path(tempfile.mkdtemp(prefix="kinship-pipeline-"))
        platform = Platform.of(env, logs, args.replicas, args.http_port)
        print(f"pipeline: {args.count} check-ins, {args.replicas} replica(s); logs in {logs}")
        try:
            await platform.start()
            groups = await platform.groups()
            await warm_up(stack, platform, groups)
            results = []
            for number in range(args.runs):
                watch = watched(stack, platform, os.getpid())
                profilers = {}
                for service in args.profile or ():
                    out = logs / f"profile-{service}-{number}.txt"
                    spy = start_profiler(
                        platform, service, out, args.profile_seconds, idle=args.profile_idle
                    )
                    if spy is not None:
                        profilers[str(out)] = spy
                figures = await pipeline_run(stack, platform, groups, args, watch)
                for out_path, spy in profilers.items():
                    spy.wait(timeout=args.profile_seconds + 60)
                    figures.setdefault("profiles", []).append(out_path)
                baseline = await baseline_rate(stack.bootstrap_servers, args.count, args.people)
                figures["baseline_rate"] = baseline
                figures["ratio"] = round(figures["rate"] / baseline, 3)
                report(number, figures)
                results.append(figures)
            rates = [r["rate"] for r in results]
            return {
                "replicas": args.replicas,
                "runs": results,
                "median_rate": statistics.median(rates),
            }
        finally:
            platform.stop()
            await clean(stack, env)


def report(number: int, figures: dict[str, Any]) -> None:
    print(f"\nrun {number + 1}: {figures['count']} check-ins ({figures['over_http']} over HTTP)")
    print(
        f"  end to end (recorded + evaluated + counted): {figures['rate']:,.0f} check-ins/s"
        f" in {figures['seconds']} s (published in {figures['publish_seconds']} s)"
    )
    print(f"  stages done after (s):            {figures['stage_seconds']}")
    print(f"  plain aiokafka consume->produce:  {figures['baseline_rate']:,.0f} messages/s")
    print(f"  ratio pipeline/baseline:          {figures['ratio']:.2f}")
    latency = figures["evaluated_latency_ms"]
    print(
        f"  submitted -> evaluated:           p50 {latency['p50']} ms, p99 {latency['p99']} ms,"
        f" max {latency['max']} ms"
    )
    print("  CPU share (1.00 = one core), CPU µs per check-in, peak RSS (PostgreSQL: the sum")
    print("  over its processes, shared buffers counted in each):")
    per_checkin = figures["cpu_us_per_checkin"]
    for name, share in figures["cpu_share"].items():
        mb = figures["peak_rss_mb"].get(name, 0.0)
        print(f"    {name:16s} {share:5.2f}  {per_checkin[name]:6d} µs  {mb:7.1f} MB")
    print(f"    {'all of the above':16s}        {sum(per_checkin.values()):6d} µs")
    print(
        f"  machine busy: {figures['machine_cpu_share']:.2f} cores, of which other people's"
        f" work {figures['others_cpu_share']:.2f}"
    )
    if figures.get("http_refused"):
        print(f"  HTTP submissions refused: {figures['http_refused']}")
    for path in figures.get("profiles", []):
        print(f"  profile (py-spy collapsed stacks; flamegraph.pl or speedscope read it): {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    parser.add_argument("--people", type=int, default=5000, help="distinct people checking in")
    parser.add_argument("--http", type=int, default=0, help="of the check-ins, sent over HTTP")
    parser.add_argument("--http-clients", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0, help="publish rate (0: at once)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between offset polls")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds for one run")
    parser.add_argument(
        "--kafka-port", type=int, default=int(os.environ.get("KINSHIP_TEST_KAFKA_PORT", "29192"))
    )
    parser.add_argument(
        "--postgres-port",
        type=int,
        default=int(os.environ.get("KINSHIP_TEST_POSTGRES_PORT", "25532")),
    )
    parser.add_argument("--http-port", type=int, default=31001, help="first service's port")
    parser.add_argument(
        "--profile", action="append", choices=sorted(SERVICES), help="py-spy a service (repeat)"
    )
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument(
        "--profile-idle", action="store_true", help="sample waiting stacks too (py-spy --idle)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(
        f"\nmedian end to end over {len(figures['runs'])} run(s): "
        f"{figures['median_rate']:,.0f} check-ins/s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

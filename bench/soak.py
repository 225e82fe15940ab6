"""Soak and chaos drill (issue 14), on demand: the four services as processes on a private
Kafka and PostgreSQL, check-ins streamed at a steady rate over Kafka and HTTP, an
immediate-risk check-in every minute and two before every fault, and a fault every few
minutes, in turn: SIGKILL each service (and start it again), SIGKILL Kafka, restart
PostgreSQL three times in quick succession.

Every ``--sample`` seconds it prints the consumer lag (every group of every service, from the
broker) and each service's resident memory; at the end it waits for the platform to settle
and prints what was lost or duplicated, the alert latency percentiles (immediate-risk
check-in sent → signed alert at the responder's webhook), memory per service (peak, and
growth per hour over each service's longest life without a restart) and the faults.

It starts its own stack (state under ``.kinship/soak-stack``, on the ports given: pick ports
nobody else uses) in its own schemas and topics, removed at the end. Not part of
``make test``.

    uv run python bench/soak.py                                  # an hour, a fault every 4 min
    uv run python bench/soak.py --minutes 10 --fault-every 60   # a short drill
    uv run python bench/soak.py --json soak.json                 # the figures as JSON too
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the chaos suite's harness lives in tests/chaos

from pipeline import clean  # noqa: E402  (the script's directory is on sys.path)

from kinship_devstack.stack import LocalStack, StackConfig  # noqa: E402
from kinship_runtime.identity import all_scopes_key  # noqa: E402
from tests.chaos.harness import (  # noqa: E402
    SERVICES,
    Faults,
    Platform,
    alerts_seen,
    consumer_lag,
    consumer_operations,
    schema_of,
    signed,
    wait_for_no_lag,
)
from tests.chaos.load import Load  # noqa: E402
from tests.database import rows  # noqa: E402
from tests.escalation_support import encode_person  # noqa: E402
from tests.kafka_reading import publish  # noqa: E402
from tests.receivers import WebhookReceiver  # noqa: E402

RESPONDERS = [f"soak-resp-{i}" for i in range(4)]
NOTE_KEY = "bm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4="  # base64 of 32 bytes, test only


@dataclass
class Sample:
    """One look at the platform."""

    at: float
    lag: int
    rss_mb: dict[str, float]
    pids: dict[str, int]


@dataclass
class Drill:
    """What the drill saw."""

    samples: list[Sample] = field(default_factory=list)
    at_risk: list[str] = field(default_factory=list)
    before_fault: set[str] = field(default_factory=set)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (MB), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def growth_per_hour(samples: list[Sample], service: str, skip: float) -> tuple[float, float]:
    """MB per hour over the service's longest life without a restart (a least-squares
    slope, after ``skip`` seconds of warm-up), and that life's length in minutes."""
    lives: list[list[Sample]] = []
    for sample in (s for s in samples if s.rss_mb.get(service)):  # 0: killed, not yet back
        if not lives or lives[-1][-1].pids.get(service) != sample.pids.get(service):
            lives.append([])
        lives[-1].append(sample)
    longest = max(lives, key=lambda life: life[-1].at - life[0].at, default=[])
    points = [(s.at, s.rss_mb[service]) for s in longest if s.at - longest[0].at >= skip]
    if len(points) < 3:
        return float("nan"), 0.0
    slope = statistics.linear_regression([t for t, _ in points], [m for _, m in points]).slope
    return slope * 3600, (longest[-1].at - longest[0].at) / 60


async def sampler(
    platform: Platform, bootstrap: str, groups: dict[str, str], drill: Drill, every: float
) -> None:
    started = time.monotonic()
    while True:
        try:
            lag = sum((await asyncio.wait_for(consumer_lag(bootstrap, groups), 20)).values())
        except Exception:  # the broker may be down: no figure this time
            lag = -1
        pids = {
            name: process.process.pid if process.process else 0
            for name, process in platform.processes.items()
        }
        memory = {name: rss_mb(pid) for name, pid in pids.items()}
        drill.samples.append(Sample(time.monotonic(), lag, memory, pids))
        mem = "  ".join(f"{name[:5]} {mb:6.1f}" for name, mb in memory.items())
        lag_text = "  down" if lag < 0 else f"{lag:6d}"
        print(f"  {time.monotonic() - started:7.0f} s  lag {lag_text}  RSS MB: {mem}", flush=True)
        await asyncio.sleep(every)


def fault_cycle(
    platform: Platform, faults: Faults
) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
    """The faults, in the order they come round."""

    def kill(service: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            platform.kill(service)
            faults.note(f"{service}: SIGKILL")
            await asyncio.sleep(1)
            await platform.start(service, timeout=240)
            faults.note(f"{service}: ready again")

        return run

    return [
        *((f"SIGKILL {service}", kill(service)) for service in SERVICES),
        ("Kafka SIGKILL", faults.restart_kafka),
        ("PostgreSQL restarted 3 times", lambda: faults.restart_postgres(times=3, pause=1.0)),
    ]


async def count(database_url: str, schema: str, sql: str) -> int:
    return int((await rows(database_url, schema, sql))[0][0])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stack = LocalStack(
        StackConfig(
            state_dir=REPO / ".kinship" / "soak-stack",
            kafka_port=args.kafka_port,
            postgres_port=args.postgres_port,
        )
    )
    await stack.start_infra()
    run_id = uuid.uuid4().hex[:8]
    env = {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "KINSHIP_DATABASE_URL": stack.database_url,
        "KINSHIP_DATABASE_SCHEMA": f"soak_{run_id}",
        "KINSHIP_TOPIC_PREFIX": f"soak{run_id}.",
        "KINSHIP_CONSUMER_GROUP_PREFIX": f"soak{run_id}",
        "KINSHIP_API_KEYS": all_scopes_key("tests", "test-key"),
        "KINSHIP_NOTE_KEYS": f"t1:{NOTE_KEY}",
        "KINSHIP_NOTE_KEY_ID": "t1",
        "KINSHIP_GRACEFUL_TIMEOUT_SECONDS": "10",
        "KINSHIP_ENV": "dev",
        "KINSHIP_LOG_LEVEL": "WARNING",
    }
    logs = Path(tempfile.mkdtemp(prefix="kinship-soak-"))
    platform = Platform.of(env, logs)
    webhooks = WebhookReceiver()
    await webhooks.start()
    try:
        return await _drill(args, stack, env, platform, webhooks, logs)
    finally:
        platform.stop_all()
        await webhooks.stop()
        await clean(stack, env)
        if not args.keep_stack:
            await stack.stop_infra()


async def _drill(
    args: argparse.Namespace,
    stack: LocalStack,
    env: dict[str, str],
    platform: Platform,
    webhooks: WebhookReceiver,
    logs: Path,
) -> dict[str, Any]:
    prefix = env["KINSHIP_TOPIC_PREFIX"]
    faults = Faults(stack)
    duration = args.minutes * 60
    crises = int(duration / 60) + 2 * int(duration / args.fault_every) + 4
    at_risk = [f"soak-risk-{i}" for i in range(crises)]
    print(f"soak: {args.minutes} min, a fault every {args.fault_every} s; logs in {logs}")
    await platform.start(timeout=240)
    await publish(
        stack.bootstrap_servers,
        f"{prefix}directory.people",
        [
            *(
                encode_person(r, "team-responders", {"webhook": webhooks.url(r)}, "peer_responder")
                for r in RESPONDERS
            ),
            encode_person(
                "soak-coord", "team-c", {"webhook": webhooks.url("soak-coord")}, "coordinator"
            ),
            *(encode_person(p, f"team-{p}", {"webhook": webhooks.url(p)}) for p in at_risk),
        ],
    )
    await asyncio.sleep(5)  # the directory reaches escalation and notifications
    groups = await consumer_operations(
        [platform.url(s, "") for s in SERVICES], env["KINSHIP_CONSUMER_GROUP_PREFIX"]
    )
    load = Load(
        stack.bootstrap_servers,
        f"{prefix}wellbeing.checkins.submitted",
        platform.url("checkin", "/v1/checkins"),
        people=2000,
    )
    drill = Drill()
    risky = iter(at_risk)
    streams = [
        asyncio.create_task(load.stream_kafka(args.kafka_rate)),
        *(asyncio.create_task(load.stream_http(args.http_rate, w)) for w in range(2)),
    ]
    watcher = asyncio.create_task(
        sampler(platform, stack.bootstrap_servers, groups, drill, args.sample)
    )
    cycle = fault_cycle(platform, faults)
    started = time.monotonic()
    next_fault, next_crisis, turn = started + args.fault_every, started + 30, 0

    async def crisis(via: str, before_fault: bool) -> None:
        person = next(risky, None)
        if person is None:
            return
        drill.at_risk.append(person)
        if before_fault:
            drill.before_fault.add(person)
        await load.crisis(person, via)

    try:
        while time.monotonic() - started < duration:
            now = time.monotonic()
            if now >= next_fault:
                name, fault = cycle[turn % len(cycle)]
                turn += 1
                faults.note(f"fault {turn}: {name} (two immediate-risk check-ins first)")
                await crisis("http", True)
                await crisis("kafka", True)
                await fault()
                next_fault = time.monotonic() + args.fault_every
            elif now >= next_crisis:
                await crisis("http" if len(drill.at_risk) % 2 else "kafka", False)
                next_crisis = now + 60
            await asyncio.sleep(1)
    finally:
        load.stopping.set()
        await asyncio.wait_for(asyncio.gather(*streams), 180)
    faulted = time.monotonic()
    faults.note("load stopped; waiting for the platform to settle")
    behind = await wait_for_no_lag(stack.bootstrap_servers, groups, 300)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        alerted = {json.loads(items[0].body)["case_id"] for items in alerts_seen(webhooks).values()}
        if len(alerted) >= len(drill.at_risk):
            break
        await asyncio.sleep(2)
    settle_seconds = time.monotonic() - faulted
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return await _figures(
        env, stack, platform, webhooks, load, drill, faults, started, behind, settle_seconds
    )


async def _figures(
    env: dict[str, str],
    stack: LocalStack,
    platform: Platform,
    webhooks: WebhookReceiver,
    load: Load,
    drill: Drill,
    faults: Faults,
    started: float,
    behind: dict[str, int],
    settle_seconds: float,
) -> dict[str, Any]:
    url = stack.database_url
    recorded = await count(url, schema_of(env, "checkin"), "SELECT count(*) FROM checkins")
    observed = await count(url, schema_of(env, "escalation"), "SELECT count(*) FROM observations")
    cases = await count(url, schema_of(env, "escalation"), "SELECT count(*) FROM cases")
    pending = await count(
        url,
        schema_of(env, "notifications"),
        "SELECT count(*) FROM deliveries WHERE status = 'pending' AND kind = 'alert'",
    )
    seen = alerts_seen(webhooks)
    first_alert: dict[str, float] = {}
    for items in seen.values():
        case_id = str(json.loads(items[0].body)["case_id"])
        first_alert[case_id] = min(item.at for item in items)
    case_of_person = await _cases_of(url, env, drill.at_risk)
    latency = {
        person: first_alert[case_id] - load.alert_sent_at[person]
        for person, case_id in case_of_person.items()
        if case_id in first_alert and person in load.alert_sent_at
    }
    around_faults = [v for p, v in latency.items() if p in drill.before_fault]
    calm = [v for p, v in latency.items() if p not in drill.before_fault]
    ready = await platform.wait_ready(60)
    memory = {}
    for service in SERVICES:
        values = [s.rss_mb[service] for s in drill.samples if s.rss_mb.get(service)]
        growth, life = growth_per_hour(drill.samples, service, skip=120)
        memory[service] = {
            "peak_mb": round(max(values, default=0.0), 1),
            "last_mb": round(values[-1], 1) if values else 0.0,
            "growth_mb_per_hour": round(growth, 1),
            "longest_life_min": round(life, 1),
        }
    lags = [s.lag for s in drill.samples if s.lag >= 0]
    figures: dict[str, Any] = {
        "minutes": round((time.monotonic() - started) / 60, 1),
        "checkins_sent": len(load.expected),
        "via_kafka": len(load.kafka_ids),
        "via_http": len(load.http_ids),
        "recorded": recorded,
        "lost": len(load.expected) - recorded,
        "observed_by_escalation": observed,
        "http_unexpected_answers": len(load.unexpected),
        "http_503_without_retry_after": load.retry_after_missing,
        "retries": {"kafka_producer": load.kafka_retries, "http": load.http_retries},
        "immediate_risk": len(drill.at_risk),
        "cases": cases,
        "alerted_cases": len(first_alert),
        "alerts_signed": all(signed(item) for items in seen.values() for item in items),
        "alert_deliveries_pending": pending,
        "alert_latency_s": _spread(list(latency.values())),
        "alert_latency_calm_s": _spread(calm),
        "alert_latency_through_a_fault_s": _spread(around_faults),
        "lag": {
            "max": max(lags, default=0),
            "p90": percentile([float(x) for x in lags], 90),
            "behind_at_end": behind,
        },
        "settled_after_s": round(settle_seconds),
        "memory": memory,
        "ready_at_end": {name: code for name, (code, _) in ready.items()},
        "faults": [(round(at - started), what) for at, what in faults.log],
    }
    return figures


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p90": round(percentile(values, 90), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values, default=float("nan")), 2),
    }


async def _cases_of(url: str, env: dict[str, str], people: list[str]) -> dict[str, str]:
    """Person at risk → their case (through the check-in vault's subject ids)."""
    pseudonyms = await rows(
        url,
        schema_of(env, "checkin"),
        "SELECT person_id, subject_id FROM pseudonyms WHERE person_id = ANY($1::text[])",
        people,
    )
    subjects = {r["subject_id"]: r["person_id"] for r in pseudonyms}
    cases = await rows(url, schema_of(env, "escalation"), "SELECT id, subject_id FROM cases")
    return {subjects[c["subject_id"]]: str(c["id"]) for c in cases if c["subject_id"] in subjects}


def report(figures: dict[str, Any]) -> None:
    print("\nsoak figures")
    for name, value in figures.items():
        if name == "faults":
            print("faults:")
            for at, what in value:
                print(f"  +{at:5d} s  {what}")
        else:
            print(f"{name}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--fault-every", type=float, default=240.0, help="seconds")
    parser.add_argument("--kafka-rate", type=float, default=50.0, help="check-ins/s over Kafka")
    parser.add_argument("--http-rate", type=float, default=5.0, help="check-ins/s per HTTP client")
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between samples")
    parser.add_argument(
        "--kafka-port", type=int, default=int(os.environ.get("KINSHIP_SOAK_KAFKA_PORT", "29992"))
    )
    parser.add_argument(
        "--postgres-port",
        type=int,
        default=int(os.environ.get("KINSHIP_SOAK_POSTGRES_PORT", "26332")),
    )
    parser.add_argument("--keep-stack", action="store_true", help="leave Kafka/PostgreSQL running")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    # The drill's own clients reconnect through every broker outage: keep their noise out.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    figures = asyncio.run(run(args))
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    failed = (
        figures["lost"] or figures["alert_deliveries_pending"] or figures["http_unexpected_answers"]
    )
    sys.exit(1 if failed or figures["alerted_cases"] < figures["immediate_risk"] else 0)


if __name__ == "__main__":
    main()

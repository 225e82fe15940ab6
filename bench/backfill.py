"""Backfill (issue 17): a year of check-in history for N people (default 10,000: about
480,000 check-ins, a week missed now and then) re-evaluated through the normal consumers,
timed.

The history (``tests/backfill_support.py``: weekly check-ins, some people with a low patch:
a sustained decline, a poor WHO-5 week, a request for contact) is published to the
ingestion topic oldest first, as fast as the broker takes it; the run ends when the check-in
service recorded every check-in, escalation evaluated every one and recognition counted
every one (their consumer groups' committed offsets, as ``bench/pipeline.py`` reads them).
It prints the rate, the stages, CPU and memory per process, and the cases the history
opened. With ``--live`` it then publishes the same history again under other ids, as it
would have arrived live (a week at a time, every consumer caught up before the next week),
and compares each person's cases (severity, and every piece of evidence by rule and
check-in) with the backfill's: the issue's "same cases as live processing" at full size
(``tests/integration/test_backfill.py`` holds it for a few dozen people in every test run).

The withdrawal watch is switched off for the run (``KINSHIP_TIMER_POLL_SECONDS``): it would
judge a year-old silence against today's clock and page responders about it.

    uv run python bench/backfill.py                    # 10,000 people, a year
    uv run python bench/backfill.py --people 1000      # a short run
    uv run python bench/backfill.py --live             # and compare with live processing
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pipeline import (  # the script's directory is on sys.path: bench/pipeline.py
    RECORDED,
    REPO,
    SUBMITTED,
    Platform,
    Progress,
    clean,
    end_offsets,
    platform_service_env,
    produce,
    read_recorded,
    test_stack,
    watch_groups,
    watched,
)

from tests.backfill_support import CaseShape, cases_by_person, year_of_checkins
from tests.chaos.harness import wait_for_no_lag
from tests.database import rows

assert REPO  # pipeline put the repository on sys.path (tests.*)


async def live_copy(
    bootstrap: str, topic: str, bodies: list[dict[str, Any]], groups: dict[str, str]
) -> float:
    """The same history as it would have arrived live: a week at a time, every consumer
    group caught up (everything evaluated) before the next week is published. Seconds taken."""
    by_week: dict[int, list[dict[str, Any]]] = {}
    for body in bodies:  # oldest first; the id ends with the week
        by_week.setdefault(int(str(body["id"]).rsplit("-", 1)[1]), []).append(body)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks=1)
    await producer.start()
    begin = time.perf_counter()
    try:
        for week in sorted(by_week):
            payloads = [
                (str(b["person_id"]).encode(), json.dumps(b).encode()) for b in by_week[week]
            ]
            await produce(producer, topic, payloads)
            stuck = await wait_for_no_lag(bootstrap, groups, 600)
            if stuck:
                raise RuntimeError(f"live copy: week {week} not evaluated: {stuck}")
    finally:
        await producer.stop()
    return time.perf_counter() - begin


def differences(
    live: dict[str, list[CaseShape]], backfilled: dict[str, list[CaseShape]]
) -> list[str]:
    """The people whose cases differ between the two (their index only: invented people)."""
    return sorted(p for p in live.keys() | backfilled.keys() if live.get(p) != backfilled.get(p))


async def backfill(args: argparse.Namespace) -> dict[str, Any]:
    until = datetime.now(UTC).replace(microsecond=0)  # both copies: the same history
    history = year_of_checkins(args.people, args.weeks, prefix="bf-", end=until)
    count = len(history.bodies)
    print(f"backfill: {args.people} people, {args.weeks} weeks: {count} check-ins")
    async with test_stack(args.kafka_port, args.postgres_port) as stack:
        run_id = uuid.uuid4().hex[:8]
        env = platform_service_env(stack, run_id) | {"KINSHIP_TIMER_POLL_SECONDS": "86400"}
        logs = Path(tempfile.mkdtemp(prefix="kinship-backfill-"))
        platform = Platform.of(env, logs, args.replicas, args.http_port)
        for _, process in platform.all():
            process.env["KINSHIP_TIMER_POLL_SECONDS"] = "86400"
        try:
            await platform.start()
            groups = await platform.groups()
            prefix = env["KINSHIP_TOPIC_PREFIX"]
            submitted, recorded = prefix + SUBMITTED, prefix + RECORDED
            stages = {
                name: next(
                    (g, t) for g, t in groups.items() if g.split(".")[1] == name and t == topic
                )
                for name, topic in (
                    ("checkin", submitted),
                    ("escalation", recorded),
                    ("recognition", recorded),
                )
            }
            payloads = [
                (str(b["person_id"]).encode(), json.dumps(b).encode()) for b in history.bodies
            ]
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap_servers, linger_ms=20, acks=1
            )
            probe = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers)
            await producer.start()
            await probe.start()
            progress = Progress()
            ready = asyncio.Event()
            reader = asyncio.create_task(
                read_recorded(stack.bootstrap_servers, recorded, "", count, progress, ready, "bf-")
            )
            await ready.wait()
            before = await end_offsets(probe, submitted)
            watch = watched(stack, platform, os.getpid())
            watch.begin()
            begin = time.perf_counter()
            for start in range(0, count, 20_000):
                await produce(producer, submitted, payloads[start : start + 20_000])
            published = time.perf_counter()
            after = await end_offsets(probe, submitted)
            await probe.stop()
            await producer.stop()
            targets = {p: o for p, o in after.items() if o > before.get(p, 0)}
            watcher = asyncio.create_task(
                watch_groups(stack.bootstrap_servers, stages, targets, count, progress, watch, 0.5)
            )
            await asyncio.wait_for(asyncio.gather(reader, watcher), args.timeout)
            end = max(progress.done_at.values())
            url = stack.database_url
            schema = env["KINSHIP_DATABASE_SCHEMA"]
            cases = await cases_by_person(url, f"{schema}_c", f"{schema}_e", "bf-")
            opened = sum(len(items) for items in cases.values())
            evidence = await rows(
                url, f"{schema}_e", "SELECT rule, count(*) AS n FROM case_evidence GROUP BY rule"
            )
            sizes = await rows(
                url,
                "public",
                "SELECT n.nspname AS schema, sum(pg_total_relation_size(c.oid))::bigint AS bytes"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname LIKE $1 || '%' AND c.relkind IN ('r', 'm')"
                " GROUP BY n.nspname ORDER BY n.nspname",
                schema,
            )
            measured = watch.figures(count)  # the backfill's, before any live copy
            compared: dict[str, Any] = {}
            if args.live:
                live = year_of_checkins(args.people, args.weeks, prefix="live-", end=until)
                seconds = await live_copy(stack.bootstrap_servers, submitted, live.bodies, groups)
                live_cases = await cases_by_person(url, f"{schema}_c", f"{schema}_e", "live-")
                differ = differences(live_cases, cases)
                compared = {
                    "live_seconds": round(seconds, 1),
                    "live_cases": sum(len(items) for items in live_cases.values()),
                    "people_whose_cases_differ": len(differ),
                    "same_cases_as_live": not differ,
                    **({"first_differences": differ[:10]} if differ else {}),
                }
            return {
                # Tables with their indexes and TOAST, per service schema (c, e, n, r), in
                # bytes per check-in of the history: docs/capacity.md's PostgreSQL sizes.
                "bytes_per_checkin": {
                    r["schema"].removeprefix(schema + "_"): round(r["bytes"] / count) for r in sizes
                },
                "people": args.people,
                "weeks": args.weeks,
                "checkins": count,
                "replicas": args.replicas,
                "publish_seconds": round(published - begin, 1),
                "seconds": round(end - begin, 1),
                "rate": round(count / (end - begin)),
                "stage_seconds": {
                    k: round(v - begin, 1) for k, v in sorted(progress.done_at.items())
                },
                "cases": opened,
                "people_with_a_case": len(cases),
                "evidence_by_rule": {r["rule"]: r["n"] for r in evidence},
                **measured,
                **compared,
            }
        finally:
            platform.stop()
            await clean(stack, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--kafka-port", type=int, default=int(os.environ.get("KINSHIP_TEST_KAFKA_PORT", "29192"))
    )
    parser.add_argument(
        "--postgres-port",
        type=int,
        default=int(os.environ.get("KINSHIP_TEST_POSTGRES_PORT", "25532")),
    )
    parser.add_argument("--http-port", type=int, default=31001)
    parser.add_argument(
        "--live",
        action="store_true",
        help="then publish the same history live (a week at a time, each evaluated before the"
        " next) and compare each person's cases with the backfill's",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = asyncio.run(backfill(args))
    for name, value in figures.items():
        print(f"{name}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()

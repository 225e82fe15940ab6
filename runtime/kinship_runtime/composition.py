"""What every service's composition root builds on: the shared resources as a dishka
``Provider``, the ASGI app with its lifespan and health checks, and ``python -m``.

A service's composition root (``kinship_<service>/composition.py``) hands its own provider,
subscriptions and routes to ``compose_service``, which makes a container from
``RuntimeProvider`` plus that provider, declares the subscriptions with ``ingest`` and builds
the app. Resources are opened lazily by the container and closed in
reverse order when it closes: nothing is half-built, nothing is a global.

Start order: topics (local stacks) → pool (migrations applied) → producer → outbox relay →
the service's workers → consumers. Stop order is the reverse: consumers finish their
in-flight batch and commit, workers finish their round, the relay flushes, connections close.
"""

import argparse
import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from dishka import Provider, Scope, from_context, make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from kinship_contracts.topics import TOPICS, TopicSpec
from kinship_runtime.access import PeopleDirectory, PostgresPeopleDirectory, RateLimits
from kinship_runtime.access_log import AccessLog
from kinship_runtime.database import create_pool, migrate_schema
from kinship_runtime.dead_letters import DeadLetterKeyExpiry, DeadLetterKeys, DeadLetters
from kinship_runtime.health import ReadinessCheck, health_router
from kinship_runtime.http import create_http_app
from kinship_runtime.identity import IdentityVerifier, identity_verifier
from kinship_runtime.ingest import Subscription, ingest
from kinship_runtime.kafka import ensure_topics, make_broker, make_producer
from kinship_runtime.limits import RequestLimits
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.settings import KinshipSettings, MigrationSettings
from kinship_runtime.telemetry import configure_logging, configure_telemetry
from kinship_runtime.vault import VaultClient
from kinship_runtime.workers import Worker

log = logging.getLogger(__name__)

S = TypeVar("S", bound=KinshipSettings)


class RuntimeProvider(Provider):
    """App-scoped resources every service has: pool, producer, relay, dead letters, auth.

    The container's context supplies ``KinshipSettings`` and the ``KafkaBroker``.
    """

    scope = Scope.APP
    settings = from_context(provides=KinshipSettings, scope=Scope.APP)
    broker = from_context(provides=KafkaBroker, scope=Scope.APP)

    def __init__(self, migrations: Path) -> None:
        super().__init__()
        self._migrations = migrations

    @provide
    async def pool(self, settings: KinshipSettings) -> AsyncIterator[asyncpg.Pool]:
        """The service's pool on its own schema, with migrations applied first."""
        pool = await create_pool(settings)
        try:
            if settings.migrate_on_start:
                async with pool.acquire() as conn:
                    applied = await migrate_schema(conn, settings.owned_schema(), self._migrations)
                if applied:
                    log.info("applied migrations", extra={"count": len(applied)})
        except BaseException:
            await pool.close()
            raise
        yield pool
        await pool.close()

    @provide
    async def producer(self, settings: KinshipSettings) -> AsyncIterator[AIOKafkaProducer]:
        """An idempotent producer for the outbox relay and dead letters."""
        producer = make_producer(settings)
        await producer.start()
        yield producer
        await producer.stop()

    @provide
    async def relay(
        self, pool: asyncpg.Pool, producer: AIOKafkaProducer, settings: KinshipSettings
    ) -> AsyncIterator[OutboxRelay]:
        """The outbox relay, running from first use until the container closes."""
        relay = OutboxRelay(
            pool,
            producer,
            settings.owned_schema(),
            batch_size=settings.outbox_batch_size,
            may_lead=settings.outbox_relay_leads,
        )
        relay.start()
        yield relay
        await relay.stop()

    @provide
    def dead_letter_keys(self, pool: asyncpg.Pool, settings: KinshipSettings) -> DeadLetterKeys:
        """The keys that seal this service's dead letters (shredded on erasure)."""
        return DeadLetterKeys(pool, settings.dead_letter_wrapping_key())

    @provide
    async def dead_letter_expiry(self, keys: DeadLetterKeys) -> AsyncIterator[DeadLetterKeyExpiry]:
        """Deletes dead-letter keys past their retention, hourly, while the service runs."""
        expiry = DeadLetterKeyExpiry(keys)
        expiry.start()
        yield expiry
        await expiry.stop()

    @provide
    def dead_letters(
        self, producer: AIOKafkaProducer, keys: DeadLetterKeys, settings: KinshipSettings
    ) -> DeadLetters:
        """Sealed dead-letter publishing."""
        return DeadLetters(producer, settings.consumer_group("events"), keys)

    @provide
    def identities(self, settings: KinshipSettings) -> IdentityVerifier:
        """API keys and people's tokens, verified as the settings say."""
        return identity_verifier(settings)

    @provide
    def people(self, pool: asyncpg.Pool) -> PeopleDirectory:
        """Roles of signed-in people, from this service's directory projection."""
        return PostgresPeopleDirectory(pool)

    @provide
    async def vault(self, settings: KinshipSettings) -> AsyncIterator[VaultClient]:
        """The check-in service's vault (for the services that are not the check-in service)."""
        client = VaultClient(settings.checkin_url, settings.vault_key())
        yield client
        await client.aclose()

    @provide
    def rate_limits(self, settings: KinshipSettings) -> RateLimits:
        """Submission limits per person and per calling system."""
        return RateLimits.of(settings.rate_limit_per_person, settings.rate_limit_per_key)


def declare_productions(
    broker: KafkaBroker, settings: KinshipSettings, produces: Sequence[TopicSpec]
) -> None:
    """Declare what the service publishes (through its outbox), for its AsyncAPI document."""
    for spec in produces:
        broker.publisher(
            settings.topic(spec),
            title=f"{settings.service_name}:{spec.event_type}",
            description=spec.description,
            schema=spec.payload,
        )


@dataclass(frozen=True)
class ServiceParts:
    """What a built service is made of, for tools that inspect it (the Helm chart generator,
    the event catalogue): ``app.state.kinship``."""

    settings: KinshipSettings
    broker: KafkaBroker
    produces: tuple[TopicSpec, ...]


def running_subscriptions(
    subscriptions: Sequence[Subscription[Any]], excluded: frozenset[str]
) -> list[Subscription[Any]]:
    """The subscriptions this process runs: all but the ``excluded`` purposes, each of which
    must be one of the service's (a misspelt name would silently run everything)."""
    unknown = excluded - {subscription.purpose for subscription in subscriptions}
    if unknown:
        known = ", ".join(sorted(subscription.purpose for subscription in subscriptions))
        raise ValueError(
            f"KINSHIP_EXCLUDED_CONSUMERS names {', '.join(sorted(unknown))}, which this service "
            f"does not consume (it consumes {known})"
        )
    return [subscription for subscription in subscriptions if subscription.purpose not in excluded]


def compose_service(
    settings: KinshipSettings,
    service: Provider,
    migrations: Path,
    subscriptions: Sequence[Subscription[Any]],
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    produces: Sequence[TopicSpec] = (),
    workers: Sequence[type[Worker]] = (),
    public_paths: Sequence[str] = (),
    overrides: Sequence[Provider] = (),
) -> FastAPI:
    """A service's ASGI app from its parts: a broker for ``settings``, a container of the
    runtime's resources (``migrations`` applied to the pool) and ``service``'s own, a consumer
    per subscription, routes, health checks, and a lifespan that runs the service.
    ``overrides`` are providers that replace what they provide (tests: the vault over an
    in-process check-in service).

    ``produces`` lists the events the service publishes through its outbox (declared on the
    broker for its AsyncAPI document); ``workers`` the background workers the container
    provides, started before consumers and stopped after them; ``public_paths`` the path
    prefixes under ``/v1/`` that take a body without a bearer token (signed links, signed
    webhooks): every other request with a body authenticates before it is read.

    The container's context holds the settings as ``KinshipSettings`` and as their own type
    (a service provider declares ``from_context(provides=<its settings type>)``), and the
    broker.
    """
    broker = make_broker(settings)
    container = make_async_container(
        RuntimeProvider(migrations),
        service,
        *overrides,
        context={KinshipSettings: settings, type(settings): settings, KafkaBroker: broker},
    )
    for subscription in running_subscriptions(subscriptions, settings.excluded()):
        ingest(broker, settings, container, subscription)
    declare_productions(broker, settings, produces)
    started: list[Worker] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            if settings.create_topics:
                await ensure_topics(settings, TOPICS)
            started.append(await container.get(OutboxRelay))
            started.append(await container.get(DeadLetterKeyExpiry))
            for worker_type in workers:
                started.append(await container.get(worker_type))
            await broker.start()
            yield
        finally:
            await broker.stop()
            await container.close()
            started.clear()

    async def database_ready() -> bool:
        pool = await container.get(asyncpg.Pool)
        return bool(await pool.fetchval("SELECT 1") == 1)

    async def kafka_ready() -> bool:
        return await broker.ping(timeout=2.0)

    async def workers_ready() -> bool:
        return bool(started) and all(worker.healthy() for worker in started)

    checks: dict[str, ReadinessCheck] = {
        "postgres": database_ready,
        "kafka": kafka_ready,
        "workers": workers_ready,
    }
    app = create_http_app(
        title=title,
        description=description,
        lifespan=lifespan,
        routers=[*routers, health_router(checks)],
        broker=broker,
    )
    setup_dishka(container, app)

    async def identify(token: str) -> object | None:
        return await (await container.get(IdentityVerifier)).identify(token)

    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        identify=identify,
        public_paths=tuple(public_paths),
    )
    app.add_middleware(AccessLog)  # outermost: refusals before any route are logged too
    app.state.kinship = ServiceParts(settings, broker, tuple(produces))
    return app


async def migrate(settings: KinshipSettings, migrations: Path) -> list[str]:
    """Apply the runtime's and the service's pending migrations to its schema."""
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            return await migrate_schema(conn, settings.owned_schema(), migrations)
    finally:
        await pool.close()


def tune_garbage_collector(threshold: int) -> None:
    """Run the youngest generation's collection every ``threshold`` allocations (0: leave
    CPython's default); the older generations keep their ratios."""
    if threshold > 0:
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(threshold, middle, oldest)


def run_service(
    prog: str,
    settings_type: type[S],
    create_app: Callable[[S], FastAPI],
    migrations: Path,
    argv: list[str] | None = None,
) -> int:
    """Serve the HTTP API and consumers (default), or apply migrations and exit."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    if args.command == "migrate":
        # Migrations need the database only: not the service's keys (a migration Job gets
        # the database secret and nothing else).
        common = MigrationSettings(service_name=settings_type.model_fields["service_name"].default)
        configure_logging(common.service_name, common.log_level)
        for name in asyncio.run(migrate(common, migrations)):
            print(f"applied {name}")
        return 0
    settings = settings_type()
    configure_logging(settings.service_name, settings.log_level)
    tune_garbage_collector(settings.gc_threshold)
    telemetry = configure_telemetry(settings.service_name)
    # uvicorn turns SIGTERM into a graceful shutdown: the lifespan stops consumers after
    # their in-flight batch is stored and committed.
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        # uvloop and httptools (runtime dependencies): uvicorn's "auto" picks them up, for
        # the consumers and the database driver as much as for HTTP (docs/performance.md).
        loop="auto",
        http="auto",
        # uvicorn's access log prints client addresses and query strings (tokens): the
        # runtime's AccessLog logs route templates instead.
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )
    telemetry.shutdown()  # export what is still buffered
    return 0

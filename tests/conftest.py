"""Shared fixtures: a real Kafka broker and PostgreSQL server for integration and e2e tests.

Endpoints come from, in order: ``KINSHIP_KAFKA_BOOTSTRAP_SERVERS`` and
``KINSHIP_DATABASE_URL`` when both are set; testcontainers when a Docker engine answers;
otherwise the project's own local stack (Kafka from Maven Central, PostgreSQL from the
system binaries) on test ports, started for the session and stopped after it.
Each test gets its own topic prefix, consumer groups and database schema.
"""

import base64
import fcntl
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from kinship_runtime.identity import all_scopes_key
from tests.receivers import SmtpReceiver, WebhookReceiver

REPO = Path(__file__).resolve().parent.parent
TEST_KAFKA_PORT = int(os.environ.get("KINSHIP_TEST_KAFKA_PORT", "29192"))
TEST_POSTGRES_PORT = int(os.environ.get("KINSHIP_TEST_POSTGRES_PORT", "25532"))
NOTE_KEY = base64.b64encode(b"n" * 32).decode()


@dataclass(frozen=True)
class Endpoints:
    """Where the test broker and database listen."""

    bootstrap_servers: str
    database_url: str
    origin: str


def _docker_engine_answers() -> bool:
    # The docker client may be installed without an engine: ask the engine itself.
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    """The session's Kafka and PostgreSQL."""
    kafka = os.environ.get("KINSHIP_KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("KINSHIP_DATABASE_URL")
    if kafka and database:
        yield Endpoints(kafka, database, "environment")
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with (
            KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft() as kafka_container,
            PostgresContainer("postgres:15", driver=None) as postgres_container,
        ):
            yield Endpoints(
                kafka_container.get_bootstrap_server(),
                postgres_container.get_connection_url(),
                "testcontainers",
            )
        return
    from kinship_devstack.stack import LocalStack, StackConfig

    stack = LocalStack(
        StackConfig(
            state_dir=REPO / ".kinship" / "test-stack",
            kafka_port=TEST_KAFKA_PORT,
            postgres_port=TEST_POSTGRES_PORT,
        )
    )
    import asyncio

    # Several test sessions may share the test stack (two terminals, an editor's runner):
    # each holds a shared lock while it runs, and only the last one out stops the stack.
    stack.state.mkdir(parents=True, exist_ok=True)
    with (stack.state / "sessions.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        asyncio.run(stack.start_infra())
        fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield Endpoints(stack.bootstrap_servers, stack.database_url, "local stack")
        finally:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another session still uses the stack: leave it running
            else:
                asyncio.run(stack.stop_infra())


@pytest.fixture
def test_id() -> str:
    """A short id unique to this test, for topic prefixes, groups and schemas."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def database(endpoints: Endpoints, test_id: str) -> AsyncIterator[str]:
    """A fresh schema name for this test; dropped afterwards."""
    schema = f"t_{test_id}"
    yield schema
    conn = await asyncpg.connect(endpoints.database_url)
    try:
        # The test's services may each own a schema named after it (t_<id>, t_<id>_n, ...).
        owned = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $1 || '\\_%'",
            schema,
        )
        for row in owned:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def topics(endpoints: Endpoints, test_id: str) -> AsyncIterator[str]:
    """This test's topic prefix; its topics are deleted afterwards (a broker has a file limit)."""
    prefix = f"t{test_id}."
    yield prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.bootstrap_servers)
    await admin.start()
    try:
        mine = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture
def service_env(endpoints: Endpoints, topics: str, test_id: str, database: str) -> dict[str, str]:
    """Environment for a check-in service isolated to this test."""
    return {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "KINSHIP_DATABASE_URL": endpoints.database_url,
        "KINSHIP_DATABASE_SCHEMA": database,
        "KINSHIP_TOPIC_PREFIX": topics,
        "KINSHIP_CONSUMER_GROUP_PREFIX": f"t{test_id}",
        "KINSHIP_API_KEYS": all_scopes_key("tests", "test-key"),
        "KINSHIP_NOTE_KEYS": f"t1:{NOTE_KEY}",
        "KINSHIP_NOTE_KEY_ID": "t1",
        "KINSHIP_GRACEFUL_TIMEOUT_SECONDS": "10",
        "KINSHIP_ENV": "dev",
    }


@pytest.fixture
async def webhooks() -> AsyncIterator[WebhookReceiver]:
    """A local webhook receiver on loopback."""
    receiver = WebhookReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    """A local SMTP server on loopback."""
    server = SmtpReceiver()
    server.start()
    yield server
    server.stop()

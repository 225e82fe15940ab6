"""Fixtures of the chaos suite: faults on the test stack, the platform as processes, and the
platform in-process (one for the whole package: starting four services costs ~20 s)."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kinship_devstack.stack import LocalStack, StackConfig
from kinship_runtime.identity import all_scopes_key
from tests.chaos.harness import Faults, Platform
from tests.chaos.inprocess import InProcessPlatform, running_platform
from tests.conftest import NOTE_KEY, REPO, TEST_KAFKA_PORT, TEST_POSTGRES_PORT, Endpoints
from tests.database import clean_up


@pytest.fixture
async def faults(endpoints: Endpoints, database: str, topics: str) -> AsyncIterator[Faults]:
    """Kafka and PostgreSQL of the project's own test stack, to stop and start.

    (It asks for the test's schema and topics so that they are cleaned up after it heals.)

    Only the local stack can be restarted from here: with endpoints from the environment or
    from testcontainers the chaos tests are skipped (they would not own those servers).
    """
    if endpoints.origin != "local stack":
        pytest.skip(
            f"chaos tests restart Kafka and PostgreSQL: they need the project's own test "
            f"stack, not endpoints from {endpoints.origin}"
        )
    stack = LocalStack(
        StackConfig(
            state_dir=REPO / ".kinship" / "test-stack",
            kafka_port=TEST_KAFKA_PORT,
            postgres_port=TEST_POSTGRES_PORT,
        )
    )
    chaos = Faults(stack)
    try:
        yield chaos
    finally:
        await chaos.heal()  # the rest of the session needs both, whatever happened here


@pytest.fixture
def platform(service_env: dict[str, str], tmp_path: Path) -> Iterator[Platform]:
    """The four services as processes of this test (started by the test)."""
    running = Platform.of(service_env, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="package")
async def shared_env(endpoints: Endpoints) -> AsyncIterator[dict[str, str]]:
    """``service_env`` for the package's shared platform: its own topics, groups and schemas,
    removed at the end."""
    test_id = uuid.uuid4().hex[:10]
    schema, prefix = f"t_{test_id}", f"t{test_id}."
    yield {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "KINSHIP_DATABASE_URL": endpoints.database_url,
        "KINSHIP_DATABASE_SCHEMA": schema,
        "KINSHIP_TOPIC_PREFIX": prefix,
        "KINSHIP_CONSUMER_GROUP_PREFIX": f"t{test_id}",
        "KINSHIP_API_KEYS": all_scopes_key("tests", "test-key"),
        "KINSHIP_NOTE_KEYS": f"t1:{NOTE_KEY}",
        "KINSHIP_NOTE_KEY_ID": "t1",
        "KINSHIP_GRACEFUL_TIMEOUT_SECONDS": "10",
        "KINSHIP_ENV": "dev",
    }
    await clean_up(endpoints, schema, prefix)


@pytest.fixture(scope="package")
async def shared_platform(
    shared_env: dict[str, str], endpoints: Endpoints
) -> AsyncIterator[InProcessPlatform]:
    """The four services in-process, shared by the package's fast tests: each test uses ids
    of its own (and counts only those)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        async with running_platform(shared_env, endpoints, monkeypatch) as running:
            yield running

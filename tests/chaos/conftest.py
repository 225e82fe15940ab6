"""Fixtures of the chaos suite: faults on the test stack, the platform as processes."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kinship_devstack.stack import LocalStack, StackConfig
from tests.chaos.harness import Faults, Platform
from tests.conftest import REPO, TEST_KAFKA_PORT, TEST_POSTGRES_PORT, Endpoints


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

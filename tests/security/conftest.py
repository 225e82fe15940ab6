"""The security suite: every attack of issue 11's "Why" list, tried against the four services
running as real processes in the production profile (``tests/security/stack.py``), each with
the weakest credential that should be refused.

The stack starts once per session (it takes a while on a shared machine); tests keep to
people of their own so they do not disturb each other.
"""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Endpoints
from tests.security.stack import Stack, running_stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "security: tries an attack against the services running in the production profile",
    )


@pytest.fixture(scope="session")
async def stack(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The four services in the production profile, with the directory published."""
    async with running_stack(endpoints, tmp_path_factory.mktemp("security")) as running:
        yield running

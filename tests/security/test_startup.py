"""Production refuses development credentials (issue 11, "Why" 7 and 13): a service started
outside the dev profile with the published dev key, the dev webhook secret, a short key (a
1-byte JWT secret among them) or no link secret does not start, and says why without quoting
the secret.

Each service is started as ``python -m kinship_<service>`` with the security stack's
production settings (on the test stack's Kafka and PostgreSQL, under a prefix and schema of
its own) and one of them spoiled; it must exit, never answer ``/readyz``. Every service is
tried with the published dev API key, plus one case of each other kind (a dev secret, a
short key, a missing secret); the unit tests of each service's settings cover every secret.
"""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kinship_runtime.identity import all_scopes_key
from kinship_runtime.settings import DEV_CREDENTIALS
from tests.conftest import Endpoints
from tests.database import clean_up
from tests.processes import ServiceProcess
from tests.security.stack import Secrets, process_environment, service_environment

pytestmark = [
    pytest.mark.security,
    # Seven service processes start and must exit: slow on a loaded machine.
    pytest.mark.timeout(600),
]


@dataclass(frozen=True)
class Case:
    service: str
    variable: str
    value: str | None
    """The spoiled value (None: the variable is left out)."""
    secret: str | None = None
    """What must not appear in the output (the value by default)."""


CASES = {
    **{
        f"{service} with the published dev API key": Case(
            service,
            "KINSHIP_API_KEYS",
            all_scopes_key("local", DEV_CREDENTIALS["KINSHIP_API_KEYS key"]),
            DEV_CREDENTIALS["KINSHIP_API_KEYS key"],
        )
        for service in ("checkin", "escalation", "notifications", "recognition")
    },
    "notifications with the dev webhook secret": Case(
        "notifications", "KINSHIP_WEBHOOK_SECRET", DEV_CREDENTIALS["KINSHIP_WEBHOOK_SECRET"]
    ),
    "checkin with a 1-byte JWT secret": Case("checkin", "KINSHIP_JWT_SECRET", "x", "x"),
    "escalation without a link secret": Case("escalation", "KINSHIP_LINK_SECRET", None),
}


@dataclass(frozen=True)
class Outcome:
    returncode: int | None
    """None: it started (answered ``/readyz``) or never ended."""
    output: str


async def start(
    case: Case, index: int, endpoints: Endpoints, run: str, logs: Path, limit: asyncio.Semaphore
) -> Outcome:
    """Start the service with the spoiled setting; how it ended."""
    stack_env = {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "KINSHIP_DATABASE_URL": endpoints.database_url,
        "KINSHIP_DATABASE_SCHEMA": f"refused_{run}",
        "KINSHIP_TOPIC_PREFIX": f"refused{run}.",
        "KINSHIP_CONSUMER_GROUP_PREFIX": f"refused{run}",
    }
    name = case.variable.lower() + ("_missing" if case.value is None else "")
    process = ServiceProcess({}, logs / f"{case.service}-{name}.log", f"kinship_{case.service}")
    env = service_environment(case.service, stack_env, Secrets(), {"checkin": 9, "escalation": 9})
    env["KINSHIP_DATABASE_SCHEMA"] += f"_{index}"  # a valid schema name: only the case spoils
    if case.value is None:
        env.pop(case.variable, None)
    else:
        env[case.variable] = case.value
    process_environment(process, env)
    async with limit:
        process.start()
        try:
            returncode = await ended(process, timeout=240)
        finally:
            process.stop()
    return Outcome(returncode, process.log.read_text(errors="replace"))


async def ended(process: ServiceProcess, timeout: float) -> int | None:
    """The process's exit code; None if it became ready (or still runs) before ``timeout``."""
    assert process.process is not None
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            code = process.process.poll()
            if code is not None:
                return code
            try:
                ready = await client.get(f"http://127.0.0.1:{process.port}/readyz")
                if ready.status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    return None


@pytest.fixture(scope="module")
async def outcomes(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Outcome]]:
    """Every case, started a few at a time."""
    run, logs = secrets.token_hex(4), tmp_path_factory.mktemp("refusals")
    limit = asyncio.Semaphore(4)
    try:
        results = await asyncio.gather(
            *(
                start(case, index, endpoints, run, logs, limit)
                for index, case in enumerate(CASES.values())
            )
        )
        yield dict(zip(CASES, results, strict=True))
    finally:
        await clean_up(endpoints, f"refused_{run}", f"refused{run}.")


@pytest.mark.parametrize("name", list(CASES))
async def test_a_service_with_a_development_or_weak_secret_refuses_to_start(
    outcomes: dict[str, Outcome], name: str
) -> None:
    case, outcome = CASES[name], outcomes[name]
    assert outcome.returncode not in (None, 0), outcome.output[-2000:]
    assert case.variable in outcome.output, outcome.output[-2000:]
    clear = ("development", "at least 32 bytes", "is required", "shorter than 32 bytes")
    assert any(words in outcome.output for words in clear), outcome.output[-2000:]
    secret = case.secret or case.value
    if secret is not None:
        quoted = [line for line in outcome.output.splitlines() if secret in line]
        if secret == "x":  # one character: look for it quoted, as a value would be
            quoted = [
                line for line in outcome.output.splitlines() if "'x'" in line or '"x"' in line
            ]
        assert quoted == [], quoted

"""The services the local stack runs, each in its own process."""

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from kinship_devstack.stack import LocalStack, StackError, pid_alive, port_open, stop_pid, tail
from kinship_runtime.identity import all_scopes_key
from kinship_runtime.settings import DEV_CREDENTIALS


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service locally."""

    name: str
    module: str
    port: int
    replica: int = 0
    role: str = ""
    """A deployment of the service with consumers of its own ("urgent", "ingest"): one
    process, whatever the replicas asked for."""
    settings: tuple[tuple[str, str], ...] = ()
    """Settings of this deployment (on top of the stack's)."""

    @property
    def instance(self) -> str:
        """The process's name: the service name, its role's, and ``-<n>`` for extra replicas."""
        name = f"{self.name}-{self.role}" if self.role else self.name
        return name if self.replica == 0 else f"{name}-{self.replica}"


# Work for people waiting runs apart from bulk work (docs/performance.md: under load the urgent
# lane waited for CPU behind the ordinary lane's batches in the same process). The check-in
# service's API (people's check-ins, the vault the other services ask) does not consume the
# bulk submissions topic, its ingest process does; the escalation service's urgent lane has a
# process of its own. If the urgent process is down, the ordinary lane's copy of an
# immediate-risk check-in still opens the case, later.
SERVICES = (
    ServiceSpec(
        "checkin",
        "kinship_checkin",
        8001,
        settings=(("KINSHIP_EXCLUDED_CONSUMERS", "submissions"),),
    ),
    ServiceSpec("checkin", "kinship_checkin", 8007, role="ingest"),
    ServiceSpec(
        "escalation",
        "kinship_escalation",
        8002,
        settings=(("KINSHIP_EXCLUDED_CONSUMERS", "urgent"),),
    ),
    ServiceSpec(
        "escalation",
        "kinship_escalation",
        8006,
        role="urgent",
        # It publishes its own urgent rows, never the ordinary lane's backlog.
        settings=(
            ("KINSHIP_EXCLUDED_CONSUMERS", "checkins"),
            ("KINSHIP_OUTBOX_RELAY_LEADS", "false"),
        ),
    ),
    ServiceSpec("notifications", "kinship_notifications", 8003),
    ServiceSpec("recognition", "kinship_recognition", 8004),
    # Started last, once Keycloak answers (its readiness needs the OIDC discovery document).
    ServiceSpec("console", "kinship_console", 8005),
)

DEPLOYMENTS = tuple(spec.instance for spec in SERVICES)
"""What ``KINSHIP_DEV_REPLICAS`` may scale: each service, and each role's own deployment."""

LANE_SETTINGS = {"KINSHIP_EXCLUDED_CONSUMERS": "", "KINSHIP_OUTBOX_RELAY_LEADS": "true"}
"""Every process's defaults for the lanes' settings, so a value exported in the developer's
shell never reaches the processes that do not set their own."""


def available_services(replicas: str = "") -> list[ServiceSpec]:
    """The registered services whose packages are installed (the others are not built yet).

    ``replicas`` ("checkin=2,escalation=2") asks for more processes of a service; replica n
    listens on the service's port + 100 n and joins the same consumer groups. A role's own
    deployment scales by its process name ("checkin-ingest=2").
    """
    wanted = parse_replicas(replicas)
    return [
        replace(spec, port=spec.port + 100 * replica, replica=replica)
        for spec in SERVICES
        if importlib.util.find_spec(spec.module) is not None
        for replica in range(wanted.get(spec.instance, 1))
    ]


def parse_replicas(replicas: str) -> dict[str, int]:
    """``"checkin=2"`` as ``{"checkin": 2}``; raises StackError on anything else."""
    counts: dict[str, int] = {}
    known = set(DEPLOYMENTS)
    for entry in filter(None, (part.strip() for part in replicas.split(","))):
        name, _, count = entry.partition("=")
        if name not in known or not count.isdigit() or not 1 <= int(count) <= 9:
            raise StackError(
                f"KINSHIP_DEV_REPLICAS entry {entry!r}: expected <service>=<1-9> "
                f"with service one of {sorted(known)}"
            )
        counts[name] = int(count)
    return counts


def service_environment(stack: LocalStack, spec: ServiceSpec) -> dict[str, str]:
    """The local stack's settings for a service (development keys, never for production)."""
    return {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "KINSHIP_DATABASE_URL": stack.url_for("kinship"),
        "KINSHIP_HTTP_PORT": str(spec.port),
        # The local stack runs with published development credentials: dev profile only.
        "KINSHIP_ENV": "dev",
        "KINSHIP_API_KEYS": os.environ.get(
            "KINSHIP_API_KEYS", all_scopes_key("local", "kinship-dev-key")
        ),
        "KINSHIP_WEBHOOK_SECRET": os.environ.get(
            "KINSHIP_WEBHOOK_SECRET", DEV_CREDENTIALS["KINSHIP_WEBHOOK_SECRET"]
        ),
        # The demo signs its staff's tokens with the dev profile's HS secret (refused
        # outside KINSHIP_ENV=dev); people signing in use Keycloak's keys (OIDC discovery).
        "KINSHIP_JWT_SECRET": os.environ.get(
            "KINSHIP_JWT_SECRET", DEV_CREDENTIALS["KINSHIP_JWT_SECRET"]
        ),
        "KINSHIP_NOTE_KEYS": os.environ.get(
            "KINSHIP_NOTE_KEYS", DEV_CREDENTIALS["KINSHIP_NOTE_KEYS"]
        ),
        "KINSHIP_NOTE_KEY_ID": os.environ.get("KINSHIP_NOTE_KEY_ID", "dev1"),
        # The demo's mailbox (kinship_devstack.receiver.DemoMailbox) receives email locally.
        "KINSHIP_SMTP_HOST": os.environ.get("KINSHIP_SMTP_HOST", "127.0.0.1"),
        "KINSHIP_SMTP_PORT": os.environ.get("KINSHIP_SMTP_PORT", "8025"),
        # No collector runs locally: export nothing unless the developer points OTEL_* at one.
        "OTEL_TRACES_EXPORTER": os.environ.get("OTEL_TRACES_EXPORTER", "none"),
        "OTEL_METRICS_EXPORTER": os.environ.get("OTEL_METRICS_EXPORTER", "none"),
    }


def _paths(stack: LocalStack, spec: ServiceSpec) -> tuple[Path, Path]:
    run, logs = stack.state / "run", stack.state / "logs"
    return run / f"{spec.instance}.pid", logs / f"{spec.instance}.log"


async def start_service(
    stack: LocalStack,
    spec: ServiceSpec,
    timeout: float = 60.0,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Start a service detached (unless it runs already) and wait for its ``/readyz``.

    ``extra_env`` adds settings (the identity provider's, from ``kinship-dev up``).
    """
    pid_file, log = _paths(stack, spec)
    if pid_alive(pid_file) is None:
        if port_open(spec.port):
            raise StackError(f"port {spec.port} for {spec.instance} is taken by another program")
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env={
                    **os.environ,
                    **service_environment(stack, spec),
                    **LANE_SETTINGS,
                    **dict(spec.settings),
                    **(extra_env or {}),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pid_file.write_text(str(process.pid))
    if await wait_until_ready(spec.port, lambda: pid_alive(pid_file) is not None, timeout):
        return
    raise StackError(f"{spec.instance} did not become ready; its log ends:\n{tail(log)}")


async def wait_until_ready(
    port: int, alive: Callable[[], bool], timeout: float, interval: float = 0.5
) -> bool:
    """Ask ``http://127.0.0.1:<port>/readyz`` until it answers 200 (True); False once the
    process is no longer ``alive`` or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and alive():
            try:
                response = await client.get(f"http://127.0.0.1:{port}/readyz")
                if response.status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(interval)
    return False


def stop_service(stack: LocalStack, spec: ServiceSpec) -> None:
    """SIGTERM (graceful: in-flight work finishes and commits), SIGKILL after 20 s."""
    pid_file, _log = _paths(stack, spec)
    stop_pid(pid_file, timeout=20.0)

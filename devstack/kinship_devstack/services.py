"""The services the local stack runs, each in its own process."""

import asyncio
import base64
import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from kinship_devstack.stack import LocalStack, StackError, pid_alive, port_open, stop_pid, tail

DEV_NOTE_KEY = base64.b64encode(b"kinship-dev-note-key-32-bytes!!!").decode()


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service locally."""

    name: str
    module: str
    port: int


SERVICES = (
    ServiceSpec("checkin", "kinship_checkin", 8001),
    ServiceSpec("escalation", "kinship_escalation", 8002),
    ServiceSpec("notifications", "kinship_notifications", 8003),
    ServiceSpec("recognition", "kinship_recognition", 8004),
)


def available_services() -> list[ServiceSpec]:
    """The registered services whose packages are installed (the others are not built yet)."""
    return [spec for spec in SERVICES if importlib.util.find_spec(spec.module) is not None]


def service_environment(stack: LocalStack, spec: ServiceSpec) -> dict[str, str]:
    """The local stack's settings for a service (development keys, never for production)."""
    return {
        "KINSHIP_KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "KINSHIP_DATABASE_URL": stack.url_for("kinship"),
        "KINSHIP_HTTP_PORT": str(spec.port),
        "KINSHIP_API_KEYS": os.environ.get("KINSHIP_API_KEYS", "local=kinship-dev-key"),
        "KINSHIP_WEBHOOK_SECRET": os.environ.get("KINSHIP_WEBHOOK_SECRET", "kinship-dev-secret"),
        "KINSHIP_PSEUDONYM_KEY": os.environ.get(
            "KINSHIP_PSEUDONYM_KEY", "kinship-dev-pseudonym-key-not-for-production"
        ),
        "KINSHIP_NOTE_KEYS": os.environ.get("KINSHIP_NOTE_KEYS", f"dev1:{DEV_NOTE_KEY}"),
        "KINSHIP_NOTE_KEY_ID": os.environ.get("KINSHIP_NOTE_KEY_ID", "dev1"),
    }


def _paths(stack: LocalStack, spec: ServiceSpec) -> tuple[Path, Path]:
    return stack.state / "run" / f"{spec.name}.pid", stack.state / "logs" / f"{spec.name}.log"


async def start_service(stack: LocalStack, spec: ServiceSpec, timeout: float = 60.0) -> None:
    """Start a service detached (unless it runs already) and wait for its ``/readyz``."""
    pid_file, log = _paths(stack, spec)
    if pid_alive(pid_file) is None:
        if port_open(spec.port):
            raise StackError(f"port {spec.port} for {spec.name} is taken by another program")
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", spec.module],
                env={**os.environ, **service_environment(stack, spec)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if pid_alive(pid_file) is None:
                break
            try:
                response = await client.get(f"http://127.0.0.1:{spec.port}/readyz")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise StackError(f"{spec.name} did not become ready; its log ends:\n{tail(log)}")


def stop_service(stack: LocalStack, spec: ServiceSpec) -> None:
    """SIGTERM (graceful: in-flight work finishes and commits), SIGKILL after 20 s."""
    pid_file, _log = _paths(stack, spec)
    stop_pid(pid_file, timeout=20.0)

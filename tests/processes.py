"""Services run as real processes, for crash and shutdown tests."""

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from kinship_devstack.services import wait_until_ready


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``python -m <module>`` with its own environment and log file."""

    def __init__(self, env: dict[str, str], log: Path, module: str = "kinship_checkin") -> None:
        self.module = module
        self.port = _free_port()
        self.env = {
            "OTEL_TRACES_EXPORTER": "none",  # no collector in tests
            "OTEL_METRICS_EXPORTER": "none",
            **os.environ,
            **env,
            "KINSHIP_HTTP_PORT": str(self.port),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**self.env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout: float = 60.0) -> None:
        process = self.process
        assert process is not None
        if await wait_until_ready(self.port, lambda: process.poll() is None, timeout, 0.3):
            return
        if process.poll() is not None:
            raise AssertionError(f"service exited early: {self.log.read_text()[-3000:]}")
        raise AssertionError(f"service not ready: {self.log.read_text()[-3000:]}")

    async def exited(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while self.process.poll() is None:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("service did not exit")
            await asyncio.sleep(0.1)
        return int(self.process.returncode)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

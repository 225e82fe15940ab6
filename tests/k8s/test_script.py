"""scripts/k8s.sh itself: provisioning is skipped when the pinned binaries are there, a broken
start fails quickly and leaves nothing running, and the watchdog stops everything when the
process that started it dies. These run before the session's API server starts (conftest.py):
they use the same fixed ports, with their own state directories."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.k8s.cluster import SCRIPT

PORTS = (32379, 32380, 36443)


def script(
    *args: str, state: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "KINSHIP_K8S_STATE_DIR": str(state), **env}
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        check=False,
    )


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def recorded_pids(state: Path) -> dict[str, int]:
    return {path.stem: int(path.read_text()) for path in state.glob("*.pid")}


def processes_of(state: Path) -> list[str]:
    """The live processes whose command line names the state directory (every one the
    script starts does: etcd's data dir, the servers' keys, the watchdog's argument)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            zombie = "\nState:\tZ" in (entry / "status").read_text()
        except OSError:
            continue  # gone meanwhile
        if str(state) in command and not zombie:
            found.append(f"{entry.name}: {command[:120]}")
    return found


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A state directory of its own; whatever a test started there is stopped after it."""
    yield tmp_path
    script("stop", state=tmp_path, timeout=60)


def assert_nothing_left(state: Path) -> None:
    assert processes_of(state) == []
    assert not any(listening(port) for port in PORTS), "a test port still answers"
    assert script("status", state=state).returncode != 0


def test_provision_is_skipped_when_the_pinned_binaries_are_there(tmp_path: Path) -> None:
    started = time.monotonic()
    result = script("provision", state=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "etcd 3.4.23-4+b4: up to date" in result.stdout
    assert "kube-apiserver, kube-controller-manager v1.35.4: up to date" in result.stdout
    assert "CRDs: Strimzi 0.51.0 KafkaTopic, KafkaUser; KEDA v2.21.0 6 CRDs" in result.stdout
    assert time.monotonic() - started < 60


def test_a_server_that_exits_fails_the_start_at_once_and_stops_etcd(state: Path) -> None:
    started = time.monotonic()
    result = script("start", state=state, KINSHIP_K8S_APISERVER_FLAGS="--no-such-flag")
    assert result.returncode != 0
    assert "start failed: kube-apiserver exited while waiting for the API server's /readyz" in (
        result.stderr
    )
    assert "unknown flag: --no-such-flag" in result.stderr  # the log's tail is shown
    assert time.monotonic() - started < 60
    assert (state / "etcd.log").exists()  # etcd had started, and was stopped
    assert_nothing_left(state)


def test_a_server_that_never_gets_ready_fails_the_start_after_the_timeout(
    state: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The server runs but knows another token than the kubeconfig's: /readyz answers 401.
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.csv"
    tokens.write_text("another-token,someone,someone,system:masters\n")
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", str(SCRIPT), "start"],
        env={
            **os.environ,
            "KINSHIP_K8S_STATE_DIR": str(state),
            "KINSHIP_K8S_START_TIMEOUT": "10",
            "KINSHIP_K8S_APISERVER_FLAGS": f"--token-auth-file {tokens}",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    both = {"etcd", "kube-apiserver"}
    while set(recorded_pids(state)) != both and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(recorded_pids(state)) == both  # both ran
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "start failed: the API server's /readyz: not within 10 s" in stderr
    assert time.monotonic() - started < 60
    assert_nothing_left(state)


def test_a_port_in_use_fails_the_start_before_anything_runs(state: Path) -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 36443))
        holder.listen()
        result = script("start", state=state)
    assert result.returncode != 0
    assert "127.0.0.1:36443 is in use by another process" in result.stderr
    assert recorded_pids(state) == {}


def test_the_watchdog_stops_everything_when_its_owner_dies(state: Path) -> None:
    owner = subprocess.Popen(["sleep", "300"])
    try:
        result = script("start", "--owner-pid", str(owner.pid), state=state, timeout=300)
        assert result.returncode == 0, result.stderr
        assert set(recorded_pids(state)) == {
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "watchdog",
        }
        assert len(processes_of(state)) >= 4
        assert script("status", state=state).returncode == 0
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 40
    while processes_of(state) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert_nothing_left(state)

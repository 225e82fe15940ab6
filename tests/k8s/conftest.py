"""The Helm chart on a real Kubernetes API server (docs/kubernetes.md, "A real API server").

The session's API server is started through ``scripts/k8s.sh start`` on the first test that
needs it and stopped through ``scripts/k8s.sh stop`` when the session ends; the script's
watchdog stops it as well if this pytest process dies without tearing down. The binaries must
have been provisioned (``bash scripts/k8s.sh provision``; ``make k8s`` does it), and helm
built by ``scripts/check-helm.sh`` (``make helm``). Each test installs into its own
namespace.

The tests of the script itself (test_script.py) start and break their own API servers on the
same fixed ports, so they run first, before the session's server starts.
"""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.k8s.cluster import SCRIPT, STATE_DIR, TOOLS_DIR, Helm, Kube, helm_pin, namespaces

START_TIMEOUT = 300  # seconds for scripts/k8s.sh start (each of its waits is bounded too)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "k8s: installs the Helm chart on a real Kubernetes API server (scripts/k8s.sh)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is marked k8s; the script's own tests run first (see above)."""
    mine = [item for item in items if "tests/k8s/" in item.nodeid]
    for item in mine:
        item.add_marker(pytest.mark.k8s)
    first = [item for item in mine if "test_script.py" in item.nodeid]
    if first:
        rest = [item for item in items if item not in first]
        at = next((i for i, item in enumerate(rest) if item in mine), len(rest))
        items[:] = rest[:at] + first + rest[at:]


def run_script(*args: str, timeout: float, env: dict[str, str] | None = None) -> str:
    """scripts/k8s.sh ARGS, which must succeed; its output."""
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"scripts/k8s.sh {' '.join(args)} failed ({result.returncode}):\n{output}")
    return output


_start_failure: list[str] = []


@pytest.fixture(scope="session")
def kube() -> Iterator[Kube]:
    """The session's API server, with the Strimzi and KEDA CRDs Established."""
    if _start_failure:  # pytest sets a failed session fixture up again for every test
        pytest.fail(f"the API server did not start (see the first error): {_start_failure[0]}")
    try:
        run_script("start", "--owner-pid", str(os.getpid()), timeout=START_TIMEOUT)
    except BaseException as error:
        _start_failure.append(str(error).splitlines()[0])
        raise
    client = Kube(STATE_DIR / "kubeconfig")
    try:
        yield client
    finally:
        client.close()
        run_script("stop", timeout=60)


@pytest.fixture(scope="session")
def helm(kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """helm as scripts/check-helm.sh builds it (the same pin), against the test cluster."""
    binary = TOOLS_DIR / "bin" / "helm"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run 'make helm' (scripts/check-helm.sh builds it)")
    tool = Helm(binary, kube.kubeconfig, tmp_path_factory.mktemp("helm"))
    version = tool.ok("version", "--short").strip()
    assert version.split("+")[0] == helm_pin(), f"helm {version}, check-helm.sh pins {helm_pin()}"
    return tool


@pytest.fixture
def namespace(kube: Kube) -> Iterator[Callable[[str], str]]:
    """Makes fresh namespaces (``namespace("default-values")``); deleted after the test."""
    with namespaces(kube) as make:
        yield make


@pytest.fixture
def values_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Writes a values file for one test (``values_file("name", yaml_text)``)."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}-values.yaml"
        path.write_text(text)
        return path

    return write

"""Talking to the test API server (scripts/k8s.sh) and running helm against it.

``Kube`` is a small REST client (httpx, the token and CA of the kubeconfig the script
writes); ``Helm`` runs the pinned helm that scripts/check-helm.sh builds, with its own config
and cache directories and the test kubeconfig only.
"""

import os
import re
import secrets
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "kinship"
REGISTRY = CHART / "files" / "registry.json"
SCRIPT = REPO / "scripts" / "k8s.sh"
TOOLS_DIR = Path(os.environ.get("KINSHIP_TOOLS_DIR", REPO / ".kinship" / "tools"))
STATE_DIR = Path(os.environ.get("KINSHIP_K8S_STATE_DIR", REPO / ".kinship" / "k8s"))
KUBERNETES_VERSION = "1.35.4"

Obj = dict[str, Any]

# The kinds the chart makes: (apiVersion, kind) -> the collection's path under a namespace.
RESOURCES: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "/api/v1/namespaces/{ns}/configmaps",
    ("v1", "Secret"): "/api/v1/namespaces/{ns}/secrets",
    ("v1", "Service"): "/api/v1/namespaces/{ns}/services",
    ("v1", "ServiceAccount"): "/api/v1/namespaces/{ns}/serviceaccounts",
    ("apps/v1", "Deployment"): "/apis/apps/v1/namespaces/{ns}/deployments",
    ("batch/v1", "Job"): "/apis/batch/v1/namespaces/{ns}/jobs",
    ("policy/v1", "PodDisruptionBudget"): "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
    ("networking.k8s.io/v1", "NetworkPolicy"): (
        "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"
    ),
    ("networking.k8s.io/v1", "Ingress"): "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): (
        "/apis/kafka.strimzi.io/v1beta2/namespaces/{ns}/kafkatopics"
    ),
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): (
        "/apis/kafka.strimzi.io/v1beta2/namespaces/{ns}/kafkausers"
    ),
    ("keda.sh/v1alpha1", "ScaledObject"): "/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): (
        "/apis/keda.sh/v1alpha1/namespaces/{ns}/triggerauthentications"
    ),
}


class ApiError(Exception):
    """A request the API server refused: its HTTP status and the Status message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _kubeconfig(path: Path) -> tuple[str, str]:
    """The server and token of the kubeconfig scripts/k8s.sh writes."""
    config = yaml.safe_load(path.read_text())
    return config["clusters"][0]["cluster"]["server"], config["users"][0]["user"]["token"]


class Kube:
    """The API server's REST API, as the admin of the test cluster."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.server, token = _kubeconfig(kubeconfig)
        context = ssl.create_default_context(cafile=str(STATE_DIR / "pki" / "apiserver.crt"))
        self.http = httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}"},
            verify=context,
            timeout=30,
        )

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> Obj:
        body: Obj = response.json()
        if response.is_error:
            raise ApiError(response.status_code, str(body.get("message", body)))
        return body

    def get(self, path: str) -> Obj:
        return self._check(self.http.get(path))

    def exists(self, path: str) -> bool:
        response = self.http.get(path)
        if response.status_code == 404:
            return False
        self._check(response)
        return True

    def items(self, path: str) -> list[Obj]:
        items: list[Obj] = self.get(path)["items"]
        return items

    def create(self, obj: Obj, *, dry_run: bool = False, field_validation: str = "Strict") -> Obj:
        """POST an object to its collection (``dryRun=All``: validated and admitted, not
        stored; ``field_validation``: Strict refuses unknown fields, Warn and Ignore drop
        them); raises ApiError with the server's message when refused."""
        if obj["kind"] == "Namespace":
            path = "/api/v1/namespaces"
        else:
            path = collection(obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"])
        params = {"fieldValidation": field_validation}
        if dry_run:
            params["dryRun"] = "All"
        return self._check(self.http.post(path, json=obj, params=params))

    def create_namespace(self, name: str) -> None:
        """A namespace, once its controllers have given it what every namespace of a real
        cluster has: the default ServiceAccount and the kube-root-ca.crt ConfigMap."""
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        deadline = time.monotonic() + 30
        wanted = (
            f"/api/v1/namespaces/{name}/serviceaccounts/default",
            f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt",
        )
        while not all(self.exists(path) for path in wanted):
            assert time.monotonic() < deadline, f"namespace {name}: no controllers at work"
            time.sleep(0.1)

    def delete_namespace(self, name: str) -> None:
        response = self.http.delete(f"/api/v1/namespaces/{name}")
        if response.status_code != 404:
            self._check(response)

    def namespaced_collections(self) -> Iterator[tuple[str, str]]:
        """Every namespaced resource type the server lists (discovery; each group at its
        preferred version): (``resource[.group]``, a path pattern with ``{ns}``). Built-in
        kinds, the aggregated ones and the registered CRDs."""
        groups = [("/api/v1", "")]
        for group in self.get("/apis")["groups"]:
            version = group["preferredVersion"]["groupVersion"]
            groups.append((f"/apis/{version}", group["name"]))
        for base, group_name in groups:
            for entry in self.get(base)["resources"]:
                if entry["namespaced"] and "/" not in entry["name"] and "list" in entry["verbs"]:
                    key = f"{entry['name']}.{group_name}" if group_name else entry["name"]
                    yield key, f"{base}/namespaces/{{ns}}/{entry['name']}"

    def everything(self, namespace: str) -> set[tuple[str, str]]:
        """(``resource[.group]``, name) of every object in a namespace, of every namespaced
        kind the server has (events aside: the server's own records)."""
        found = set()
        for key, pattern in self.namespaced_collections():
            if key in ("events", "events.events.k8s.io"):
                continue
            for item in self.items(pattern.format(ns=namespace)):
                found.add((key, item["metadata"]["name"]))
        return found


def collection(api_version: str, kind: str, namespace: str) -> str:
    """The REST path of a kind's collection in a namespace."""
    try:
        return RESOURCES[(api_version, kind)].format(ns=namespace)
    except KeyError:
        raise AssertionError(f"no collection known for {api_version} {kind}") from None


def resource(api_version: str, kind: str) -> str:
    """``resource[.group]`` of a kind the chart makes (as ``Kube.everything`` names it)."""
    plural = collection(api_version, kind, "x").rsplit("/", 1)[1]
    group = api_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def load_manifests(text: str) -> list[Obj]:
    """The non-empty documents of a YAML stream (helm's output)."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


@dataclass
class Helm:
    """The pinned helm, against the test cluster only."""

    binary: Path
    kubeconfig: Path
    home: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBE"))}
        env.update(
            KUBECONFIG=str(self.kubeconfig),
            HELM_CONFIG_HOME=str(self.home / "config"),
            HELM_CACHE_HOME=str(self.home / "cache"),
            HELM_DATA_HOME=str(self.home / "data"),
        )
        return env

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """helm ARGS; the completed process whatever its exit code."""
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            cwd=REPO,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 180) -> str:
        """helm ARGS, which must succeed; its standard output."""
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, (
            f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
        )
        return result.stdout

    def manifests(self, release: str, namespace: str) -> list[Obj]:
        """What helm applied for the release (its hooks not included)."""
        return load_manifests(self.ok("get", "manifest", release, "-n", namespace))

    def hooks(self, release: str, namespace: str) -> list[Obj]:
        """The release's hooks, as helm rendered them."""
        return load_manifests(self.ok("get", "hooks", release, "-n", namespace))


def helm_pin() -> str:
    """The helm version scripts/check-helm.sh pins (and builds into the tools directory)."""
    text = (REPO / "scripts" / "check-helm.sh").read_text()
    match = re.search(r"^HELM_VERSION=(\S+)", text, re.M)
    assert match, "scripts/check-helm.sh pins no HELM_VERSION"
    return match.group(1)


def by_kind(objects: Iterable[Obj], kind: str) -> dict[str, Obj]:
    """The objects of one kind, by name."""
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@contextmanager
def namespaces(kube: "Kube", *, unique: bool = True) -> Iterator[Callable[[str], str]]:
    """Makes namespaces (``make("default-values")``, with a random suffix when ``unique``);
    deletes them all on the way out."""
    made: list[str] = []

    def make(purpose: str) -> str:
        name = f"kinship-{purpose}-{secrets.token_hex(3)}" if unique else f"kinship-{purpose}"
        kube.create_namespace(name)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            kube.delete_namespace(name)

"""What an install of the chart must leave on the API server, checked against the registry.

Values and Secrets are made as docs/kubernetes.md tells an operator to (random keys, one value
where services share one, each vault key in KINSHIP_API_KEYS with its scopes); the checks
read back what the server stored, after its validation, defaulting and (for custom
resources) pruning of unknown fields.
"""

import base64
import importlib.util
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.cluster import CHART, REGISTRY, REPO, Kube, Obj, by_kind, collection

REGISTRY_DATA: dict[str, Any] = json.loads(REGISTRY.read_text())
SERVICES: list[str] = sorted(REGISTRY_DATA["services"])
WORKLOADS: list[str] = [*SERVICES, "console"]
RELEASE = "kinship"  # the chart's names are then kinship-<workload>
CHART_TOPIC_CONFIG = {"min.insync.replicas": "2"}  # strimzi.topics.config's default
STRIMZI_API = "kafka.strimzi.io/v1beta2"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
EXCLUDED = "KINSHIP_EXCLUDED_CONSUMERS"
LEADS = "KINSHIP_OUTBOX_RELAY_LEADS"
# The lanes' Deployments (the registry's lanes, on by default): name -> (service, lane entry).
LANES: dict[str, tuple[str, dict[str, Any]]] = {
    f"{RELEASE}-{name}-{lane['name']}": (name, lane)
    for name in SERVICES
    for lane in REGISTRY_DATA["services"][name].get("lanes", [])
}


def write_values(path: Path, values: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def workload(name: str) -> dict[str, Any]:
    """The registry's entry of a service or the console."""
    entry: dict[str, Any] = (
        REGISTRY_DATA["console"] if name == "console" else REGISTRY_DATA["services"][name]
    )
    return entry


def _key(size: int = 48) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


@dataclass(frozen=True)
class SecretValues:
    """Every required secret, as an operator generates them."""

    shared: dict[str, str]
    workloads: dict[str, dict[str, str]]


def make_secret_values() -> SecretValues:
    same = {env: _key() for env in REGISTRY_DATA["sameValueSecrets"]}
    vault = {n: _key() for n in SERVICES if REGISTRY_DATA["services"][n].get("vaultScopes")}
    api_keys = [
        {"name": n, "scopes": REGISTRY_DATA["services"][n]["vaultScopes"], "key": key}
        for n, key in vault.items()
    ]
    shared = {"KINSHIP_DEAD_LETTER_KEY": _key(), "KINSHIP_API_KEYS": json.dumps(api_keys)}
    per: dict[str, dict[str, str]] = {}
    for name in WORKLOADS:
        values = {}
        for secret in workload(name)["secrets"]:
            env = secret["env"]
            if not secret["required"]:
                continue
            if env == "KINSHIP_DATABASE_URL":
                value = f"postgresql://{name}:{secrets.token_hex(16)}@postgres.databases.svc:5432/kinship"
            elif env == "KINSHIP_NOTE_KEYS":
                value = "k1:" + _key(32)
            elif env == "KINSHIP_CASE_NOTE_KEYS":
                value = "c1:" + _key(32)
            elif env == "KINSHIP_CONSOLE_SESSION_KEY":
                value = _key(32)
            elif env == "KINSHIP_CHECKIN_API_KEY":
                value = vault[name]
            else:
                value = same.get(env) or _key()
            values[env] = value
        per[name] = values
    return SecretValues(shared, per)


def default_install_values(given: SecretValues) -> dict[str, Any]:
    """The default values plus only what the chart refuses to install without."""
    services: dict[str, Any] = {n: {"secrets": {"values": given.workloads[n]}} for n in SERVICES}
    services["checkin"]["env"] = {"KINSHIP_NOTE_KEY_ID": "k1"}
    return {
        "config": {
            "oidcIssuer": "https://login.example.com/realms/kinship",
            "consoleUrl": "https://kinship.example.com",
        },
        "secrets": {"values": given.shared},
        "services": services,
        "console": {"secrets": {"values": given.workloads["console"]}},
    }


def existing_secrets(namespace: str, given: SecretValues) -> list[Obj]:
    """The Secrets ci/production-values.yaml names (existingSecret: kinship-shared and
    kinship-<workload>-secrets), as the operator creates them beforehand (docs/kubernetes.md,
    Installing, step 1)."""
    made = [("kinship-shared", given.shared)]
    made += [(f"kinship-{name}-secrets", given.workloads[name]) for name in WORKLOADS]
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "stringData": data,
        }
        for name, data in made
    ]


# --- stored versus rendered ------------------------------------------------------------------


def _normalise(doc: Obj) -> Obj:
    """A rendered Secret's stringData as the server stores it (base64 data)."""
    if doc["kind"] == "Secret" and "stringData" in doc:
        doc = dict(doc)
        data = dict(doc.get("data") or {})
        for key, value in doc.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        doc["data"] = data
    return doc


def _missing(expected: Any, actual: Any, where: str) -> list[str]:
    """Where ``actual`` lacks or changed what ``expected`` says (dicts: every key; lists: same
    length, item by item; scalars: equal)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                # An empty list or object is stored as absent (the API's omitempty): the same.
                if value not in ([], {}, None):
                    problems.append(f"{where}.{key}: dropped by the server")
            else:
                problems += _missing(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: {expected!r} stored as {actual!r}"]
        return [p for i, e in enumerate(expected) for p in _missing(e, actual[i], f"{where}[{i}]")]
    if expected != actual:
        return [f"{where}: {expected!r} stored as {actual!r}"]
    return []


def fetch(kube: Kube, doc: Obj) -> Obj:
    meta = doc["metadata"]
    path = collection(doc["apiVersion"], doc["kind"], meta["namespace"])
    return kube.get(f"{path}/{meta['name']}")


def stored_objects(kube: Kube, rendered: Iterable[Obj]) -> list[Obj]:
    """Every rendered object as the server stores it; fails listing what it changed."""
    stored, problems = [], []
    for doc in rendered:
        found = fetch(kube, doc)
        where = f"{doc['kind']} {doc['metadata']['name']}"
        problems += _missing(_normalise(doc), found, where)
        # Custom resources: what the server keeps is exactly what the chart wrote (a field the
        # CRD does not know would be pruned silently).
        custom = doc["apiVersion"].split("/")[0].endswith((".strimzi.io", "keda.sh"))
        if custom and found.get("spec") != doc.get("spec"):
            problems.append(f"{where}: spec stored as {found.get('spec')!r}")
        stored.append(found)
    assert not problems, "the server did not store what the chart rendered:\n" + "\n".join(problems)
    return stored


def as_manifest(obj: Obj) -> Obj:
    """A stored object without what the server adds to metadata and without status, so the
    chart's own checker (deploy/helm/verify_rendered.py) reads it as a manifest."""
    meta = obj["metadata"]
    kept = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    if "annotations" in kept:
        kept["annotations"] = {
            k: v for k, v in kept["annotations"].items() if not k.startswith("meta.helm.sh/")
        }
    manifest = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    manifest["metadata"] = kept
    return manifest


def registry_checker_problems(objects: list[Obj], name: str) -> list[str]:
    """deploy/helm/verify_rendered.py's checks (topics, ACLs, Deployments, hooks, KEDA,
    settings, secrets, NetworkPolicies evaluated) run on the objects given."""
    spec = importlib.util.spec_from_file_location(
        "verify_rendered", REPO / "deploy" / "helm" / "verify_rendered.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problems: list[str] = module.Checker(REGISTRY_DATA, objects, name).run()
    return problems


# --- the registry, stored ---------------------------------------------------------------------


def _acls(user: Obj) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern type, operation) of a KafkaUser's ACLs."""
    found = set()
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow"
        resource = acl["resource"]
        for operation in acl.get("operations") or [acl["operation"]]:
            found.add((resource["type"], resource["name"], resource["patternType"], operation))
    return found


def check_topics(stored: list[Obj]) -> None:
    """Every registry topic (and its .dlq) is a KafkaTopic with the registry's partitions and
    config, and nothing else is."""
    topics = {t["spec"]["topicName"]: t for t in by_kind(stored, "KafkaTopic").values()}
    registry = {t["name"]: t for t in REGISTRY_DATA["topics"]}
    assert set(topics) == set(registry)
    for name, entry in registry.items():
        if not name.endswith(".dlq"):
            assert f"{name}.dlq" in topics, f"{name} has no dead-letter topic"
        topic = topics[name]
        assert topic["apiVersion"] == STRIMZI_API
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
        assert topic["spec"]["partitions"] == entry["partitions"], name
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"] == {**CHART_TOPIC_CONFIG, **entry["config"]}, name


def check_users(stored: list[Obj], prefix: str = "kinship") -> None:
    """Each service's KafkaUser has exactly its registry ACLs."""
    users = by_kind(stored, "KafkaUser")
    for name in SERVICES:
        acls = _acls(users[f"{RELEASE}-{name}"])
        entry = REGISTRY_DATA["services"][name]["acls"]
        read = {(n, op) for t, n, p, op in acls if t == "topic" and op == "Read"}
        write = {(n, op) for t, n, p, op in acls if t == "topic" and op == "Write"}
        described = {n for t, n, p, op in acls if t == "topic" and op == "Describe"}
        assert read == {(t, "Read") for t in entry["read"]}, name
        assert write == {(t, "Write") for t in entry["write"]}, name
        assert described == set(entry["read"]) | set(entry["write"]), name
        assert {(t, n, p) for t, n, p, _ in acls if t == "group"} == {
            ("group", f"{prefix}.{name}.", "prefix")
        }, name
        assert all(p == "literal" for t, _, p, _ in acls if t == "topic"), name
        assert not {op for *_, op in acls} - {"Read", "Write", "Describe"}, name


def excluded(deployment: Obj) -> list[str] | None:
    """A Deployment's KINSHIP_EXCLUDED_CONSUMERS (None: not set)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    found = [e["value"] for e in container.get("env", []) if e["name"] == EXCLUDED]
    assert len(found) <= 1
    return found[0].split(",") if found else None


def scale_groups(name: str, lanes: bool) -> set[str]:
    """The groups whose lag KEDA scales a Deployment (a workload's or a lane's) on."""
    if name in LANES:
        return {s["group"] for s in LANES[name][1]["scaleOn"]}
    service = name.removeprefix(f"{RELEASE}-")
    entry = REGISTRY_DATA["services"].get(service, {})
    moved = set(entry.get("mainExcluded", [])) if lanes else set()
    return {s["group"] for s in entry.get("scaleOn", [])} - moved


def check_selectors(deployments: dict[str, Obj], services: dict[str, Obj]) -> None:
    """No Deployment's selector picks another's pods (they would fight over them); a Service
    picks only its workload's own Deployment's pods, never a lane's."""
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"].items()
        for other, pods in deployments.items():
            labels = pods["spec"]["template"]["metadata"]["labels"].items()
            assert (selector <= labels) == (other == name), (name, other)
    for name, service in services.items():
        for other, pods in deployments.items():
            labels = pods["spec"]["template"]["metadata"]["labels"].items()
            assert (service["spec"]["selector"].items() <= labels) == (other == name), (name, other)


def check_lane(deployment: Obj, main: Obj, lane: dict[str, Any]) -> None:
    """A lane's pod is its service's (image, command, settings, secrets, account), but for the
    consumers it leaves (its KINSHIP_EXCLUDED_CONSUMERS) and its labels."""
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pod_labels["app.kubernetes.io/component"] == lane["name"]
    spec, main_spec = deployment["spec"]["template"]["spec"], main["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == main_spec["serviceAccountName"]
    (container,), (main_container,) = spec["containers"], main_spec["containers"]
    for key in ("image", "command", "args", "ports", "envFrom", "readinessProbe"):
        assert container[key] == main_container[key], key
    own = (EXCLUDED, LEADS)
    others = [e for e in container["env"] if e["name"] not in own]
    assert others == [e for e in main_container["env"] if e["name"] not in own]
    assert excluded(deployment) == (lane["excluded"] or None)
    # A lane that must not lead the outbox relay says so; the main Deployment never does.
    leads = [e["value"] for e in container["env"] if e["name"] == LEADS]
    assert leads == ([] if lane.get("relayLeads", True) else ["false"])
    assert not [e for e in main_container["env"] if e["name"] == LEADS]


def check_workloads(
    stored: list[Obj], *, keda: bool, replicas: dict[str, int] | None = None, lanes: bool = True
) -> None:
    """Each workload has its Deployment (``replicas``: those not 2, the default, by workload
    or lane name: "checkin", "checkin-ingest"), Service,
    PDB, ServiceAccount and NetworkPolicy, wired to each other; each lane (when ``lanes``) a
    Deployment, PDB and NetworkPolicy of its own, its pods picked by no other selector; each
    Deployment that runs a group KEDA scales on its ScaledObject when KEDA is on."""
    deployments = by_kind(stored, "Deployment")
    services = by_kind(stored, "Service")
    pdbs = by_kind(stored, "PodDisruptionBudget")
    policies = by_kind(stored, "NetworkPolicy")
    accounts = by_kind(stored, "ServiceAccount")
    scaled = by_kind(stored, "ScaledObject")
    lane_names = set(LANES) if lanes else set()
    assert set(deployments) == {f"{RELEASE}-{n}" for n in WORKLOADS} | lane_names
    check_selectors(deployments, services)
    expected_scaled = set()
    for full in sorted(lane_names):
        service_name, lane = LANES[full]
        deployment = deployments[full]
        check_lane(deployment, deployments[f"{RELEASE}-{service_name}"], lane)
        selector = deployment["spec"]["selector"]["matchLabels"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdbs[full]["spec"]["selector"]["matchLabels"] == selector
        assert policies[full]["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        if keda and scale_groups(full, lanes):
            expected_scaled.add(full)
            groups = {t["metadata"]["consumerGroup"] for t in scaled[full]["spec"]["triggers"]}
            assert groups == {f"kinship.{service_name}.{g}" for g in scale_groups(full, lanes)}
            assert deployment["spec"]["replicas"] == 1
        else:
            lane_name = full.removeprefix(f"{RELEASE}-")
            assert deployment["spec"]["replicas"] == (replicas or {}).get(lane_name, 2), full
    for name in WORKLOADS:
        full, port = f"{RELEASE}-{name}", workload(name)["httpPort"]
        deployment = deployments[full]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {p["containerPort"] for p in container["ports"]} == {port}
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == full
        assert accounts[full]["automountServiceAccountToken"] is False
        service = services[full]
        assert service["spec"]["selector"] == selector
        assert [p["port"] for p in service["spec"]["ports"]] == [port]
        assert service["spec"]["clusterIP"], "the server allocates a ClusterIP"
        assert pdbs[full]["spec"]["selector"]["matchLabels"] == selector
        assert policies[full]["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        assert set(policies[full]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        main_excluded = REGISTRY_DATA["services"].get(name, {}).get("mainExcluded")
        assert excluded(deployment) == ((main_excluded or None) if lanes else None), name
        if keda and scale_groups(full, lanes):
            expected_scaled.add(full)
            assert scaled[full]["spec"]["scaleTargetRef"]["name"] == full
            groups = {t["metadata"]["consumerGroup"] for t in scaled[full]["spec"]["triggers"]}
            assert groups == {f"kinship.{name}.{g}" for g in scale_groups(full, lanes)}
            # No replicas of its own: the server's default until KEDA's HPA sets them.
            assert deployment["spec"]["replicas"] == 1
        else:
            assert full not in scaled
            assert deployment["spec"]["replicas"] == (replicas or {}).get(name, 2), name
    assert set(scaled) == expected_scaled
    for target in scaled.values():
        assert target["spec"]["scaleTargetRef"]["name"] in deployments


def check_wiring(kube: Kube, namespace: str, stored: list[Obj]) -> None:
    """In-cluster URLs in the ConfigMaps name Services that exist on those ports; every
    Secret key a pod needs (not optional) is in a Secret of the namespace, except the ones
    Strimzi's operators write (the KafkaUsers' credentials and the cluster CA)."""
    services = by_kind(stored, "Service")
    for config in by_kind(stored, "ConfigMap").values():
        for key, value in config.get("data", {}).items():
            if isinstance(value, str) and value.startswith(f"http://{RELEASE}-"):
                host, port = value.removeprefix("http://").split("/")[0].split(":")
                assert host in services, f"{config['metadata']['name']} {key}: no Service {host}"
                assert int(port) in [p["port"] for p in services[host]["spec"]["ports"]]
    # Strimzi's User Operator writes a Secret named after each KafkaUser (its credentials):
    # a Secret of ours by that name would be overwritten.
    strimzi = set(by_kind(stored, "KafkaUser")) | {"kafka-cluster-ca-cert"}
    secrets_path = collection("v1", "Secret", namespace)
    present = {s["metadata"]["name"]: set(s.get("data", {})) for s in kube.items(secrets_path)}
    clashes = strimzi & set(present)
    assert not clashes, f"Strimzi would overwrite the Secrets {sorted(clashes)}"
    for deployment in by_kind(stored, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional") and ref["name"] not in strimzi:
                    where = f"{deployment['metadata']['name']} {env['name']}"
                    assert ref["key"] in present.get(ref["name"], set()), (
                        f"{where}: Secret {ref['name']} has no key {ref['key']}"
                    )
        for volume in pod.get("volumes", []):
            name = volume.get("secret", {}).get("secretName")
            assert name is None or name in strimzi or name in present, name

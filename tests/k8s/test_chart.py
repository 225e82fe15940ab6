"""deploy/helm/kinship installed, upgraded and uninstalled on a real API server (v1.35.4, with
the Strimzi and KEDA CRDs): what the server stores is what the chart rendered and what the
registry (files/registry.json) says.

There is no kubelet, scheduler, Job controller or operator: pods never run, the migration
hooks never complete (so the installs here use --no-hooks, the hooks are admitted by the
server in a dry run, and one test shows helm creating the first hook and waiting on it), and
Strimzi never writes the KafkaUsers' Secrets.
"""

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.cluster import (
    CHART,
    KUBERNETES_VERSION,
    Helm,
    Kube,
    Obj,
    by_kind,
    collection,
    namespaces,
    resource,
)
from tests.k8s.release import (
    PRODUCTION_VALUES,
    REGISTRY_DATA,
    RELEASE,
    SERVICES,
    WORKLOADS,
    as_manifest,
    check_topics,
    check_users,
    check_wiring,
    check_workloads,
    default_install_values,
    existing_secrets,
    make_secret_values,
    registry_checker_problems,
    stored_objects,
    workload,
    write_values,
)

# Strimzi topics outlive the release (helm.sh/resource-policy: keep).
KEPT_KINDS = ("KafkaTopic",)


@pytest.fixture(scope="module")
def module_namespace(kube: Kube) -> Iterator[Callable[[str], str]]:
    with namespaces(kube, unique=False) as make:
        yield make


def install(helm: Helm, namespace: str, *values: Path, hooks: bool = False) -> str:
    args = ["install", RELEASE, str(CHART), "-n", namespace]
    for path in values:
        args += ["-f", str(path)]
    if not hooks:
        args.append("--no-hooks")
    return helm.ok(*args)


def baseline(kube: Kube, namespace: str) -> set[tuple[str, str]]:
    """What a fresh namespace holds before any install (the controllers' ServiceAccount and
    CA ConfigMap) plus whatever the test created in it."""
    return kube.everything(namespace)


def hooks_admitted(kube: Kube, helm: Helm, namespace: str) -> list[Obj]:
    """The release's hooks, each created in a server-side dry run (validated, defaulted and
    admitted, not stored); what the server would store."""
    hooks = helm.hooks(RELEASE, namespace)
    jobs = by_kind(hooks, "Job")
    assert set(jobs) == {f"{RELEASE}-{n}-migrate" for n in WORKLOADS}
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    return [kube.create(hook, dry_run=True) for hook in hooks]


@pytest.fixture(scope="module")
def default_release(
    kube: Kube, helm: Helm, module_namespace: Callable[[str], str], tmp_path_factory: Any
) -> tuple[str, list[Obj], list[Obj]]:
    """The chart with its default values and only the settings it cannot install without."""
    namespace = module_namespace("default-values")
    values = write_values(
        tmp_path_factory.mktemp("default") / "values.yaml",
        default_install_values(make_secret_values()),
    )
    install(helm, namespace, values)
    rendered = helm.manifests(RELEASE, namespace)
    return namespace, stored_objects(kube, rendered), hooks_admitted(kube, helm, namespace)


@pytest.fixture(scope="module")
def production_release(
    kube: Kube, helm: Helm, module_namespace: Callable[[str], str]
) -> tuple[str, list[Obj], list[Obj]]:
    """ci/production-values.yaml after the operator created the Secrets it names."""
    namespace = module_namespace("production")
    for secret in existing_secrets(namespace, make_secret_values()):
        kube.create(secret)
    install(helm, namespace, PRODUCTION_VALUES)
    rendered = helm.manifests(RELEASE, namespace)
    return namespace, stored_objects(kube, rendered), hooks_admitted(kube, helm, namespace)


def test_the_server_reports_the_pinned_version_and_serves_the_crds(kube: Kube) -> None:
    # The chart's kubeVersion (>=1.30.0-0) is checked against this at install.
    assert kube.get("/version")["gitVersion"] == f"v{KUBERNETES_VERSION}"
    served = {
        (group["name"], version["version"])
        for group in kube.get("/apis")["groups"]
        for version in group["versions"]
    }
    assert {("kafka.strimzi.io", "v1beta2"), ("kafka.strimzi.io", "v1")} <= served
    assert {("keda.sh", "v1alpha1"), ("eventing.keda.sh", "v1alpha1")} <= served


def test_an_install_without_the_required_settings_fails_naming_them(
    kube: Kube, helm: Helm, namespace: Callable[[str], str]
) -> None:
    ns = namespace("missing")
    before = baseline(kube, ns)
    # Without its required secrets the chart refuses to render, so nothing is installed.
    result = helm.run("install", RELEASE, str(CHART), "-n", ns, "--no-hooks")
    assert result.returncode != 0
    assert "Kinship cannot start without:" in result.stderr
    missing = ["secrets.values.KINSHIP_DEAD_LETTER_KEY", "services.checkin.env.KINSHIP_NOTE_KEY_ID"]
    missing += ["config.oidcIssuer (or console.oidc.issuer)", "config.consoleUrl"]
    for name in WORKLOADS:
        path = "console.secrets" if name == "console" else f"services.{name}.secrets"
        missing += [f"{path}.values.{s['env']}" for s in workload(name)["secrets"] if s["required"]]
    for text in missing:
        assert text in result.stderr
    assert kube.everything(ns) == before, "a refused install must create nothing"
    assert before == {("configmaps", "kube-root-ca.crt"), ("serviceaccounts", "default")}


def test_default_values_store_the_registry(
    default_release: tuple[str, list[Obj], list[Obj]],
) -> None:
    _, stored, _ = default_release
    check_topics(stored)
    check_users(stored)
    check_workloads(stored, keda=False)
    kinds = {o["kind"] for o in stored}
    assert not kinds & {"ScaledObject", "TriggerAuthentication", "Ingress"}
    # The chart created the Secrets from values: one shared, one per workload.
    assert set(by_kind(stored, "Secret")) == {f"{RELEASE}-shared-secrets"} | {
        f"{RELEASE}-{n}-secrets" for n in WORKLOADS
    }


def test_default_values_wiring_and_hooks(
    kube: Kube, default_release: tuple[str, list[Obj], list[Obj]]
) -> None:
    namespace, stored, hooks = default_release
    check_wiring(kube, namespace, stored)
    # Hook Secrets carry only the database URLs; hook NetworkPolicies fence the Jobs.
    assert set(by_kind(hooks, "Secret")) == {f"{RELEASE}-{n}-migrations" for n in WORKLOADS}
    assert set(by_kind(hooks, "NetworkPolicy")) == {f"{RELEASE}-{n}-migrations" for n in WORKLOADS}
    problems = registry_checker_problems([as_manifest(o) for o in stored + hooks], "default")
    assert problems == []


def test_production_values_store_the_registry(
    production_release: tuple[str, list[Obj], list[Obj]],
) -> None:
    _, stored, _ = production_release
    check_topics(stored)
    check_users(stored)
    check_workloads(stored, keda=True)
    assert set(by_kind(stored, "KafkaUser")) == {f"{RELEASE}-{n}" for n in SERVICES} | {"hr-portal"}
    assert set(by_kind(stored, "TriggerAuthentication")) == {
        f"{RELEASE}-{n}-kafka" for n in SERVICES
    }
    (ingress,) = by_kind(stored, "Ingress").values()
    assert ingress["spec"]["rules"][0]["host"] == "kinship.example.com"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    # existingSecret everywhere: the chart creates no Secret of its own.
    assert by_kind(stored, "Secret") == {}


def test_production_values_wiring_and_hooks(
    kube: Kube, production_release: tuple[str, list[Obj], list[Obj]]
) -> None:
    namespace, stored, hooks = production_release
    check_wiring(kube, namespace, stored)
    # With existing Secrets, the migration Jobs read them directly: no hook Secret.
    assert by_kind(hooks, "Secret") == {}
    problems = registry_checker_problems([as_manifest(o) for o in stored + hooks], "production")
    assert problems == []


def test_helm_runs_the_migration_hook_first_and_waits_for_it(
    kube: Kube, helm: Helm, namespace: Callable[[str], str], tmp_path: Path
) -> None:
    """With hooks: helm creates the hook Secrets and NetworkPolicies (weight -10), then the
    first migration Job, and waits for it before creating anything else. Nothing runs the Job
    here, so the install fails at its timeout; helm then deletes the hooks that succeeded
    (hook-succeeded) and keeps the Job (before-hook-creation) for its logs."""
    ns = namespace("hooks")
    values = write_values(tmp_path / "values.yaml", default_install_values(make_secret_values()))
    jobs_path = collection("batch/v1", "Job", ns)
    migrations = {f"{RELEASE}-{n}-migrations" for n in WORKLOADS}
    started = time.monotonic()
    with subprocess.Popen(
        [str(helm.binary), "install", RELEASE, str(CHART), "-n", ns, "-f", str(values),
         "--timeout", "30s"],
        env=helm.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as install:  # fmt: skip
        while not kube.items(jobs_path) and time.monotonic() - started < 25:
            time.sleep(0.2)
        # While helm waits for the first Job: the hooks before it exist, the release's
        # objects do not.
        (job,) = kube.items(jobs_path)
        secrets = {s["metadata"]["name"] for s in kube.items(collection("v1", "Secret", ns))}
        policies = kube.items(collection("networking.k8s.io/v1", "NetworkPolicy", ns))
        deployments = kube.items(collection("apps/v1", "Deployment", ns))
        assert install.poll() is None, "helm did not wait for the Job"
        _, stderr = install.communicate(timeout=120)
    assert job["metadata"]["name"] in {f"{RELEASE}-{n}-migrate" for n in WORKLOADS}
    assert migrations <= secrets
    assert {p["metadata"]["name"] for p in policies} == migrations
    assert deployments == []
    assert install.returncode != 0
    assert "failed pre-install" in stderr and "timed out waiting for the condition" in stderr
    assert [j["metadata"]["name"] for j in kube.items(jobs_path)] == [job["metadata"]["name"]]
    left = {s["metadata"]["name"] for s in kube.items(collection("v1", "Secret", ns))}
    assert not left & migrations
    assert kube.items(collection("apps/v1", "Deployment", ns)) == []
    status = helm.ok("status", RELEASE, "-n", ns, "-o", "json")
    assert yaml.safe_load(status)["info"]["status"] == "failed"


def test_upgrade_to_changed_values(
    kube: Kube, helm: Helm, namespace: Callable[[str], str], tmp_path: Path
) -> None:
    """From production values to the same with KEDA off, three check-in replicas and DEBUG
    logs: the ScaledObjects go, the Deployments get replicas and roll (new ConfigMap)."""
    ns = namespace("upgrade")
    for secret in existing_secrets(ns, make_secret_values()):
        kube.create(secret)
    install(helm, ns, PRODUCTION_VALUES)
    before = {d["metadata"]["name"]: d for d in kube.items(collection("apps/v1", "Deployment", ns))}
    changed = write_values(
        tmp_path / "changed.yaml",
        {
            "keda": {"enabled": False},
            "config": {"logLevel": "DEBUG"},
            "services": {"checkin": {"replicas": 3}},
        },
    )
    helm.ok("upgrade", RELEASE, str(CHART), "-n", ns, "-f", str(PRODUCTION_VALUES), "-f",
            str(changed), "--no-hooks")  # fmt: skip
    stored = stored_objects(kube, helm.manifests(RELEASE, ns))
    assert kube.items(collection("keda.sh/v1alpha1", "ScaledObject", ns)) == []
    assert kube.items(collection("keda.sh/v1alpha1", "TriggerAuthentication", ns)) == []
    # The check-in ingest's replicas are the service's unless it has its own.
    check_workloads(stored, keda=False, replicas={"checkin": 3, "checkin-ingest": 3})
    after = by_kind(stored, "Deployment")
    configs = by_kind(stored, "ConfigMap")
    for name in WORKLOADS:
        assert configs[f"{RELEASE}-{name}"]["data"]["KINSHIP_LOG_LEVEL"] == "DEBUG"
        old, new = before[f"{RELEASE}-{name}"], after[f"{RELEASE}-{name}"]
        assert new["metadata"]["generation"] > old["metadata"]["generation"], name
        # The pod template changed (its config checksum), so the pods would roll.
        assert new["spec"]["template"] != old["spec"]["template"], name
    revision = yaml.safe_load(helm.ok("status", RELEASE, "-n", ns, "-o", "json"))
    assert (revision["version"], revision["info"]["status"]) == (2, "deployed")


def test_uninstall_leaves_nothing_but_the_kept_topics(
    kube: Kube, helm: Helm, namespace: Callable[[str], str]
) -> None:
    ns = namespace("uninstall")
    for secret in existing_secrets(ns, make_secret_values()):
        kube.create(secret)
    before = baseline(kube, ns)
    install(helm, ns, PRODUCTION_VALUES)
    installed = kube.everything(ns) - before
    rendered = helm.manifests(RELEASE, ns)
    assert len(installed) > len(rendered)  # the chart's objects and helm's release record
    helm.ok("uninstall", RELEASE, "-n", ns)
    left = kube.everything(ns) - before
    kept = [o for o in rendered if o["kind"] in KEPT_KINDS]
    assert left == {(resource(o["apiVersion"], o["kind"]), o["metadata"]["name"]) for o in kept}
    assert len(kept) == len(REGISTRY_DATA["topics"])
    for topic in kept:
        path = collection(topic["apiVersion"], topic["kind"], ns)
        stored = kube.get(f"{path}/{topic['metadata']['name']}")
        assert stored["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

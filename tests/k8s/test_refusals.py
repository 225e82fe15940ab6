"""What the API server refuses that the offline checks (values.schema.json, kubeconform with
the vendored schemas, verify_rendered.py) let through or cannot see: CRD validation, the
built-in kinds' validation, and a values mistake only the server catches. Each case starts
from an object the chart renders and breaks one thing; the refusal's message is asserted and
nothing is stored."""

import contextlib
import copy
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.k8s.cluster import (
    CHART,
    KUBERNETES_VERSION,
    REPO,
    STATE_DIR,
    TOOLS_DIR,
    ApiError,
    Helm,
    Kube,
    Obj,
    by_kind,
    collection,
    load_manifests,
)
from tests.k8s.release import (
    PRODUCTION_VALUES,
    RELEASE,
    default_install_values,
    make_secret_values,
    stored_objects,
    write_values,
)


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> list[Obj]:
    """The chart rendered with the production values (KEDA on), for namespace ``refusals``."""
    text = helm.ok(
        "template", RELEASE, str(CHART), "-n", "refusals", "--kube-version", KUBERNETES_VERSION,
        "-f", str(PRODUCTION_VALUES),
    )  # fmt: skip
    return load_manifests(text)


def refused(kube: Kube, namespace: str, obj: Obj) -> str:
    """Creates ``obj`` in ``namespace`` for real; it must be refused (422) and not stored."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    with pytest.raises(ApiError) as refusal:
        kube.create(obj)
    assert refusal.value.status == 422, refusal.value
    path = collection(obj["apiVersion"], obj["kind"], namespace)
    assert not kube.exists(f"{path}/{obj['metadata']['name']}")
    return refusal.value.message


def accepted(kube: Kube, namespace: str, obj: Obj) -> None:
    """The unbroken object is accepted (dry run): the refusal is the one change's."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = namespace
    kube.create(obj, dry_run=True)


def test_a_topic_with_no_partitions(
    kube: Kube, rendered: list[Obj], namespace: Callable[[str], str]
) -> None:
    ns = namespace("refusals")
    topic = by_kind(rendered, "KafkaTopic")["wellbeing.checkins.urgent"]
    accepted(kube, ns, topic)
    broken = copy.deepcopy(topic)
    broken["spec"]["partitions"] = 0
    message = refused(kube, ns, broken)
    assert (
        "spec.partitions: Invalid value: 0: spec.partitions in body should be greater than or equal to 1"
        in message
    )


def test_a_scaled_object_without_its_target(
    kube: Kube, rendered: list[Obj], namespace: Callable[[str], str]
) -> None:
    ns = namespace("refusals")
    scaled = by_kind(rendered, "ScaledObject")[f"{RELEASE}-escalation"]
    accepted(kube, ns, scaled)
    broken = copy.deepcopy(scaled)
    del broken["spec"]["scaleTargetRef"]
    assert "spec.scaleTargetRef: Required value" in refused(kube, ns, broken)


def test_a_deployment_whose_selector_does_not_match_its_pods(
    kube: Kube, rendered: list[Obj], namespace: Callable[[str], str]
) -> None:
    ns = namespace("refusals")
    deployment = by_kind(rendered, "Deployment")[f"{RELEASE}-checkin"]
    accepted(kube, ns, deployment)
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = "someone-else"
    message = refused(kube, ns, broken)
    assert "spec.template.metadata.labels" in message
    assert "`selector` does not match template `labels`" in message


def test_a_kafka_user_with_a_misspelt_operation(
    kube: Kube, rendered: list[Obj], namespace: Callable[[str], str]
) -> None:
    ns = namespace("refusals")
    user = by_kind(rendered, "KafkaUser")[f"{RELEASE}-recognition"]
    accepted(kube, ns, user)
    broken = copy.deepcopy(user)
    acl = broken["spec"]["authorization"]["acls"][0]
    acl.pop("operations", None)
    acl["operation"] = "Wirte"
    message = refused(kube, ns, broken)
    assert 'spec.authorization.acls[0].operation: Unsupported value: "Wirte"' in message


def kubeconform(manifest: Path) -> subprocess.CompletedProcess[str]:
    """scripts/check-helm.sh's schema check, on one rendered file."""
    return subprocess.run(
        [
            str(TOOLS_DIR / "bin" / "kubeconform"), "-strict", "-summary",
            "-kubernetes-version", KUBERNETES_VERSION, "-schema-location",
            "deploy/schemas/kubernetes/{{ .NormalizedKubernetesVersion }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            "deploy/schemas/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            str(manifest),
        ],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip


def test_requests_above_limits_pass_the_offline_checks_and_fail_the_install(
    kube: Kube, helm: Helm, namespace: Callable[[str], str], tmp_path: Path
) -> None:
    """An operator raises the memory request and forgets the limit (512Mi): values.schema.json,
    helm template and kubeconform accept it; the server refuses the Deployments."""
    values = default_install_values(make_secret_values())
    values["serviceDefaults"] = {"resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}}
    path = write_values(tmp_path / "values.yaml", values)
    render = helm.ok(
        "template", RELEASE, str(CHART), "-n", "x", "--kube-version", KUBERNETES_VERSION,
        "-f", str(path),
    )  # fmt: skip
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(render)
    offline = kubeconform(manifest)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    ns = namespace("refusals")
    result = helm.run("install", RELEASE, str(CHART), "-n", ns, "-f", str(path), "--no-hooks")
    assert result.returncode != 0
    assert (
        'spec.template.spec.containers[0].resources.requests: Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi'
        in result.stderr
    )
    assert kube.items(collection("apps/v1", "Deployment", ns)) == []


def test_an_unknown_field_is_refused_strictly_or_pruned_and_the_install_check_sees_it(
    kube: Kube, rendered: list[Obj], namespace: Callable[[str], str]
) -> None:
    """A field the CRD does not know: refused with fieldValidation=Strict; dropped silently
    otherwise (the server's default is Warn: helm prints a warning and carries on). The
    tests' stored-versus-rendered comparison (release.stored_objects) reports the drop."""
    ns = namespace("refusals")
    topic = copy.deepcopy(by_kind(rendered, "KafkaTopic")["escalation.cases"])
    topic["metadata"]["namespace"] = ns
    topic["spec"]["retentionHours"] = 720  # Strimzi's field is config.retention.ms
    with pytest.raises(ApiError) as refusal:
        kube.create(topic)
    assert 'unknown field "spec.retentionHours"' in refusal.value.message
    kube.create(topic, field_validation="Ignore")
    with pytest.raises(
        AssertionError, match=r"KafkaTopic escalation.cases.spec.retentionHours: dropped"
    ):
        stored_objects(kube, [topic])


def test_nobody_without_the_admin_credentials_reaches_the_cluster(kube: Kube) -> None:
    # The API server: no anonymous access (a machine shared with other users' sessions).
    context = ssl.create_default_context(cafile=str(STATE_DIR / "pki" / "apiserver.crt"))
    with httpx.Client(base_url=kube.server, verify=context, timeout=10) as anonymous:
        assert anonymous.get("/api/v1/namespaces").status_code == 401
    # etcd: TLS, and only a client certificate from its own CA is answered.
    etcd_ca = ssl.create_default_context(cafile=str(STATE_DIR / "pki" / "etcd-ca.crt"))
    with httpx.Client(verify=etcd_ca, timeout=10) as stranger, pytest.raises(httpx.HTTPError):
        stranger.get("https://127.0.0.1:32379/v2/keys")
    # The admin token is on no process's command line.
    token = (STATE_DIR / "token").read_text().strip()
    assert not [line for line in _command_lines() if token in line]


def _command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines

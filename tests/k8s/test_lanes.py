"""The lanes (docs/kubernetes.md, Lanes): the escalation service's urgent lane and the
check-in service's ingest run as Deployments of their own, as the local stack runs them, so
that work people wait for never queues for CPU behind bulk work.

Most cases render the chart offline (helm template, no API server): the consumers each
Deployment leaves to another (KINSHIP_EXCLUDED_CONSUMERS), that every consumer group runs
somewhere, that no Service or other Deployment picks a lane's pods, KEDA's targets, and the
lanes' own values. The last installs on the API server and turns the lanes off by an upgrade.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.cluster import (
    CHART,
    KUBERNETES_VERSION,
    TOOLS_DIR,
    Helm,
    Kube,
    Obj,
    by_kind,
    collection,
    load_manifests,
)
from tests.k8s.release import (
    EXCLUDED,
    LANES,
    PRODUCTION_VALUES,
    REGISTRY_DATA,
    RELEASE,
    SERVICES,
    WORKLOADS,
    as_manifest,
    check_workloads,
    default_install_values,
    excluded,
    existing_secrets,
    make_secret_values,
    registry_checker_problems,
    stored_objects,
    write_values,
)

Render = Callable[..., list[Obj]]
LANES_OFF = (
    "--set", "services.checkin.ingest.enabled=false",
    "--set", "services.escalation.urgentLane.enabled=false",
)  # fmt: skip
KEDA_ON = ("--set", "keda.enabled=true")


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """helm template of the chart with the default values (and the settings it cannot render
    without), plus the arguments given; the rendered objects."""
    binary = TOOLS_DIR / "bin" / "helm"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run 'make helm' (scripts/check-helm.sh builds it)")
    home = tmp_path_factory.mktemp("lanes")
    tool = Helm(binary, home / "no-cluster", home)  # helm template calls no API server
    values = write_values(home / "values.yaml", default_install_values(make_secret_values()))

    def run(*args: str) -> list[Obj]:
        text = tool.ok(
            "template", RELEASE, str(CHART), "-n", "lanes", "--kube-version", KUBERNETES_VERSION,
            "-f", str(values), *args,
        )  # fmt: skip
        return load_manifests(text)

    return run


def groups_running(deployments: dict[str, Obj], service: str) -> list[set[str]]:
    """The consumer groups each Deployment of a service runs."""
    groups = set(REGISTRY_DATA["services"][service]["groups"])
    return [
        groups - set(excluded(d) or [])
        for name, d in deployments.items()
        if name == f"{RELEASE}-{service}" or LANES.get(name, ("",))[0] == service
    ]


def labels_of(deployment: Obj) -> dict[str, Any]:
    labels: dict[str, Any] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_defaults_run_the_urgent_lane_and_check_in_ingest_apart(render: Render) -> None:
    objects = render()
    deployments = by_kind(objects, "Deployment")
    assert set(deployments) == {f"{RELEASE}-{n}" for n in WORKLOADS} | {
        f"{RELEASE}-checkin-ingest",
        f"{RELEASE}-escalation-urgent",
    }
    # The local stack's settings, where the alert latency was measured.
    assert excluded(deployments[f"{RELEASE}-escalation"]) == ["urgent"]
    assert excluded(deployments[f"{RELEASE}-escalation-urgent"]) == ["checkins"]
    assert excluded(deployments[f"{RELEASE}-checkin"]) == ["submissions"]
    assert excluded(deployments[f"{RELEASE}-checkin-ingest"]) is None
    for name in ("notifications", "recognition", "console"):
        assert excluded(deployments[f"{RELEASE}-{name}"]) is None, name
    # A setting of the Deployment, not of the ConfigMap every Deployment of the service reads.
    for config in by_kind(objects, "ConfigMap").values():
        assert EXCLUDED not in config["data"]
    # Every consumer group runs somewhere; the urgent one in the lane only.
    for service in SERVICES:
        running = groups_running(deployments, service)
        assert set().union(*running) == set(REGISTRY_DATA["services"][service]["groups"])
    assert [g for g in groups_running(deployments, "escalation") if "urgent" in g] == [
        set(REGISTRY_DATA["services"]["escalation"]["groups"]) - {"checkins"}
    ]
    assert deployments[f"{RELEASE}-escalation-urgent"]["spec"]["replicas"] == 2
    # The urgent lane publishes its own urgent outbox rows but never leads the relay.
    leads = {
        name: [
            e["value"]
            for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
            if e["name"] == "KINSHIP_OUTBOX_RELAY_LEADS"
        ]
        for name, deployment in deployments.items()
    }
    assert {name for name, value in leads.items() if value} == {f"{RELEASE}-escalation-urgent"}
    assert leads[f"{RELEASE}-escalation-urgent"] == ["false"]
    assert registry_checker_problems(objects, "default") == []


def test_no_service_or_other_deployment_picks_the_lanes_pods(render: Render) -> None:
    objects = render()
    deployments = by_kind(objects, "Deployment")
    services = by_kind(objects, "Service")
    for lane in (f"{RELEASE}-checkin-ingest", f"{RELEASE}-escalation-urgent"):
        pods = labels_of(deployments[lane]).items()
        for name, service in services.items():
            assert not service["spec"]["selector"].items() <= pods, (name, lane)
        for name, other in deployments.items():
            if name != lane:
                assert not other["spec"]["selector"]["matchLabels"].items() <= pods, (name, lane)
        # Its own budget for node drains, and its own NetworkPolicy.
        own = deployments[lane]["spec"]["selector"]["matchLabels"]
        assert (
            by_kind(objects, "PodDisruptionBudget")[lane]["spec"]["selector"]["matchLabels"] == own
        )
        assert by_kind(objects, "NetworkPolicy")[lane]["spec"]["podSelector"]["matchLabels"] == own
    # The API pods are the check-in Service's, which the vault's clients call.
    checkin = services[f"{RELEASE}-checkin"]["spec"]["selector"].items()
    assert checkin <= labels_of(deployments[f"{RELEASE}-checkin"]).items()


def test_the_urgent_lane_may_ask_the_vault_when_the_namespace_is_not_admitted(
    render: Render,
) -> None:
    """Without networkPolicy.ingress.fromSameNamespace the check-in pods admit their vault's
    clients by name: the urgent lane's pods are one of them."""
    objects = render("--set", "networkPolicy.ingress.fromSameNamespace=false")
    policy = by_kind(objects, "NetworkPolicy")[f"{RELEASE}-checkin"]
    peers = [p["podSelector"]["matchLabels"] for p in policy["spec"]["ingress"][0]["from"]]
    urgent = labels_of(by_kind(objects, "Deployment")[f"{RELEASE}-escalation-urgent"])
    assert any(peer.items() <= urgent.items() for peer in peers)
    assert registry_checker_problems(objects, "namespace not admitted") == []


def test_with_the_lanes_off_every_consumer_runs_in_one_deployment(render: Render) -> None:
    for keda in ((), KEDA_ON):
        objects = render(*LANES_OFF, *keda)
        deployments = by_kind(objects, "Deployment")
        assert set(deployments) == {f"{RELEASE}-{n}" for n in WORKLOADS}
        for name, deployment in deployments.items():
            assert excluded(deployment) is None, name
        for kind in ("PodDisruptionBudget", "NetworkPolicy", "ScaledObject"):
            assert not set(by_kind(objects, kind)) & set(LANES), kind
        assert registry_checker_problems(objects, "lanes off") == []
    # KEDA scales each service on all of its scaling groups again.
    scaled = by_kind(objects, "ScaledObject")
    triggers = {
        t["metadata"]["consumerGroup"] for t in scaled[f"{RELEASE}-escalation"]["spec"]["triggers"]
    }
    assert triggers == {"kinship.escalation.checkins", "kinship.escalation.urgent"}
    triggers = {
        t["metadata"]["consumerGroup"] for t in scaled[f"{RELEASE}-checkin"]["spec"]["triggers"]
    }
    assert triggers == {"kinship.checkin.submissions"}


def test_keda_scales_ingest_on_the_submissions_lag_and_not_the_urgent_lane(
    render: Render,
) -> None:
    objects = render(*KEDA_ON)
    scaled = by_kind(objects, "ScaledObject")
    deployments = by_kind(objects, "Deployment")
    assert set(scaled) == {
        f"{RELEASE}-checkin-ingest",
        f"{RELEASE}-escalation",
        f"{RELEASE}-notifications",
        f"{RELEASE}-recognition",
    }
    ingest = scaled[f"{RELEASE}-checkin-ingest"]["spec"]
    assert ingest["scaleTargetRef"]["name"] == f"{RELEASE}-checkin-ingest"
    assert [t["metadata"]["consumerGroup"] for t in ingest["triggers"]] == [
        "kinship.checkin.submissions"
    ]
    assert [t["metadata"]["topic"] for t in ingest["triggers"]] == ["wellbeing.checkins.submitted"]
    escalation = scaled[f"{RELEASE}-escalation"]["spec"]["triggers"]
    assert [t["metadata"]["consumerGroup"] for t in escalation] == ["kinship.escalation.checkins"]
    # The API and the urgent lane keep their replicas; KEDA owns the others'.
    assert deployments[f"{RELEASE}-checkin"]["spec"]["replicas"] == 2
    assert deployments[f"{RELEASE}-escalation-urgent"]["spec"]["replicas"] == 2
    assert "replicas" not in deployments[f"{RELEASE}-checkin-ingest"]["spec"]
    assert "replicas" not in deployments[f"{RELEASE}-escalation"]["spec"]
    assert registry_checker_problems(objects, "keda") == []


def test_the_lanes_are_sized_apart(render: Render) -> None:
    objects = render(
        *KEDA_ON,
        "--set", "services.escalation.urgentLane.replicas=3",
        "--set", "services.escalation.urgentLane.resources.requests.cpu=250m",
        "--set", "services.escalation.urgentLane.resources.limits.cpu=2",
        "--set", "services.checkin.ingest.autoscaling.maxReplicas=24",
        "--set", "services.checkin.replicas=4",
    )  # fmt: skip
    deployments = by_kind(objects, "Deployment")

    def resources(name: str) -> Any:
        return deployments[f"{RELEASE}-{name}"]["spec"]["template"]["spec"]["containers"][0][
            "resources"
        ]

    assert deployments[f"{RELEASE}-escalation-urgent"]["spec"]["replicas"] == 3
    assert resources("escalation-urgent") == {"requests": {"cpu": "250m"}, "limits": {"cpu": 2}}
    # Not given: the service's.
    assert resources("checkin-ingest") == resources("checkin") == resources("escalation")
    assert deployments[f"{RELEASE}-checkin"]["spec"]["replicas"] == 4
    ingest = by_kind(objects, "ScaledObject")[f"{RELEASE}-checkin-ingest"]["spec"]
    # minReplicas not given: the service's (2).
    assert (ingest["minReplicaCount"], ingest["maxReplicaCount"]) == (2, 24)


def test_upgrade_turns_the_lanes_off_and_removes_their_objects(
    kube: Kube, helm: Helm, namespace: Callable[[str], str], tmp_path: Path
) -> None:
    """Production values (lanes on, KEDA) stored as rendered; an upgrade with the lanes off
    deletes the lanes' Deployments, budgets, policies and ScaledObject, gives the service's
    own Deployments every consumer back and KEDA the check-in API again."""
    ns = namespace("lanes")
    for secret in existing_secrets(ns, make_secret_values()):
        kube.create(secret)
    helm.ok("install", RELEASE, str(CHART), "-n", ns, "-f", str(PRODUCTION_VALUES), "--no-hooks")
    stored = stored_objects(kube, helm.manifests(RELEASE, ns))
    check_workloads(stored, keda=True)
    assert registry_checker_problems([as_manifest(o) for o in stored], "lanes on") == []
    off = write_values(
        tmp_path / "off.yaml",
        {
            "services": {
                "checkin": {"ingest": {"enabled": False}},
                "escalation": {"urgentLane": {"enabled": False}},
            }
        },
    )
    helm.ok("upgrade", RELEASE, str(CHART), "-n", ns, "-f", str(PRODUCTION_VALUES), "-f",
            str(off), "--no-hooks")  # fmt: skip
    stored = stored_objects(kube, helm.manifests(RELEASE, ns))
    check_workloads(stored, keda=True, lanes=False)
    for api, kind in (
        ("apps/v1", "Deployment"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("keda.sh/v1alpha1", "ScaledObject"),
    ):
        names = {o["metadata"]["name"] for o in kube.items(collection(api, kind, ns))}
        assert not names & set(LANES), kind
    for deployment in kube.items(collection("apps/v1", "Deployment", ns)):
        assert excluded(deployment) is None, deployment["metadata"]["name"]
    assert registry_checker_problems([as_manifest(o) for o in stored], "lanes off") == []

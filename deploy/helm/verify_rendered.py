"""Checks rendered chart manifests against the generated registry (scripts/check-helm.sh).

kubeconform checks that every manifest is well-formed; this checks that it says what the code
means. For each ``helm template`` output given:

- the KafkaTopics are exactly the registry's topics and their ``.dlq`` topics (names with the
  topic prefix the services' ConfigMaps carry, partitions, and the registry's config keys);
- each service's KafkaUser grants exactly Read+Describe on what it consumes and on its
  consumer groups, and Write+Describe on what it produces and its dead-letter topics; a
  publisher's KafkaUser only Write+Describe on ingestion topics;
- every workload (the four services and the console) has a Deployment that runs
  ``python -m kinship_<name> serve`` non-root with a read-only root filesystem, no
  capabilities, resources, /healthz and /readyz probes on the port of the code, and a grace
  period longer than the service's graceful timeout;
- a service's lanes (the registry's ``lanes``: check-in ingest, the escalation urgent lane),
  when rendered, are Deployments of their own whose KINSHIP_EXCLUDED_CONSUMERS (container
  env, never a ConfigMap) are the registry's, and the service's own Deployment then excludes
  ``mainExcluded`` (without lanes: nothing), so every consumer group runs in some Deployment;
  no Deployment's selector picks another's pods, and each Service selects exactly its
  workload's own Deployment's pods (never a lane's);
- every workload has a pre-install/pre-upgrade migration Job, and the KEDA triggers (when
  rendered) of each Deployment watch the registry's scaling groups it runs (a lane's own);
- every ConfigMap key ``KINSHIP_*`` is a setting of its workload; the vault's clients find the
  check-in Service at KINSHIP_CHECKIN_URL and the console every service at its Service;
- a workload's containers get exactly the secrets its settings declare (required ones not
  optional; a migration Job only its database URL), and values-created Secrets hold nothing
  their workload does not read;
- every workload's pods (and every migration Job's) are selected by a NetworkPolicy for
  ingress and egress; evaluated as Kubernetes does, the check-in port (the vault) is reachable
  from exactly the vault's clients and the console among Kinship's pods, the console reaches
  every service, every pod reaches DNS, and the identity provider's port is open to a
  workload exactly when it is configured to call one.

The renders it checks have the console and the network policies on (the chart's defaults).

Usage: ``verify_rendered.py REGISTRY_JSON MANIFEST.yaml...`` (needs PyYAML; check-helm.sh
runs it with its hash-pinned tools venv). Exits 1 listing every problem.
"""

import importlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Doc = dict[str, Any]
Acl = tuple[str, str, str]  # (resource type, name, pattern type)
CHART_MANAGED_SECRETS = {"KINSHIP_KAFKA_SASL_PASSWORD"}
EXCLUDED = "KINSHIP_EXCLUDED_CONSUMERS"
LEADS = "KINSHIP_OUTBOX_RELAY_LEADS"
MAIN_COMPONENT = "server"  # app.kubernetes.io/component of a workload's own pods
MIGRATIONS_URL = "KINSHIP_MIGRATIONS_DATABASE_URL"
# The settings that point a workload at the identity provider.
IDP_SETTINGS = (
    "KINSHIP_OIDC_ISSUER",
    "KINSHIP_JWT_JWKS_URL",
    "KINSHIP_CONSOLE_OIDC_ISSUER",
    "KINSHIP_CONSOLE_OIDC_DISCOVERY_URL",
)


def load_documents(path: Path) -> list[Doc]:
    """Every non-empty YAML document of a rendered manifest stream."""
    yaml = importlib.import_module("yaml")
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return [doc for doc in yaml.load_all(path.read_text(), Loader=loader) if doc]


@dataclass(frozen=True)
class Pod:
    """A Kinship pod as NetworkPolicies see it: its namespace, labels and named ports."""

    what: str
    namespace: str
    labels: dict[str, str]
    ports: dict[str, int]
    service: str = ""
    job: bool = False


def _selects(selector: Doc | None, labels: dict[str, str]) -> bool:
    """Whether a label selector matches (an empty selector matches everything)."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and present and labels[key] in values)
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def _peer_matches(peer: Doc, policy_namespace: str, pod: Pod, assume_ip: bool) -> bool:
    """Whether a NetworkPolicyPeer covers a pod. Pod addresses are unknown: an ipBlock covers
    it when ``assume_ip`` (checks that a path is closed) and not otherwise (checks that a path
    is open)."""
    if "ipBlock" in peer:
        return assume_ip
    namespace_labels = {"kubernetes.io/metadata.name": pod.namespace}
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return _selects(peer.get("podSelector"), pod.labels)


def _port_matches(ports: list[Doc] | None, port: int, names: dict[str, int]) -> bool:
    """Whether a rule's ports cover TCP ``port`` of a pod whose named ports are ``names``."""
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        wanted: int | str | None = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            if names.get(wanted) == port:
                return True
        elif wanted <= port <= int(entry.get("endPort", wanted)):
            return True
    return False


class Checker:
    """Collects the problems of one rendered manifest stream."""

    def __init__(self, registry: Doc, documents: list[Doc], label: str) -> None:
        self.registry = registry
        self.workloads: dict[str, Doc] = {**registry["services"], "console": registry["console"]}
        self.label = label
        self.problems: list[str] = []
        self.by_kind: dict[str, list[Doc]] = defaultdict(list)
        for doc in documents:
            self.by_kind[str(doc.get("kind"))].append(doc)

    def fail(self, message: str) -> None:
        """Record a problem."""
        self.problems.append(f"{self.label}: {message}")

    def service_of(self, doc: Doc) -> str:
        """The kinship.io/service label."""
        return str(doc["metadata"].get("labels", {}).get("kinship.io/service", ""))

    def lane_of(self, doc: Doc) -> str:
        """A Deployment's lane: its component label unless that is the workload's own."""
        component = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")
        return "" if component == MAIN_COMPONENT else str(component)

    def lanes(self, service: str) -> dict[str, Doc]:
        """The registry's lanes of a service, by name."""
        entry = self.registry["services"].get(service, {})
        return {lane["name"]: lane for lane in entry.get("lanes", [])}

    def rendered_lanes(self, service: str) -> set[str]:
        """The lanes of a service that have a Deployment in this render."""
        return {
            self.lane_of(doc)
            for doc in self.by_kind["Deployment"]
            if self.service_of(doc) == service and self.lane_of(doc)
        }

    def wanted_excluded(self, service: str, lane: str) -> list[str]:
        """KINSHIP_EXCLUDED_CONSUMERS of a Deployment: a lane's own; the service's own
        Deployment's only while one of its lanes is rendered."""
        if lane:
            return sorted(self.lanes(service)[lane]["excluded"])
        if self.rendered_lanes(service):
            return sorted(self.registry["services"][service].get("mainExcluded", []))
        return []

    def wanted_scale_on(self, service: str, lane: str) -> list[Doc]:
        """The (group, topic) entries whose lag KEDA scales a Deployment on."""
        if lane:
            return list(self.lanes(service)[lane]["scaleOn"])
        excluded = set(self.wanted_excluded(service, lane))
        entry = self.registry["services"].get(service, {})
        return [s for s in entry.get("scaleOn", []) if s["group"] not in excluded]

    def config_maps(self) -> dict[str, dict[str, str]]:
        """Each workload's rendered settings."""
        found = {}
        for doc in self.by_kind["ConfigMap"]:
            service = self.service_of(doc)
            if service:
                found[service] = doc.get("data", {})
        missing = set(self.workloads) - set(found)
        if missing:
            self.fail(f"no ConfigMap for {sorted(missing)}")
        return found

    def prefixes(self, configs: dict[str, dict[str, str]]) -> tuple[str, str]:
        """The topic and consumer-group prefixes, which every service must agree on."""
        kafka = [c for name, c in configs.items() if name in self.registry["services"]]
        topic = {c.get("KINSHIP_TOPIC_PREFIX", "") for c in kafka}
        group = {c.get("KINSHIP_CONSUMER_GROUP_PREFIX", "kinship") for c in kafka}
        if len(topic) != 1 or len(group) != 1:
            self.fail(f"services disagree on prefixes: topics {topic}, groups {group}")
        return min(topic), min(group)

    def check_topics(self, topic_prefix: str) -> None:
        """KafkaTopics == the registry (plus .dlq), by name, partitions and config."""
        topics = self.by_kind["KafkaTopic"]
        if not topics:
            return  # strimzi.topics.enabled=false
        expected = {topic_prefix + t["name"]: t for t in self.registry["topics"]}
        rendered = {doc["spec"].get("topicName", doc["metadata"]["name"]): doc for doc in topics}
        for name in sorted(set(expected) - set(rendered)):
            self.fail(f"KafkaTopic {name} of the registry is not rendered")
        for name in sorted(set(rendered) - set(expected)):
            self.fail(f"KafkaTopic {name} is rendered but is not in the registry")
        for name in sorted(set(expected) & set(rendered)):
            want, spec = expected[name], rendered[name]["spec"]
            if spec.get("partitions") != want["partitions"]:
                self.fail(
                    f"KafkaTopic {name}: {spec.get('partitions')} partitions, "
                    f"the registry says {want['partitions']}"
                )
            config = {k: str(v) for k, v in (spec.get("config") or {}).items()}
            for key, value in want["config"].items():
                if config.get(key) != value:
                    self.fail(f"KafkaTopic {name}: {key}={config.get(key)!r}, want {value!r}")
            if "strimzi.io/cluster" not in rendered[name]["metadata"].get("labels", {}):
                self.fail(f"KafkaTopic {name} has no strimzi.io/cluster label")
        if len(topics) != len(rendered):
            self.fail("two KafkaTopics have the same topicName")

    def check_users(self, topic_prefix: str, group_prefix: str) -> None:
        """Each KafkaUser's ACLs == what the registry says its service reads and writes."""
        users = self.by_kind["KafkaUser"]
        if not users:
            return  # kafka.authentication=none or strimzi.users.enabled=false
        seen = set()
        ingestion = {
            topic_prefix + t["name"] for t in self.registry["topics"] if t["role"] == "ingestion"
        }
        for doc in users:
            if "kinship.io/publisher" in doc["metadata"].get("labels", {}):
                self.check_publisher(doc, ingestion)
                continue
            service = self.service_of(doc)
            seen.add(service)
            entry = self.registry["services"].get(service)
            if entry is None:
                self.fail(f"KafkaUser {doc['metadata']['name']} belongs to no service")
                continue
            acls = doc["spec"]["authorization"]["acls"]
            want = self.wanted_acls(service, entry, acls, topic_prefix, group_prefix)
            got = self.granted_acls(service, acls)
            if dict(got) != dict(want):
                extra = {k: sorted(v - want.get(k, set())) for k, v in got.items()}
                lacking = {k: sorted(v - got.get(k, set())) for k, v in want.items()}
                self.fail(
                    f"KafkaUser {service}: ACLs differ from the registry; extra "
                    f"{ {k: v for k, v in extra.items() if v} }, missing "
                    f"{ {k: v for k, v in lacking.items() if v} }"
                )
        missing = set(self.registry["services"]) - seen
        if missing:
            self.fail(f"no KafkaUser for {sorted(missing)}")

    @staticmethod
    def wanted_acls(
        service: str, entry: Doc, acls: list[Doc], topic_prefix: str, group_prefix: str
    ) -> dict[Acl, set[str]]:
        """The operations the registry grants a service, per (type, name, pattern); its
        groups by prefix when the rendered user grants them by prefix."""
        want: dict[Acl, set[str]] = defaultdict(set)
        for topic in entry["acls"]["read"]:
            want[("topic", topic_prefix + topic, "literal")] |= {"Read", "Describe"}
        for topic in entry["acls"]["write"]:
            want[("topic", topic_prefix + topic, "literal")] |= {"Write", "Describe"}
        groups = [a for a in acls if a["resource"]["type"] == "group"]
        patterns = {a["resource"].get("patternType", "literal") for a in groups}
        if patterns == {"prefix"}:
            want[("group", f"{group_prefix}.{service}.", "prefix")] |= {"Read", "Describe"}
        else:
            for purpose in entry["groups"]:
                name = f"{group_prefix}.{service}.{purpose}"
                want[("group", name, "literal")] |= {"Read", "Describe"}
        return want

    def granted_acls(self, service: str, acls: list[Doc]) -> dict[Acl, set[str]]:
        """The operations a rendered KafkaUser allows, per (type, name, pattern)."""
        got: dict[Acl, set[str]] = defaultdict(set)
        for acl in acls:
            resource = acl["resource"]
            if acl.get("type", "allow") != "allow":
                self.fail(f"KafkaUser {service}: unexpected {acl.get('type')} rule")
            key = (resource["type"], resource.get("name", ""), resource.get("patternType"))
            got[key] |= set(acl.get("operations", []))
        return got

    def check_publisher(self, doc: Doc, ingestion: set[str]) -> None:
        """An outside publisher may only Write (and Describe) ingestion topics."""
        name = doc["metadata"]["name"]
        for acl in doc["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            if (
                resource["type"] != "topic"
                or resource.get("patternType", "literal") != "literal"
                or resource.get("name") not in ingestion
                or not set(acl.get("operations", [])) <= {"Write", "Describe"}
                or acl.get("type", "allow") != "allow"
            ):
                self.fail(f"KafkaUser {name} (publisher): ACL beyond writing ingestion: {acl}")

    def check_deployments(self, configs: dict[str, dict[str, str]]) -> None:
        """Probes, security, resources, grace period and command of every Deployment."""
        seen = set()
        running: dict[str, list[set[str]]] = {}  # service -> each Deployment's exclusions
        for doc in self.by_kind["Deployment"]:
            service = self.service_of(doc)
            entry = self.workloads.get(service)
            if entry is None:
                self.fail(f"Deployment {doc['metadata']['name']} belongs to no workload")
                continue
            pod = doc["spec"]["template"]["spec"]
            where = f"Deployment {doc['metadata']['name']}"
            lane = self.lane_of(doc)
            if not lane:
                seen.add(service)
            elif lane not in self.lanes(service):
                self.fail(f"{where}: {service} has no lane {lane!r} (registry lanes)")
                continue
            excluded = self.check_excluded(where, service, lane, pod["containers"][0], configs)
            running.setdefault(service, []).append(excluded)
            if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
                self.fail(f"{where}: pod not runAsNonRoot")
            graceful = float(configs.get(service, {}).get("KINSHIP_GRACEFUL_TIMEOUT_SECONDS", 0))
            if not pod.get("terminationGracePeriodSeconds", 30) > graceful:
                self.fail(f"{where}: terminationGracePeriodSeconds <= graceful timeout")
            self.check_container(where, service, entry, pod["containers"][0])
        missing = set(self.workloads) - seen
        if missing:
            self.fail(f"no Deployment for {sorted(missing)}")
        self.check_every_group_runs(running)
        self.check_selectors()

    def check_excluded(
        self, where: str, service: str, lane: str, container: Doc, configs: dict[str, Doc]
    ) -> set[str]:
        """The consumers a Deployment leaves to another are the registry's (Lanes); the ones
        it leaves."""
        values = [e.get("value", "") for e in container.get("env", []) if e["name"] == EXCLUDED]
        got = sorted(filter(None, ",".join(values).split(",")))
        want = self.wanted_excluded(service, lane)
        if got != want:
            self.fail(f"{where}: {EXCLUDED}={','.join(got)!r}, want {','.join(want)!r}")
        if EXCLUDED in configs.get(service, {}):
            self.fail(f"ConfigMap {service}: sets {EXCLUDED} (for all its Deployments alike)")
        leads = [e.get("value", "") for e in container.get("env", []) if e["name"] == LEADS]
        want_leads = not lane or bool(self.lanes(service)[lane].get("relayLeads", True))
        if (leads != ["false"]) != want_leads:
            self.fail(f"{where}: {LEADS}={leads!r}, want it to lead: {want_leads}")
        return set(got)

    def check_every_group_runs(self, running: dict[str, list[set[str]]]) -> None:
        """Every consumer group of a service runs in at least one of its Deployments (as
        their KINSHIP_EXCLUDED_CONSUMERS say)."""
        for service, entry in self.registry["services"].items():
            if service not in running:
                continue  # reported as a missing Deployment
            nowhere = set(entry["groups"]).intersection(*running[service])
            if nowhere:
                self.fail(f"{service}: consumer groups {sorted(nowhere)} run in no Deployment")

    def check_selectors(self) -> None:
        """No Deployment's selector picks another's pods (they would fight over them); each
        Service picks exactly its workload's own Deployment's pods (not a lane's)."""
        deployments = self.by_kind["Deployment"]
        for doc in deployments:
            selector = doc["spec"].get("selector")
            name = doc["metadata"]["name"]
            for other in deployments:
                labels = other["spec"]["template"]["metadata"].get("labels", {})
                picks = _selects(selector, labels)
                if other is doc and not picks:
                    self.fail(f"Deployment {name}: its selector does not pick its own pods")
                elif other is not doc and picks:
                    self.fail(
                        f"Deployment {name}: its selector picks the pods of Deployment "
                        f"{other['metadata']['name']} too"
                    )
        for service_doc in self.by_kind["Service"]:
            workload = self.service_of(service_doc)
            selector = {"matchLabels": service_doc["spec"].get("selector") or {}}
            for doc in deployments:
                labels = doc["spec"]["template"]["metadata"].get("labels", {})
                own = self.service_of(doc) == workload and not self.lane_of(doc)
                if own != _selects(selector, labels):
                    self.fail(
                        f"Service {service_doc['metadata']['name']}: "
                        + ("does not select" if own else "selects")
                        + f" the pods of Deployment {doc['metadata']['name']}"
                    )

    def check_container(self, where: str, service: str, entry: Doc, container: Doc) -> None:
        """A service container: its command, port, probes, security context and resources."""
        if container.get("command", []) + container.get("args", []) != [
            "python",
            "-m",
            f"kinship_{service}",
            "serve",
        ]:
            self.fail(f"{where}: does not run python -m kinship_{service} serve")
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        if ports.get("http") != entry["httpPort"]:
            self.fail(f"{where}: http port {ports.get('http')}, code says {entry['httpPort']}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                self.fail(f"{where}: {probe} is not on {path}")
        security = container.get("securityContext", {})
        if (
            security.get("readOnlyRootFilesystem") is not True
            or security.get("allowPrivilegeEscalation") is not False
            or security.get("capabilities", {}).get("drop") != ["ALL"]
        ):
            self.fail(f"{where}: container security context is not locked down")
        resources = container.get("resources", {})
        if not resources.get("requests") or not resources.get("limits"):
            self.fail(f"{where}: needs resource requests and limits")

    def check_migrations(self) -> None:
        """A pre-install/pre-upgrade hook Job per service runs its migrations."""
        jobs = {self.service_of(doc): doc for doc in self.by_kind["Job"]}
        if not jobs:
            return  # migrations.enabled=false
        for service in self.workloads:
            job = jobs.get(service)
            if job is None:
                self.fail(f"no migration Job for {service}")
                continue
            hook = job["metadata"].get("annotations", {}).get("helm.sh/hook", "")
            if set(hook.split(",")) != {"pre-install", "pre-upgrade"}:
                self.fail(f"migration Job of {service} is not a pre-install,pre-upgrade hook")
            container = job["spec"]["template"]["spec"]["containers"][0]
            if container.get("command", []) + container.get("args", []) != [
                "python",
                "-m",
                f"kinship_{service}",
                "migrate",
            ]:
                self.fail(f"migration Job of {service} does not run its migrate command")

    def check_scaling(self, topic_prefix: str, group_prefix: str) -> None:
        """KEDA triggers watch the registry's scaling groups and topics."""
        deployments = {doc["metadata"]["name"]: doc for doc in self.by_kind["Deployment"]}
        for doc in self.by_kind["ScaledObject"]:
            service = self.service_of(doc)
            target = deployments.get(doc["spec"]["scaleTargetRef"]["name"])
            if target is None or self.service_of(target) != service:
                self.fail(f"ScaledObject {doc['metadata']['name']}: scales no {service} Deployment")
                continue
            lane = self.lane_of(target)
            if lane and lane not in self.lanes(service):
                continue  # reported by check_deployments
            want = {
                (f"{group_prefix}.{service}.{s['group']}", topic_prefix + s["topic"])
                for s in self.wanted_scale_on(service, lane)
            }
            got = {
                (t["metadata"].get("consumerGroup"), t["metadata"].get("topic"))
                for t in doc["spec"]["triggers"]
                if t["type"] == "kafka"
            }
            if got != want:
                self.fail(
                    f"ScaledObject {doc['metadata']['name']}: triggers {sorted(got)}, "
                    f"want {sorted(want)}"
                )

    # --- settings and secrets ------------------------------------------------------------

    def service_urls(self) -> dict[str, str]:
        """Each workload's in-cluster URL, from its rendered Service."""
        urls = {}
        for doc in self.by_kind["Service"]:
            ports = {p["name"]: p["port"] for p in doc["spec"].get("ports", [])}
            if "http" in ports:
                urls[self.service_of(doc)] = f"http://{doc['metadata']['name']}:{ports['http']}"
        return urls

    def check_settings(self, configs: dict[str, dict[str, str]]) -> None:
        """ConfigMap keys are settings of their workload; the in-cluster URLs are wired."""
        urls = self.service_urls()
        for name, config in configs.items():
            entry = self.workloads.get(name)
            if entry is None:
                continue
            unknown = sorted(
                key for key in config if key.startswith("KINSHIP_") and key not in entry["settings"]
            )
            if unknown:
                self.fail(f"ConfigMap {name}: {unknown} are not settings of {name}")
            vault = config.get("KINSHIP_CHECKIN_URL")
            if entry.get("vaultScopes") and vault != urls.get("checkin"):
                self.fail(
                    f"ConfigMap {name}: KINSHIP_CHECKIN_URL is {vault!r}, the check-in "
                    f"Service is {urls.get('checkin')!r}"
                )
            if not entry.get("vaultScopes") and vault is not None:
                self.fail(f"ConfigMap {name}: KINSHIP_CHECKIN_URL set, but {name} asks no vault")
        console = configs.get("console", {})
        for service in self.registry["services"]:
            key = f"KINSHIP_CONSOLE_{service.upper()}_URL"
            if console.get(key) != urls.get(service):
                self.fail(
                    f"ConfigMap console: {key} is {console.get(key)!r}, the {service} "
                    f"Service is {urls.get(service)!r}"
                )

    def wanted_secrets(self, service: str, migration: bool) -> dict[str, bool]:
        """The secret env a workload's containers get (name -> required)."""
        entry = self.workloads[service]
        if migration:
            return {
                s["env"]: s["required"]
                for s in entry["secrets"]
                if s["env"] in entry["migrationSecrets"]
            }
        wanted = {s["env"]: s["required"] for s in entry["secrets"]}
        if service in self.registry["services"]:
            wanted.update({s["env"]: s["required"] for s in self.registry["sharedSecrets"]})
        return wanted

    def check_secret_env(self, where: str, service: str, pod: Doc, migration: bool) -> None:
        """A container's secretKeyRefs are exactly what the workload's settings declare."""
        got: dict[str, bool] = {}
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref is not None and env["name"] not in CHART_MANAGED_SECRETS:
                    got[env["name"]] = not ref.get("optional", False)
        want = self.wanted_secrets(service, migration)
        if set(got) != set(want):
            self.fail(
                f"{where}: secrets {sorted(set(got) - set(want))} are not its to read, "
                f"{sorted(set(want) - set(got))} are missing"
            )
        lax = sorted(env for env, required in want.items() if required and not got.get(env, True))
        if lax:
            self.fail(f"{where}: required secrets {lax} are optional")

    def check_secrets(self) -> None:
        """Secret env of Deployments and Jobs; values-created Secrets' keys."""
        for kind, migration in (("Deployment", False), ("Job", True)):
            for doc in self.by_kind[kind]:
                service = self.service_of(doc)
                if service in self.workloads:
                    where = f"{kind} {doc['metadata']['name']}"
                    self.check_secret_env(
                        where, service, doc["spec"]["template"]["spec"], migration
                    )
        shared = {s["env"] for s in self.registry["sharedSecrets"]}
        for doc in self.by_kind["Secret"]:
            keys = set(doc.get("stringData") or {}) | set(doc.get("data") or {})
            service = self.service_of(doc)
            labels = doc["metadata"].get("labels", {})
            if not service:
                allowed = shared
            elif labels.get("app.kubernetes.io/component") == "migrations":
                allowed = {"KINSHIP_DATABASE_URL", MIGRATIONS_URL}
            else:
                allowed = {s["env"] for s in self.workloads[service]["secrets"]} | {MIGRATIONS_URL}
            if keys - allowed:
                self.fail(
                    f"Secret {doc['metadata']['name']}: holds {sorted(keys - allowed)}, which "
                    "its workload does not read"
                )

    # --- network policies ------------------------------------------------------------------

    def pods(self) -> dict[str, Pod]:
        """Every Kinship pod template (Deployments by workload, Jobs as '<name> migration')."""
        found = {}
        for kind in ("Deployment", "Job"):
            for doc in self.by_kind[kind]:
                service = self.service_of(doc)
                if service not in self.workloads:
                    continue
                template = doc["spec"]["template"]
                ports = {
                    port["name"]: port["containerPort"]
                    for container in template["spec"]["containers"]
                    for port in container.get("ports", [])
                    if "name" in port
                }
                if kind == "Job":
                    what = f"{service} migration"
                else:
                    lane = self.lane_of(doc)
                    what = f"{service}-{lane}" if lane else service
                found[what] = Pod(
                    what,
                    doc["metadata"]["namespace"],
                    template["metadata"]["labels"],
                    ports,
                    service,
                    kind == "Job",
                )
        return found

    def policies_of(self, pod: Pod, direction: str) -> list[Doc]:
        """The NetworkPolicies that restrict ``pod`` in ``direction`` (Ingress or Egress)."""
        return [
            doc
            for doc in self.by_kind["NetworkPolicy"]
            if doc["metadata"]["namespace"] == pod.namespace
            and _selects(doc["spec"].get("podSelector"), pod.labels)
            and direction in doc["spec"].get("policyTypes", ["Ingress"])
        ]

    def egress_allows(self, source: Pod, port: int, target: Pod | None, assume: bool) -> bool:
        """Whether ``source`` may open TCP ``port`` to ``target``; None: to some destination
        (a service outside Kinship, wherever the rule's peers put it)."""
        policies = self.policies_of(source, "Egress")
        if not policies:
            return True  # not isolated
        for policy in policies:
            namespace = policy["metadata"]["namespace"]
            for rule in policy["spec"].get("egress") or []:
                names = target.ports if target else {}
                if not _port_matches(rule.get("ports"), port, names):
                    continue
                peers = rule.get("to") or []
                if target is None or not peers:
                    return True
                if any(_peer_matches(peer, namespace, target, assume) for peer in peers):
                    return True
        return False

    def ingress_allows(self, target: Pod, port: int, source: Pod, assume: bool) -> bool:
        """Whether ``target`` accepts TCP ``port`` from ``source``."""
        policies = self.policies_of(target, "Ingress")
        if not policies:
            return True  # not isolated
        for policy in policies:
            namespace = policy["metadata"]["namespace"]
            for rule in policy["spec"].get("ingress") or []:
                if not _port_matches(rule.get("ports"), port, target.ports):
                    continue
                peers = rule.get("from") or []
                if not peers or any(_peer_matches(p, namespace, source, assume) for p in peers):
                    return True
        return False

    def reachable(self, source: Pod, target: Pod, port: int, assume: bool) -> bool:
        """Egress of the source and ingress of the target both allow it."""
        return self.egress_allows(source, port, target, assume) and self.ingress_allows(
            target, port, source, assume
        )

    def check_network_policies(self, configs: dict[str, dict[str, str]]) -> None:
        """Every Kinship pod is fenced; the vault, console, DNS and IdP paths are as meant."""
        if not self.by_kind["NetworkPolicy"]:
            self.fail("no NetworkPolicies rendered (networkPolicy.enabled is the default)")
            return
        pods = self.pods()
        dns = Pod("dns", "kube-system", {"k8s-app": "kube-dns"}, {})
        for pod in pods.values():
            for direction in ("Ingress", "Egress"):
                if not self.policies_of(pod, direction):
                    self.fail(f"no NetworkPolicy restricts {direction.lower()} of {pod.what}")
            if not self.egress_allows(pod, 53, dns, assume=False):
                self.fail(f"NetworkPolicy: {pod.what} cannot reach DNS (kube-dns, port 53)")
        self.check_vault_path(pods)
        self.check_console_paths(pods)
        for pod in pods.values():
            if not pod.job and pod.service in configs:
                self.check_identity_provider(pod, configs[pod.service])

    def check_console_paths(self, pods: dict[str, Pod]) -> None:
        """The console reaches every service's HTTP port (it calls them as the person)."""
        console = pods.get("console")
        for service, entry in self.registry["services"].items():
            target, port = pods.get(service), entry["httpPort"]
            if console and target and not self.reachable(console, target, port, assume=False):
                self.fail(f"NetworkPolicy: the console cannot reach {service} on {port}")

    def check_vault_path(self, pods: dict[str, Pod]) -> None:
        """The check-in port is reachable from exactly the vault's clients (their lanes too)
        and the console, on the check-in pods (the ingest lane's are fenced alike)."""
        checkin = pods.get("checkin")
        if checkin is None:
            return
        port = self.registry["services"]["checkin"]["httpPort"]
        clients = {n for n, e in self.registry["services"].items() if e.get("vaultScopes")}
        expected = {
            pod.what
            for pod in pods.values()
            if not pod.job and (pod.service in clients or pod.service == "console")
        }
        targets = [pod for pod in pods.values() if pod.service == "checkin" and not pod.job]
        for pod in pods.values():
            if pod.service == "checkin" and not pod.job:
                continue
            if pod.what in expected and not self.reachable(pod, checkin, port, assume=False):
                self.fail(f"NetworkPolicy: {pod.what} cannot reach the check-in service on {port}")
            for target in targets:
                if pod.what not in expected and self.reachable(pod, target, port, assume=True):
                    self.fail(
                        f"NetworkPolicy: {pod.what} may reach the check-in port {port} "
                        f"({target.what}), which only {sorted(expected)} may"
                    )

    def check_identity_provider(self, pod: Pod, config: dict[str, str]) -> None:
        """Egress to the identity provider's ports exactly when the workload calls one."""
        urls = [config[key] for key in IDP_SETTINGS if config.get(key)]
        for url in urls:
            parts = urlsplit(url)
            port = parts.port or (80 if parts.scheme == "http" else 443)
            if not self.egress_allows(pod, port, None, assume=False):
                self.fail(f"NetworkPolicy: {pod.what} calls {url} but may not open port {port}")
        # Only notifications' deliveries go out on 443 without an identity provider.
        quiet = not urls and pod.service != "notifications"
        if quiet and self.egress_allows(pod, 443, None, assume=True):
            self.fail(f"NetworkPolicy: {pod.what} may call out on 443 with no identity provider")

    def check_ingress(self) -> None:
        """The console's Ingress routes https://<host>/ to the console's Service and port, with
        only the fields the chart means (its kind has no vendored schema yet)."""
        urls = self.service_urls()
        shape: dict[str, set[str]] = {
            "": {"apiVersion", "kind", "metadata", "spec"},
            "metadata": {"name", "namespace", "labels", "annotations"},
            "spec": {"ingressClassName", "tls", "rules"},
            "tls": {"hosts", "secretName"},
            "rule": {"host", "http"},
            "http": {"paths"},
            "path": {"path", "pathType", "backend"},
            "backend": {"service"},
            "service": {"name", "port"},
            "port": {"number", "name"},
        }
        for doc in self.by_kind["Ingress"]:
            where = f"Ingress {doc['metadata']['name']}"
            spec = doc.get("spec", {})
            parts: list[tuple[str, Doc]] = [("", doc), ("metadata", doc["metadata"])]
            parts += [("spec", spec)] + [("tls", tls) for tls in spec.get("tls", [])]
            for rule in spec.get("rules", []):
                parts += [("rule", rule), ("http", rule.get("http", {}))]
                for path in rule.get("http", {}).get("paths", []):
                    service = path.get("backend", {}).get("service", {})
                    parts += [("path", path), ("backend", path.get("backend", {}))]
                    parts += [("service", service), ("port", service.get("port", {}))]
                    url = f"http://{service.get('name')}:{service.get('port', {}).get('number')}"
                    if url != urls.get("console"):
                        self.fail(f"{where}: routes to {url}, not the console's Service")
                    if path.get("pathType") not in ("Prefix", "Exact", "ImplementationSpecific"):
                        self.fail(f"{where}: pathType {path.get('pathType')!r}")
            for part, value in parts:
                unknown = set(value) - shape[part]
                if unknown:
                    self.fail(
                        f"{where}: unknown fields {sorted(unknown)} in {part or 'the object'}"
                    )
            if doc.get("apiVersion") != "networking.k8s.io/v1":
                self.fail(f"{where}: apiVersion {doc.get('apiVersion')}")
            hosts = {rule.get("host") for rule in spec.get("rules", [])}
            covered = {host for tls in spec.get("tls", []) for host in tls.get("hosts", [])}
            if hosts - covered:
                self.fail(f"{where}: hosts {sorted(hosts - covered)} are served without TLS")

    def run(self) -> list[str]:
        """Every check; the problems found."""
        configs = self.config_maps()
        topic_prefix, group_prefix = self.prefixes(configs)
        self.check_topics(topic_prefix)
        self.check_users(topic_prefix, group_prefix)
        self.check_deployments(configs)
        self.check_migrations()
        self.check_scaling(topic_prefix, group_prefix)
        self.check_settings(configs)
        self.check_secrets()
        self.check_network_policies(configs)
        self.check_ingress()
        return self.problems


def main(argv: list[str]) -> int:
    """Check each rendered manifest file; print a line per file."""
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    registry = json.loads(Path(argv[0]).read_text())
    problems = []
    for name in argv[1:]:
        documents = load_documents(Path(name))
        found = Checker(registry, documents, name).run()
        problems += found
        kinds: dict[str, int] = defaultdict(int)
        for doc in documents:
            kinds[doc["kind"]] += 1
        status = "FAILED" if found else "ok"
        print(
            f"{name}: {status} ({kinds['KafkaTopic']} KafkaTopics, {kinds['KafkaUser']} "
            f"KafkaUsers, {kinds['Deployment']} Deployments, {kinds['NetworkPolicy']} "
            f"NetworkPolicies, {kinds['ScaledObject']} ScaledObjects checked against the "
            "registry)"
        )
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

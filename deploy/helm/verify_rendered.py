"""Checks rendered chart manifests against the generated registry (scripts/check-helm.sh).

kubeconform checks that every manifest is well-formed; this checks that it says what the code
means. For each ``helm template`` output given:

- the KafkaTopics are exactly the registry's topics and their ``.dlq`` topics (names with the
  topic prefix the services' ConfigMaps carry, partitions, and the registry's config keys);
- each service's KafkaUser grants exactly Read+Describe on what it consumes and on its
  consumer groups, and Write+Describe on what it produces and its dead-letter topics; a
  publisher's KafkaUser only Write+Describe on ingestion topics;
- every Deployment runs ``python -m kinship_<service> serve`` non-root with a read-only root
  filesystem, no capabilities, resources, /healthz and /readyz probes on the port of the
  code, and a grace period longer than the service's graceful timeout;
- every service has a pre-install/pre-upgrade migration Job, and the KEDA triggers (when
  rendered) watch the registry's scaling groups.

Usage: ``verify_rendered.py REGISTRY_JSON MANIFEST.yaml...`` (needs PyYAML; check-helm.sh
runs it with its hash-pinned tools venv). Exits 1 listing every problem.
"""

import importlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

Doc = dict[str, Any]
Acl = tuple[str, str, str]  # (resource type, name, pattern type)


def load_documents(path: Path) -> list[Doc]:
    """Every non-empty YAML document of a rendered manifest stream."""
    yaml = importlib.import_module("yaml")
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return [doc for doc in yaml.load_all(path.read_text(), Loader=loader) if doc]


class Checker:
    """Collects the problems of one rendered manifest stream."""

    def __init__(self, registry: Doc, documents: list[Doc], label: str) -> None:
        self.registry = registry
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

    def config_maps(self) -> dict[str, dict[str, str]]:
        """Each service's rendered settings."""
        found = {}
        for doc in self.by_kind["ConfigMap"]:
            service = self.service_of(doc)
            if service:
                found[service] = doc.get("data", {})
        missing = set(self.registry["services"]) - set(found)
        if missing:
            self.fail(f"no ConfigMap for {sorted(missing)}")
        return found

    def prefixes(self, configs: dict[str, dict[str, str]]) -> tuple[str, str]:
        """The topic and consumer-group prefixes, which every service must agree on."""
        topic = {c.get("KINSHIP_TOPIC_PREFIX", "") for c in configs.values()}
        group = {c.get("KINSHIP_CONSUMER_GROUP_PREFIX", "kinship") for c in configs.values()}
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
        for doc in self.by_kind["Deployment"]:
            service = self.service_of(doc)
            seen.add(service)
            entry = self.registry["services"][service]
            pod = doc["spec"]["template"]["spec"]
            where = f"Deployment {doc['metadata']['name']}"
            if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
                self.fail(f"{where}: pod not runAsNonRoot")
            graceful = float(configs.get(service, {}).get("KINSHIP_GRACEFUL_TIMEOUT_SECONDS", 0))
            if not pod.get("terminationGracePeriodSeconds", 30) > graceful:
                self.fail(f"{where}: terminationGracePeriodSeconds <= graceful timeout")
            self.check_container(where, service, entry, pod["containers"][0])
        missing = set(self.registry["services"]) - seen
        if missing:
            self.fail(f"no Deployment for {sorted(missing)}")

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
        for service in self.registry["services"]:
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
        for doc in self.by_kind["ScaledObject"]:
            service = self.service_of(doc)
            want = {
                (f"{group_prefix}.{service}.{s['group']}", topic_prefix + s["topic"])
                for s in self.registry["services"][service]["scaleOn"]
            }
            got = {
                (t["metadata"].get("consumerGroup"), t["metadata"].get("topic"))
                for t in doc["spec"]["triggers"]
                if t["type"] == "kafka"
            }
            if got != want:
                self.fail(f"ScaledObject {service}: triggers {sorted(got)}, want {sorted(want)}")

    def run(self) -> list[str]:
        """Every check; the problems found."""
        configs = self.config_maps()
        topic_prefix, group_prefix = self.prefixes(configs)
        self.check_topics(topic_prefix)
        self.check_users(topic_prefix, group_prefix)
        self.check_deployments(configs)
        self.check_migrations()
        self.check_scaling(topic_prefix, group_prefix)
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
            f"KafkaUsers, {kinds['Deployment']} Deployments, {kinds['ScaledObject']} "
            "ScaledObjects checked against the registry)"
        )
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

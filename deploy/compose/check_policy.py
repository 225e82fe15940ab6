"""Kinship's rules for docker-compose.yml and the collector config, beyond the Compose schema.

Run by scripts/check-containers.sh in the checker's own virtual environment (ruamel.yaml
comes with check-jsonschema):

    python deploy/compose/check_policy.py docker-compose.yml deploy/compose/otel-collector.yaml

Prints each rule it checked and every violation; exits 1 on any violation. With
KINSHIP_REQUIRE_DIGESTS=1, third-party images must also be pinned by digest.

    python deploy/compose/check_policy.py --builds docker-compose.yml

prints the build arguments of each service built from services/Dockerfile, one build a line
as NAME=VALUE,NAME=VALUE (what the Dockerfile linter's -build-args takes).
"""

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

# An exact release: major.minor.patch, then optionally a variant (4.1.1, 0.159.0, 3.11.16-slim).
EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([.+_-][0-9A-Za-z._-]*)?$")
# Images whose releases are numbered major.minor: 15.19 is an exact PostgreSQL release.
TWO_PART_VERSIONS = {"postgres": re.compile(r"^\d+\.\d+([.+_-][0-9A-Za-z._-]*)?$")}
# Long-running services that may have no healthcheck, and why.
NO_HEALTHCHECK = {
    "otel-collector": "distroless image: no shell or HTTP client to probe with",
}
SECRET_NAME = re.compile(r"(KEY|KEYS|SECRET|PASSWORD|TOKEN)$")
DEV_VALUE = re.compile(r"dev|not-for-production", re.IGNORECASE)
LOOPBACK = {"127.0.0.1", "::1", "[::1]", "localhost"}
# The one Dockerfile of the services: SERVICE names the service, PORT the port it serves on.
SERVICE_DOCKERFILE = "services/Dockerfile"

Problems = list[str]
Services = dict[str, dict[str, Any]]


def load(path: Path) -> Any:
    """A YAML document (anchors and merge keys resolved)."""
    return YAML(typ="safe", pure=True).load(path.read_text())


def image_reference(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def built_images(services: Services) -> set[str]:
    return {spec["image"] for spec in services.values() if "build" in spec and "image" in spec}


def healthcheck_enabled(spec: dict[str, Any]) -> bool:
    check = spec.get("healthcheck")
    if not check or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test != ["NONE"]


def one_shot(spec: dict[str, Any]) -> bool:
    return str(spec.get("restart", "no")) == "no"


def app_services(services: Services) -> dict[str, dict[str, Any]]:
    """The Kinship services: those built from this repository's Dockerfiles."""
    return {name: spec for name, spec in services.items() if "build" in spec}


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def mapping(value: Any) -> dict[str, str]:
    """A Compose mapping written as a map or as a list of NAME=VALUE."""
    if isinstance(value, list):
        value = dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
    return {str(key): "" if item is None else str(item) for key, item in (value or {}).items()}


def environment(spec: dict[str, Any]) -> dict[str, str]:
    return mapping(spec.get("environment"))


def build_args(spec: dict[str, Any]) -> dict[str, str]:
    build = spec.get("build")
    return mapping(build.get("args")) if isinstance(build, dict) else {}


def container_ports(spec: dict[str, Any]) -> set[str]:
    """The container side of each published port."""
    ports = set()
    for port in spec.get("ports") or []:
        target = port.get("target") if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
        ports.add(str(target).split("/")[0])
    return ports


def rule_no_interpolation(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """No ${VAR} interpolation: the file validated is exactly the file Compose runs."""
    return [
        f"interpolation {text!r}: write the value (or use an env_file outside this check)"
        for text in strings_in(compose)
        if re.search(r"(?<!\$)\$(\{|[A-Za-z_])", text)
    ]


def image_problems(name: str, spec: dict[str, Any], built: set[str]) -> Problems:
    """What is wrong with one service's image reference and pull policy."""
    image = spec.get("image")
    if not image:
        return [f"{name}: name its image (image:) so it can be checked"]
    repository, tag, digest = image_reference(image)
    problems = [f"{name}: image {image} uses the latest tag"] if tag == "latest" else []
    if "build" in spec:
        if not tag:
            problems.append(f"{name}: built image {image} needs an explicit tag")
        if spec.get("pull_policy") != "build":
            problems.append(f"{name}: built image {image}: set pull_policy: build")
    elif image in built:
        if spec.get("pull_policy") != "never":
            problems.append(
                f"{name}: reuses the image built for another service: set pull_policy: never"
            )
    else:
        pattern = TWO_PART_VERSIONS.get(repository, EXACT_VERSION)
        if not digest and (not tag or not pattern.match(tag)):
            problems.append(
                f"{name}: image {image} is not pinned to an exact version (or a digest)"
            )
        if not digest and os.environ.get("KINSHIP_REQUIRE_DIGESTS") == "1":
            problems.append(f"{name}: image {image} is not pinned by digest")
    return problems


def rule_images_pinned(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Third-party images pinned to an exact version (or digest), never latest; images built
    here are never pulled (pull_policy build, or never for services reusing them)."""
    built = built_images(services)
    return [
        problem for name, spec in services.items() for problem in image_problems(name, spec, built)
    ]


def rule_healthchecks(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Every app service, and every other long-running service unless exempted with a reason,
    has a healthcheck."""
    problems = []
    for name, spec in services.items():
        if one_shot(spec) and "build" not in spec:
            continue
        if healthcheck_enabled(spec):
            continue
        if name in NO_HEALTHCHECK and "build" not in spec:
            continue
        problems.append(f"{name}: no healthcheck")
    return problems


def rule_ports_loopback(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Published ports are bound to 127.0.0.1 only."""
    problems = []
    for name, spec in services.items():
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
                if "published" in port and host_ip not in LOOPBACK:
                    problems.append(f"{name}: port {port} is not bound to 127.0.0.1 (host_ip)")
                continue
            text = str(port)
            if text.startswith("[::1]:"):
                continue
            parts = text.split(":")
            if len(parts) < 3 or parts[0] not in LOOPBACK:
                problems.append(f"{name}: port {text!r} is not bound to 127.0.0.1")
    return problems


def condition_problems(name: str, spec: dict[str, Any], services: Services) -> Problems:
    """What is wrong with one service's depends_on conditions."""
    depends = spec.get("depends_on") or {}
    if isinstance(depends, list):
        return [f"{name}: depends_on without conditions: use the long syntax"]
    problems = []
    for target, options in depends.items():
        if target not in services:
            problems.append(f"{name}: depends on unknown service {target}")
            continue
        condition = (options or {}).get("condition")
        if condition == "service_healthy" and not healthcheck_enabled(services[target]):
            problems.append(f"{name}: waits for {target} to be healthy: no healthcheck")
        if condition == "service_completed_successfully" and not one_shot(services[target]):
            problems.append(f"{name}: waits for {target} to complete but it restarts")
        if condition is None:
            problems.append(f"{name}: depends_on {target} without a condition")
    return problems


def app_start_problems(name: str, spec: dict[str, Any], services: Services) -> Problems:
    """An app service waits for its own migrate job and for Kafka to be healthy."""
    depends = spec.get("depends_on") or {}
    if not isinstance(depends, dict):
        return []
    migrations = [
        target
        for target, options in depends.items()
        if (options or {}).get("condition") == "service_completed_successfully"
        and services.get(target, {}).get("image") == spec.get("image")
        and services.get(target, {}).get("command") == ["migrate"]
    ]
    problems = []
    if not migrations:
        problems.append(f"{name}: does not wait for its migrate job (command: [migrate])")
    if (depends.get("kafka") or {}).get("condition") != "service_healthy":
        problems.append(f"{name}: does not wait for kafka to be healthy")
    return problems


def rule_depends_on(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """depends_on uses conditions; service_healthy targets have healthchecks,
    service_completed_successfully targets are one-shot; each app service waits for its
    migrations and for Kafka."""
    problems = []
    for name, spec in services.items():
        problems += condition_problems(name, spec, services)
    for name, spec in app_services(services).items():
        problems += app_start_problems(name, spec, services)
    return problems


def rule_dev_secrets(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Keys, secrets and passwords in the file are development values (they say so)."""
    problems = []
    for name, spec in services.items():
        for key, value in environment(spec).items():
            if SECRET_NAME.search(key) and value and not DEV_VALUE.search(value):
                if key == "KINSHIP_NOTE_KEYS" and DEV_VALUE.search(
                    environment(spec).get("KINSHIP_NOTE_KEY_ID", "")
                ):
                    continue
                problems.append(f"{name}: {key} does not look like a development value")
            if key == "KINSHIP_DATABASE_URL" and not DEV_VALUE.search(value):
                problems.append(f"{name}: KINSHIP_DATABASE_URL carries no development password")
    if "DEVELOPMENT ONLY" not in (root / "docker-compose.yml").read_text():
        problems.append("docker-compose.yml: mark the development values DEVELOPMENT ONLY")
    return problems


def rule_service_settings(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Each app service listens where its healthcheck looks, owns a schema, and sends
    telemetry to the collector with the standard OTEL_* variables."""
    problems = []
    for name, spec in app_services(services).items():
        env = environment(spec)
        for required in ("KINSHIP_DATABASE_URL", "KINSHIP_KAFKA_BOOTSTRAP_SERVERS"):
            if not env.get(required):
                problems.append(f"{name}: {required} is not set")
        if env.get("KINSHIP_DATABASE_SCHEMA", name) != name:
            problems.append(f"{name}: KINSHIP_DATABASE_SCHEMA should be the service's name")
        endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        host = re.sub(r"^https?://", "", endpoint).split(":")[0]
        if host not in services:
            problems.append(f"{name}: OTEL_EXPORTER_OTLP_ENDPOINT {endpoint!r}: not a service")
        if env.get("OTEL_SERVICE_NAME") != f"kinship-{name}":
            problems.append(f"{name}: OTEL_SERVICE_NAME should be kinship-{name}")
    return problems


def rule_files_exist(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Build contexts, Dockerfiles and bind-mounted files exist."""
    problems = []
    for name, spec in services.items():
        build = spec.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if build:
            context = root / build.get("context", ".")
            if not context.is_dir():
                problems.append(f"{name}: build context {context} does not exist")
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
        for volume in spec.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, dict) else str(volume).split(":")[0]
            if source and source.startswith((".", "/")) and not (root / source).exists():
                problems.append(f"{name}: bind mount source {source} does not exist")
    return problems


def build_problems(name: str, spec: dict[str, Any]) -> Problems:
    """A service is built from services/Dockerfile with the repository root as context, its
    own name as SERVICE and the port it publishes as PORT."""
    build = spec.get("build") or {}
    if isinstance(build, str) or build.get("dockerfile") != SERVICE_DOCKERFILE:
        return [f"{name}: no compose service built from {SERVICE_DOCKERFILE}"]
    problems = []
    if build.get("context", ".") != ".":
        problems.append(f"{name}: the build context must be the repository root")
    args = build_args(spec)
    if args.get("SERVICE") != name:
        problems.append(f"{name}: build argument SERVICE must be {name!r} (its services/ folder)")
    port, published = args.get("PORT", ""), container_ports(spec)
    if not port.isdigit():
        problems.append(f"{name}: build argument PORT must be the port it serves on")
    elif published and port not in published:
        problems.append(f"{name}: build argument PORT {port} is not a port it publishes")
    return problems


def rule_every_service_built(compose: dict[str, Any], services: Services, root: Path) -> Problems:
    """Every service of the workspace (services/*/pyproject.toml) has a compose service of the
    same name built from services/Dockerfile with its name and port as build arguments."""
    problems = []
    if not (root / SERVICE_DOCKERFILE).is_file():
        problems.append(f"{SERVICE_DOCKERFILE} is missing")
    for manifest in sorted(root.glob("services/*/pyproject.toml")):
        name = manifest.parent.name
        problems += build_problems(name, services.get(name, {}))
    return problems


def pipeline_problems(config: dict[str, Any], pipeline: str, parts: dict[str, Any]) -> Problems:
    """Every component one collector pipeline names is defined; it receives and exports."""
    problems = []
    for kind in ("receivers", "processors", "exporters"):
        for component in parts.get(kind) or []:
            defined = dict(config.get(kind) or {})
            if kind in ("receivers", "exporters"):
                defined |= config.get("connectors") or {}
            if component not in defined:
                problems.append(f"collector: {pipeline}: {kind[:-1]} {component} undefined")
    if not parts.get("receivers") or not parts.get("exporters"):
        problems.append(f"collector: pipeline {pipeline} needs receivers and exporters")
    return problems


def collector_problems(config: dict[str, Any], services: Services) -> Problems:
    """Every component a pipeline names is defined; exporters point at compose services."""
    service = config.get("service") or {}
    problems = [
        f"collector: extension {extension} is not defined"
        for extension in service.get("extensions") or []
        if extension not in (config.get("extensions") or {})
    ]
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("collector: no pipelines")
    for pipeline, parts in pipelines.items():
        problems += pipeline_problems(config, pipeline, parts)
    for exporter, options in (config.get("exporters") or {}).items():
        endpoint = str((options or {}).get("endpoint", ""))
        host = re.sub(r"^https?://", "", endpoint).split(":")[0]
        if endpoint and host not in services:
            problems.append(f"collector: exporter {exporter} sends to {endpoint}: not a service")
    if "traces" not in {name.split("/")[0] for name in pipelines}:
        problems.append("collector: no traces pipeline")
    return problems


Rule = Callable[[dict[str, Any], Services, Path], Problems]
RULES: list[Rule] = [
    rule_no_interpolation,
    rule_images_pinned,
    rule_healthchecks,
    rule_ports_loopback,
    rule_depends_on,
    rule_dev_secrets,
    rule_service_settings,
    rule_files_exist,
    rule_every_service_built,
]


def print_builds(compose_path: Path) -> int:
    """The build arguments of each service built from services/Dockerfile, a line each."""
    services: Services = load(compose_path).get("services") or {}
    for spec in app_services(services).values():
        build = spec["build"]
        if isinstance(build, dict) and build.get("dockerfile") == SERVICE_DOCKERFILE:
            print(",".join(f"{key}={value}" for key, value in sorted(build_args(spec).items())))
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--builds"]:
        return print_builds(Path(argv[2] if len(argv) > 2 else "docker-compose.yml"))
    compose_path = Path(argv[1] if len(argv) > 1 else "docker-compose.yml")
    collector_path = Path(argv[2] if len(argv) > 2 else "deploy/compose/otel-collector.yaml")
    root = compose_path.resolve().parent
    compose = load(compose_path)
    services: Services = compose.get("services") or {}
    failures = 0
    for rule in RULES:
        title = rule.__name__.removeprefix("rule_").replace("_", "-")
        problems = rule(compose, services, root)
        print(f"  {'ok  ' if not problems else 'FAIL'}  compose policy {title}")
        for problem in problems:
            print(f"        {problem}")
        failures += len(problems)
    problems = collector_problems(load(collector_path), services)
    print(f"  {'ok  ' if not problems else 'FAIL'}  collector config {collector_path}")
    for problem in problems:
        print(f"        {problem}")
    failures += len(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

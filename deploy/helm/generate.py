"""Generates the Helm chart's registry file from the code: topics, ACLs, secrets, ports.

``uv run python deploy/helm/generate.py`` writes ``deploy/helm/kinship/files/registry.json``;
the chart's templates read it with ``.Files.Get`` to render the Strimzi ``KafkaTopic`` and
``KafkaUser`` resources, the KEDA triggers and the services' secret references. Nothing in
it is typed by hand:

- **topics**: exactly what ``kinship_runtime.kafka.ensure_topics`` creates for the contracts'
  registry (``TOPICS``) on a local stack: every registry topic with its partitions and
  config, and its ``<name>.dlq`` dead-letter topic. ``ensure_topics`` runs here against a
  capturing stand-in for the Kafka admin client, so a change there shows up here.
- **services**: each service's wiring is built as ``python -m kinship_<service>`` builds it
  (nothing connects): the subscribers its ``entrypoints/consumers.py`` registers give the
  topics it reads and its consumer groups; the events it declares it produces
  (``KinshipService.produces``, what its outbox relays) give the topics it writes; every
  consumed topic's ``.dlq`` is written too (``runtime.ingestion.DeadLetters``). Its settings
  class gives its HTTP port, graceful timeout, and which settings are secrets (``SecretStr``)
  and which are required outside the dev profile (``SECRETS``): a secret it does not declare
  is not given to it.

It also writes the topic and ACL tables of ``docs/kubernetes.md`` (between its markers).
``--check`` writes nothing and exits 1 when either committed file differs from what the code
gives (CI runs it through ``scripts/check-helm.sh``).
"""

import argparse
import asyncio
import difflib
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "deploy" / "helm" / "kinship" / "files" / "registry.json"
DOCS = ROOT / "docs" / "kubernetes.md"
DOCS_START = "<!-- registry tables: written by deploy/helm/generate.py, do not edit -->"
DOCS_END = "<!-- /registry tables -->"

# Placeholders so the services' settings validate while their wiring is built; nothing
# connects and none of these values reaches the output.
_PLACEHOLDER_ENV = {
    # Nothing runs: placeholder keys are built into the file-generating process only.
    "KINSHIP_ENV": "dev",
    "KINSHIP_WEBHOOK_SECRET": "chart-generator-placeholder",
    "KINSHIP_NOTE_KEYS": "gen:" + "A" * 43 + "=",
    "KINSHIP_NOTE_KEY_ID": "gen",
    # A prefix no real group id has: a subscriber's group id must be "@.<service>.<purpose>".
    "KINSHIP_CONSUMER_GROUP_PREFIX": "@",
    "KINSHIP_TOPIC_PREFIX": "",
}

# Deployment choices (not derivable from the code), checked against what the code declares:
# the consumer groups whose lag KEDA scales each service on. The first is the service's main
# group; escalation also scales on its urgent lane, the one that pages people.
SCALE_ON: dict[str, tuple[str, ...]] = {
    "checkin": ("submissions",),
    "escalation": ("checkins", "urgent"),
    "notifications": ("requests",),
    "recognition": ("checkins",),
}
# Which secrets a service is given, and which it needs outside KINSHIP_ENV=dev, is what its
# settings class declares (``SECRETS``). Secrets that every service reads are shared, one
# Secret for the four, except those that are one value per service: each service logs in to
# PostgreSQL with its own role and asks the check-in vault with its own key (its own scopes).
PER_SERVICE_SECRETS = frozenset({"KINSHIP_DATABASE_URL", "KINSHIP_CHECKIN_API_KEY"})
# Secret settings the chart fills itself (from the service's Strimzi KafkaUser Secret).
CHART_MANAGED_SECRETS = frozenset({"KINSHIP_KAFKA_SASL_PASSWORD"})


@dataclass(frozen=True)
class Consumer:
    """One subscriber: the topic it reads and its consumer group's purpose."""

    topic: str
    group: str


@dataclass(frozen=True)
class Wiring:
    """What one service's code declares."""

    name: str
    http_port: int
    graceful_timeout_seconds: float
    consumers: tuple[Consumer, ...]
    produces: tuple[str, ...]
    secrets: dict[str, bool]
    """Secret settings (env var name → required)."""
    required_config: tuple[str, ...]


class _CapturingAdmin:
    """Stands in for ``AIOKafkaAdminClient`` inside ``ensure_topics``: no topic exists yet,
    and what it would create is kept."""

    created: typing.ClassVar[list[Any]] = []

    def __init__(self, **_options: object) -> None:
        pass

    async def start(self) -> None:
        """Nothing to connect."""

    async def list_topics(self) -> list[str]:
        """An empty cluster."""
        return []

    async def create_topics(self, topics: Iterable[Any]) -> None:
        """Keep the ``NewTopic`` objects."""
        _CapturingAdmin.created.extend(topics)

    async def close(self) -> None:
        """Nothing to close."""


def _clean_environment() -> None:
    # A developer's KINSHIP_* variables (a topic prefix, a port) must not leak into the file.
    for name in list(os.environ):
        if name.startswith(("KINSHIP_", "OTEL_")):
            del os.environ[name]
    os.environ.update(_PLACEHOLDER_ENV)


def registry_topics() -> list[dict[str, Any]]:
    """Every topic ``ensure_topics`` creates for the registry, sorted by name."""
    import kinship_runtime.kafka as kafka
    from kinship_contracts.topics import TOPICS, dead_letter_topic
    from kinship_runtime.settings import KinshipSettings

    _CapturingAdmin.created.clear()
    with mock.patch.object(kafka, "AIOKafkaAdminClient", _CapturingAdmin):
        asyncio.run(kafka.ensure_topics(KinshipSettings(), TOPICS))
    registry = {spec.name: spec for spec in TOPICS}
    dead_letters = {dead_letter_topic(name): name for name in registry}
    topics = []
    for new in _CapturingAdmin.created:
        name = str(new.name)
        if name in registry:
            spec = registry[name]
            entry: dict[str, Any] = {
                "name": name,
                "role": "ingestion" if spec.ingestion else "event",
                "key": spec.key,
            }
        elif name in dead_letters:
            entry = {"name": name, "role": "dead-letter", "of": dead_letters[name]}
        else:
            raise SystemExit(f"ensure_topics created {name!r}, which is not in the registry")
        entry["partitions"] = int(new.num_partitions)
        entry["config"] = {str(k): str(v) for k, v in sorted(new.topic_configs.items())}
        topics.append(entry)
    missing = (set(registry) | set(dead_letters)) - {t["name"] for t in topics}
    if missing:
        raise SystemExit(f"ensure_topics did not create {sorted(missing)}")
    return sorted(topics, key=lambda t: str(t["name"]))


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_secret(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_secret(arg) for arg in typing.get_args(annotation))
    return False


def _subscribers(broker: Any, service: str) -> tuple[Consumer, ...]:
    found: list[Consumer] = []
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None)
        topics = getattr(subscriber, "topic_names_for_subscribe", None)
        if not isinstance(group, str) or not isinstance(topics, list):
            raise SystemExit(f"{service}: a subscriber without a group id or topics: {subscriber}")
        prefix = f"@.{service}."
        if not group.startswith(prefix):
            raise SystemExit(f"{service}: group {group!r} is not settings.consumer_group(...)")
        found.extend(Consumer(str(topic), group.removeprefix(prefix)) for topic in topics)
    return tuple(sorted(found, key=lambda c: (c.topic, c.group)))


def _wiring(name: str, build: Callable[[], tuple[Any, Any]]) -> Wiring:
    service, settings_type = build()
    secrets: dict[str, bool] = {}
    for field_name, required in settings_type.SECRETS.items():
        field = settings_type.model_fields.get(field_name)
        if field is None or not _is_secret(field.annotation):
            raise SystemExit(f"{name}: SECRETS names {field_name!r}, not a secret setting")
        env = f"KINSHIP_{field_name.upper()}"
        if env not in CHART_MANAGED_SECRETS:
            secrets[env] = bool(required)
    required_config = [
        f"KINSHIP_{field_name.upper()}"
        for field_name, field in settings_type.model_fields.items()
        if field.is_required() and not _is_secret(field.annotation)
    ]
    settings = service.settings
    return Wiring(
        name=name,
        http_port=int(settings.http_port),
        graceful_timeout_seconds=float(settings.graceful_timeout_seconds),
        consumers=_subscribers(service.broker, name),
        produces=tuple(sorted({spec.name for spec in service.produces})),
        secrets=dict(sorted(secrets.items())),
        required_config=tuple(sorted(required_config)),
    )


def _checkin() -> tuple[Any, Any]:
    from kinship_checkin.composition import create_app
    from kinship_checkin.settings import CheckinSettings

    return create_app(CheckinSettings()).state.kinship, CheckinSettings


def _escalation() -> tuple[Any, Any]:
    from kinship_escalation.composition import create_app
    from kinship_escalation.settings import EscalationSettings

    return create_app(EscalationSettings()).state.kinship, EscalationSettings


def _notifications() -> tuple[Any, Any]:
    from kinship_notifications.composition import create_app
    from kinship_notifications.settings import NotificationSettings

    return create_app(NotificationSettings()).state.kinship, NotificationSettings


def _recognition() -> tuple[Any, Any]:
    from kinship_recognition.composition import create_app
    from kinship_recognition.settings import RecognitionSettings

    return create_app(RecognitionSettings()).state.kinship, RecognitionSettings


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "checkin": _checkin,
    "escalation": _escalation,
    "notifications": _notifications,
    "recognition": _recognition,
}


def _service_entry(wiring: Wiring, topic_names: set[str], shared: set[str]) -> dict[str, Any]:
    reads = sorted({c.topic for c in wiring.consumers})
    dead_letters = sorted(f"{topic}.dlq" for topic in reads)
    writes = sorted(set(wiring.produces) | set(dead_letters))
    groups = sorted({c.group for c in wiring.consumers})
    for topic in (*reads, *writes):
        if topic not in topic_names:
            raise SystemExit(f"{wiring.name} uses {topic!r}, which is not a registry topic")
    scale_on = []
    for purpose in SCALE_ON[wiring.name]:
        topics = sorted(c.topic for c in wiring.consumers if c.group == purpose)
        if len(topics) != 1:
            raise SystemExit(
                f"SCALE_ON names group {purpose!r} of {wiring.name}, which reads {topics} "
                f"(its groups: {groups}); fix SCALE_ON in {Path(__file__).name}"
            )
        scale_on.append({"group": purpose, "topic": topics[0]})
    return {
        "httpPort": wiring.http_port,
        "gracefulTimeoutSeconds": wiring.graceful_timeout_seconds,
        "consumers": [{"topic": c.topic, "group": c.group} for c in wiring.consumers],
        "groups": groups,
        "produces": list(wiring.produces),
        "acls": {"read": reads, "write": writes},
        "scaleOn": scale_on,
        "secrets": [
            {"env": env, "required": required}
            for env, required in wiring.secrets.items()
            if env not in shared
        ],
        "requiredConfig": list(wiring.required_config),
    }


def registry() -> dict[str, Any]:
    """The whole registry file's content."""
    _clean_environment()
    topics = registry_topics()
    wirings = {name: _wiring(name, build) for name, build in BUILDERS.items()}
    # Shared secrets: settings every service has, except those that are one per service.
    everywhere = set.intersection(*(set(w.secrets) for w in wirings.values()))
    shared = everywhere - PER_SERVICE_SECRETS
    shared_required = {
        env: any(w.secrets.get(env, False) for w in wirings.values()) for env in sorted(shared)
    }
    topic_names = {str(t["name"]) for t in topics}
    return {
        "generatedBy": "uv run python deploy/helm/generate.py (do not edit by hand)",
        "topics": topics,
        "sharedSecrets": [{"env": env, "required": req} for env, req in shared_required.items()],
        "services": {
            name: _service_entry(wiring, topic_names, shared) for name, wiring in wirings.items()
        },
    }


def render() -> str:
    """The registry file as written."""
    return json.dumps(registry(), indent=2, sort_keys=True) + "\n"


def _days(config: dict[str, str]) -> str:
    if config.get("cleanup.policy") == "compact":
        return "compacted"
    retention = int(config["retention.ms"])
    return f"{retention // 86_400_000} days, delete"


def docs_tables(data: dict[str, Any]) -> str:
    """The topic and ACL tables of docs/kubernetes.md (default prefixes)."""
    lines = [
        DOCS_START,
        "| topic (KafkaTopic) | role | partitions | retention |",
        "|---|---|---|---|",
    ]
    for topic in data["topics"]:
        role = topic["role"] + (f" of `{topic['of']}`" if topic["role"] == "dead-letter" else "")
        lines.append(
            f"| `{topic['name']}` | {role} | {topic['partitions']} | {_days(topic['config'])} |"
        )
    lines += [
        "",
        "| service (KafkaUser) | Read, Describe | Write, Describe | consumer groups "
        "(Read, Describe) | KEDA scales on |",
        "|---|---|---|---|---|",
    ]

    def code(items: Iterable[str]) -> str:
        return "<br>".join(f"`{item}`" for item in items)

    for name, entry in data["services"].items():
        groups = [f"kinship.{name}.{group}" for group in entry["groups"]]
        scale = [f"kinship.{name}.{s['group']}" for s in entry["scaleOn"]]
        lines.append(
            f"| {name} | {code(entry['acls']['read'])} | {code(entry['acls']['write'])} "
            f"| {code(groups)} | {code(scale)} |"
        )
    lines.append(DOCS_END)
    return "\n".join(lines)


def docs_with_tables(text: str, data: dict[str, Any]) -> str:
    """docs/kubernetes.md with its generated tables replaced."""
    if DOCS_START not in text or DOCS_END not in text:
        raise SystemExit(f"{DOCS.relative_to(ROOT)} lacks the markers {DOCS_START} {DOCS_END}")
    start, end = text.index(DOCS_START), text.index(DOCS_END) + len(DOCS_END)
    return text[:start] + docs_tables(data) + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Write the registry file, or with ``--check`` fail when the committed one is stale."""
    parser = argparse.ArgumentParser(prog="deploy/helm/generate.py", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is stale"
    )
    parser.add_argument(
        "--file",
        type=Path,
        default=OUTPUT,
        help=f"the registry file (default: {OUTPUT.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    output: Path = args.file.resolve()
    content = render()
    current = output.read_text() if output.exists() else ""
    relative = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
    data = json.loads(content)
    summary = (
        f"{len(data['topics'])} topics "
        f"({sum(t['role'] == 'dead-letter' for t in data['topics'])} dead-letter), "
        f"{len(data['services'])} services"
    )
    docs = DOCS.read_text()
    files = [
        (output, relative, current, content),
        (DOCS, DOCS.relative_to(ROOT), docs, docs_with_tables(docs, data)),
    ]
    stale = []
    for path, name, old, new in files:
        if old == new:
            print(f"{name} is up to date: {summary}")
        elif args.check:
            diff = difflib.unified_diff(
                old.splitlines(), new.splitlines(), str(name), "generated", lineterm=""
            )
            print("\n".join(list(diff)[:60]), file=sys.stderr)
            stale.append(str(name))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new)
            print(f"wrote {name}: {summary}")
    if stale:
        print(
            f"STALE: {', '.join(stale)} do(es) not match the code (topic registry, consumers, "
            "produced events or settings changed). Run 'uv run python deploy/helm/generate.py' "
            "and commit the result.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

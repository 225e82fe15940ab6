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
  (nothing connects): the subscribers its ``entrypoints/consumers.py`` registers give the topics
  it reads and its consumer groups; the events it declares it produces
  (``ServiceParts.produces`` on ``app.state.kinship``, what its outbox relays) give the topics
  it writes; every consumed topic's ``.dlq`` is written too
  (``kinship_runtime.dead_letters.DeadLetters``). Its settings class gives its HTTP port,
  graceful timeout, and which settings are secrets (``SecretStr``) and which are required
  outside the dev profile (``SECRETS``): a secret it does not declare is not given to it. Its
  plain settings (every other field) bound what the chart may set in its environment; its
  migration Job gets only what ``MigrationSettings`` declares (the database). A secret that
  several services read, but not all four, is one value among them (a key one signs with and
  another verifies), except those that are one per service. Services that read
  ``KINSHIP_CHECKIN_API_KEY`` ask the check-in service's vault; the scopes their key needs
  (``VAULT_SCOPES``) are a deployment fact checked against that.
- **lanes**: the Deployments of a service apart from its own (the check-in ingest, the
  escalation urgent lane), with the consumers each leaves to the other
  (``KINSHIP_EXCLUDED_CONSUMERS``) as the local stack runs them (``kinship_devstack.services``)
  and the groups KEDA scales each on (``LANES``); checked so that every group runs somewhere.
- **console**: the web console (``services/console``, no Kafka) has no ``SECRETS`` list: its
  secrets are its ``SecretStr`` settings, required when the field has no default (the OIDC
  client secret, the session key) and, as every service's, its database URL (the default is
  the local stack's); its required plain settings are its fields without a default (the OIDC
  issuer); its migration Job gets the secrets of ``DatabaseSettings`` (the database).
- **refusedValueSha256**: SHA-256 of the local stack's published credentials (and of the
  development note key decoded, refused in any note key table under any id; an API key's
  ``key_sha256`` equal to one of them is refused too), which every service refuses outside
  the dev profile, and **minKeyBytes**, the shortest key they accept
  (``kinship_runtime.settings``): the chart refuses such values too.

It also writes the topic, ACL and secret tables of ``docs/kubernetes.md`` (between their
markers).
``--check`` writes nothing and exits 1 when either committed file differs from what the code
gives (CI runs it through ``scripts/check-helm.sh``).
"""

import argparse
import asyncio
import difflib
import hashlib
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
SECRETS_START = "<!-- secret tables: written by deploy/helm/generate.py, do not edit -->"
SECRETS_END = "<!-- /secret tables -->"

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
# Deployments of a service apart from its main one (docs/kubernetes.md, Lanes): the values
# key under services.<name> that turns each on (and sizes it) and the groups whose lag KEDA
# scales it on. Which consumers each deployment leaves to the other
# (KINSHIP_EXCLUDED_CONSUMERS) is what the local stack runs (kinship_devstack.services, where
# the alert latency was measured), read from there and checked: every group runs somewhere.
# The urgent lane is not scaled on lag: it keeps its fixed replicas warm.
LANES: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "checkin": {"ingest": ("ingest", ("submissions",))},
    "escalation": {"urgent": ("urgentLane", ())},
}
# Which secrets a service is given, and which it needs outside KINSHIP_ENV=dev, is what its
# settings class declares (``SECRETS``). Secrets that every service reads are shared, one
# Secret for the four, except those that are one value per service: each service logs in to
# PostgreSQL with its own role and asks the check-in vault with its own key (its own scopes).
PER_SERVICE_SECRETS = frozenset({"KINSHIP_DATABASE_URL", "KINSHIP_CHECKIN_API_KEY"})
# Secret settings the chart fills itself (from the service's Strimzi KafkaUser Secret).
CHART_MANAGED_SECRETS = frozenset({"KINSHIP_KAFKA_SASL_PASSWORD"})
# The scopes each service's KINSHIP_CHECKIN_API_KEY needs at the check-in service's vault
# (kinship_runtime.vault: subjects -> subjects:lookup, conflicts -> subjects:screen,
# delivery_target -> subjects:deliver, erasure_subjects -> subjects:erasure), by what its
# handlers call. Checked against the
# services that declare the key and against kinship_runtime.identity.Scope.
VAULT_SCOPES: dict[str, tuple[str, ...]] = {
    "escalation": ("subjects:lookup", "subjects:screen", "subjects:erasure"),
    # subjects:lookup (create=false): a person's own deliveries in GET /v1/me/data.
    "notifications": ("subjects:lookup", "subjects:deliver", "subjects:erasure"),
    "recognition": ("subjects:lookup", "subjects:erasure"),
}
VAULT_KEY = "KINSHIP_CHECKIN_API_KEY"
# Every workload's database URL is required in a cluster, although the console's settings
# default it (to the local stack's database).
CLUSTER_REQUIRED_SECRETS = frozenset({"KINSHIP_DATABASE_URL"})


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
    keys: frozenset[str]
    """The secrets that are keys (at least ``MIN_KEY_BYTES`` outside the dev profile)."""
    required_config: tuple[str, ...]
    settings: tuple[str, ...]
    """Every plain (non-secret) setting, as its env var name."""
    migration_secrets: tuple[str, ...]


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


def _env(settings_type: Any, field_name: str) -> str:
    prefix = settings_type.model_config.get("env_prefix")
    if prefix != "KINSHIP_":
        raise SystemExit(f"{settings_type.__name__} reads {prefix!r}, not KINSHIP_ variables")
    return f"KINSHIP_{field_name.upper()}"


def _plain_settings(settings_type: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every plain setting, the required ones) of a settings class, as env var names."""
    plain = {
        name: field
        for name, field in settings_type.model_fields.items()
        if not _is_secret(field.annotation)
    }
    every = tuple(sorted(_env(settings_type, name) for name in plain))
    required = tuple(
        sorted(_env(settings_type, name) for name, field in plain.items() if field.is_required())
    )
    return every, required


def _secret_fields(settings_type: Any) -> list[str]:
    return [
        name for name, field in settings_type.model_fields.items() if _is_secret(field.annotation)
    ]


def _wiring(name: str, build: Callable[[], tuple[Any, Any]]) -> Wiring:
    from kinship_runtime.settings import KinshipSettings, MigrationSettings

    service, settings_type = build()
    secrets: dict[str, bool] = {}
    for field_name, required in settings_type.SECRETS.items():
        field = settings_type.model_fields.get(field_name)
        if field is None or not _is_secret(field.annotation):
            raise SystemExit(f"{name}: SECRETS names {field_name!r}, not a secret setting")
        env = _env(settings_type, field_name)
        if env not in CHART_MANAGED_SECRETS:
            secrets[env] = bool(required)
    undeclared = set(_secret_fields(settings_type)) - set(settings_type.SECRETS)
    keys = frozenset(
        _env(settings_type, field_name)
        for field_name in settings_type.SECRETS
        if field_name not in settings_type.NOT_KEYS and field_name != "api_keys"
    )
    every, required_config = _plain_settings(settings_type)
    settings = service.settings
    migration = [_env(MigrationSettings, field) for field in MigrationSettings.SECRETS]
    # The base class has secrets only some services read; a secret setting of the service's
    # own that its SECRETS does not list is a mistake (it would never reach the service).
    own = undeclared - set(KinshipSettings.model_fields)
    if own:
        raise SystemExit(f"{name}: its secret settings {sorted(own)} are not in SECRETS")
    return Wiring(
        name=name,
        http_port=int(settings.http_port),
        graceful_timeout_seconds=float(settings.graceful_timeout_seconds),
        consumers=_subscribers(service.broker, name),
        produces=tuple(sorted({spec.name for spec in service.produces})),
        secrets=dict(sorted(secrets.items())),
        keys=keys & set(secrets),
        required_config=required_config,
        settings=every,
        migration_secrets=tuple(sorted(migration)),
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


def _secret_list(
    secrets: dict[str, bool], keys: frozenset[str], skip: set[str]
) -> list[dict[str, Any]]:
    return [
        {"env": env, "required": required, "key": env in keys}
        for env, required in secrets.items()
        if env not in skip
    ]


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
    entry: dict[str, Any] = {
        "kafka": True,
        "httpPort": wiring.http_port,
        "gracefulTimeoutSeconds": wiring.graceful_timeout_seconds,
        "consumers": [{"topic": c.topic, "group": c.group} for c in wiring.consumers],
        "groups": groups,
        "produces": list(wiring.produces),
        "acls": {"read": reads, "write": writes},
        "scaleOn": scale_on,
        "secrets": _secret_list(wiring.secrets, wiring.keys, shared),
        "migrationSecrets": list(wiring.migration_secrets),
        "requiredConfig": list(wiring.required_config),
        "settings": list(wiring.settings),
    }
    lanes = service_lanes(wiring.name, groups)
    if lanes:
        topic_of = {c.group: c.topic for c in wiring.consumers}
        for lane in lanes["lanes"]:
            lane["scaleOn"] = [{"group": g, "topic": topic_of[g]} for g in lane["scaleOn"]]
        entry["mainExcluded"] = lanes["mainExcluded"]
        entry["lanes"] = lanes["lanes"]
    if VAULT_KEY in wiring.secrets:
        entry["vaultScopes"] = list(VAULT_SCOPES[wiring.name])
    return entry


def _excluded(settings: Iterable[tuple[str, str]]) -> list[str]:
    value = dict(settings).get("KINSHIP_EXCLUDED_CONSUMERS", "")
    return sorted(filter(None, value.split(",")))


def _relay_leads(settings: Iterable[tuple[str, str]]) -> bool:
    return dict(settings).get("KINSHIP_OUTBOX_RELAY_LEADS", "true") == "true"


def service_lanes(name: str, groups: list[str]) -> dict[str, Any]:
    """A service's lanes: {"mainExcluded": [...], "lanes": [...]} (empty without lanes), from
    LANES and the local stack's deployments of the service."""
    from kinship_devstack.services import SERVICES

    specs = [spec for spec in SERVICES if spec.name == name]
    roles = {spec.role for spec in specs if spec.role}
    if roles != set(LANES.get(name, {})):
        raise SystemExit(
            f"{name}: the local stack runs the lanes {sorted(roles)}, LANES in "
            f"{Path(__file__).name} names {sorted(LANES.get(name, {}))}"
        )
    if not roles:
        return {}
    (main,) = [spec for spec in specs if not spec.role]
    main_excluded = _excluded(main.settings)
    if not _relay_leads(main.settings):
        raise SystemExit(f"{name}: its main deployment must be able to lead the outbox relay")
    lanes = []
    for spec in sorted((spec for spec in specs if spec.role), key=lambda spec: spec.role):
        values, scale_on = LANES[name][spec.role]
        excluded = _excluded(spec.settings)
        unknown = (set(excluded) | set(main_excluded) | set(scale_on)) - set(groups)
        if unknown:
            raise SystemExit(f"{name}-{spec.role}: {sorted(unknown)} are not groups of {name}")
        if set(excluded) & set(main_excluded):
            raise SystemExit(
                f"{name}: {sorted(set(excluded) & set(main_excluded))} would run nowhere "
                f"(excluded by both its main deployment and its {spec.role} lane)"
            )
        if set(scale_on) & set(excluded):
            raise SystemExit(f"{name}-{spec.role} scales on groups it does not run")
        lanes.append(
            {
                "name": spec.role,
                "values": values,
                "excluded": excluded,
                "scaleOn": list(scale_on),
                "relayLeads": _relay_leads(spec.settings),
            }
        )
    return {"mainExcluded": main_excluded, "lanes": lanes}


def _check_vault_scopes(wirings: dict[str, Wiring]) -> None:
    from kinship_runtime.identity import Scope

    clients = {name for name, wiring in wirings.items() if VAULT_KEY in wiring.secrets}
    if clients != set(VAULT_SCOPES):
        raise SystemExit(
            f"the services that read {VAULT_KEY} are {sorted(clients)}; VAULT_SCOPES in "
            f"{Path(__file__).name} names {sorted(VAULT_SCOPES)}"
        )
    known = {scope.value for scope in Scope if scope.value.startswith("subjects:")}
    for name, scopes in VAULT_SCOPES.items():
        if not scopes or set(scopes) - known:
            raise SystemExit(f"VAULT_SCOPES[{name!r}] = {scopes}: vault scopes are {known}")


def console_entry() -> dict[str, Any]:
    """The console: no SECRETS list and no Kafka, so from its settings classes' fields."""
    from kinship_console.settings import ConsoleSettings, DatabaseSettings

    secrets = {
        _env(ConsoleSettings, name): (
            ConsoleSettings.model_fields[name].is_required()
            or _env(ConsoleSettings, name) in CLUSTER_REQUIRED_SECRETS
        )
        for name in _secret_fields(ConsoleSettings)
    }
    every, required_config = _plain_settings(ConsoleSettings)
    if "KINSHIP_KAFKA_BOOTSTRAP_SERVERS" in every:
        raise SystemExit("the console reads Kafka settings: give it a KafkaUser in the chart")
    return {
        "kafka": False,
        "httpPort": int(ConsoleSettings.model_fields["http_port"].default),
        "secrets": _secret_list(dict(sorted(secrets.items())), frozenset(), set()),
        "migrationSecrets": sorted(
            _env(DatabaseSettings, n) for n in _secret_fields(DatabaseSettings)
        ),
        "requiredConfig": list(required_config),
        "settings": list(every),
    }


def refused_values() -> list[str]:
    """SHA-256 (hex) of every published development credential the services refuse."""
    from kinship_console.settings import DEV_CLIENT_SECRET, DEV_SESSION_KEY
    from kinship_runtime.settings import DEV_CREDENTIALS, DEV_NOTE_KEY_BYTES

    # The development note key decoded too: the chart refuses it under any key id.
    note_key = DEV_NOTE_KEY_BYTES.decode()
    values = {*DEV_CREDENTIALS.values(), DEV_CLIENT_SECRET, DEV_SESSION_KEY, note_key}
    return sorted(hashlib.sha256(value.encode()).hexdigest() for value in values)


def registry() -> dict[str, Any]:
    """The whole registry file's content."""
    from kinship_runtime.settings import MIN_KEY_BYTES

    _clean_environment()
    topics = registry_topics()
    wirings = {name: _wiring(name, build) for name, build in BUILDERS.items()}
    _check_vault_scopes(wirings)
    # Shared secrets: settings every service has, except those that are one per service.
    everywhere = set.intersection(*(set(w.secrets) for w in wirings.values()))
    shared = everywhere - PER_SERVICE_SECRETS
    shared_required = {
        env: any(w.secrets.get(env, False) for w in wirings.values()) for env in sorted(shared)
    }
    shared_keys = frozenset().union(*(w.keys for w in wirings.values())) & shared
    # A secret several services read (not all: those are shared) is one value among them.
    readers: dict[str, list[str]] = {}
    for name, wiring in wirings.items():
        for env in wiring.secrets:
            readers.setdefault(env, []).append(name)
    same_value = {
        env: sorted(names)
        for env, names in sorted(readers.items())
        if len(names) > 1 and env not in everywhere and env not in PER_SERVICE_SECRETS
    }
    topic_names = {str(t["name"]) for t in topics}
    return {
        "generatedBy": "uv run python deploy/helm/generate.py (do not edit by hand)",
        "topics": topics,
        "minKeyBytes": MIN_KEY_BYTES,
        "sharedSecrets": _secret_list(shared_required, shared_keys, set()),
        "sameValueSecrets": same_value,
        "refusedValueSha256": refused_values(),
        "services": {
            name: _service_entry(wiring, topic_names, shared) for name, wiring in wirings.items()
        },
        "console": console_entry(),
    }


def render() -> str:
    """The registry file as written."""
    return json.dumps(registry(), indent=2, sort_keys=True) + "\n"


def _days(config: dict[str, str]) -> str:
    if config.get("cleanup.policy") == "compact":
        return "compacted"
    retention = int(config["retention.ms"])
    return f"{retention // 86_400_000} days, delete"


def _stamped_by(config: dict[str, str]) -> str:
    """Whose clock a topic's record timestamps are: the broker's at append, or the producer's."""
    if config.get("message.timestamp.type") == "LogAppendTime":
        return "broker (`LogAppendTime`)"
    return "producer"


def docs_tables(data: dict[str, Any]) -> str:
    """The topic and ACL tables of docs/kubernetes.md (default prefixes)."""
    lines = [
        DOCS_START,
        "| topic (KafkaTopic) | role | partitions | retention | record timestamps |",
        "|---|---|---|---|---|",
    ]
    for topic in data["topics"]:
        role = topic["role"] + (f" of `{topic['of']}`" if topic["role"] == "dead-letter" else "")
        lines.append(
            f"| `{topic['name']}` | {role} | {topic['partitions']} | {_days(topic['config'])} "
            f"| {_stamped_by(topic['config'])} |"
        )
    lines += [
        "",
        "| service (KafkaUser) | Read, Describe | Write, Describe | consumer groups "
        "(Read, Describe) | KEDA scales on (lanes on; Lanes) |",
        "|---|---|---|---|---|",
    ]

    def code(items: Iterable[str]) -> str:
        return "<br>".join(f"`{item}`" for item in items)

    for name, entry in data["services"].items():
        groups = [f"kinship.{name}.{group}" for group in entry["groups"]]
        # With the lanes on (the default): the groups a lane takes are scaled on its own
        # Deployment, or not at all (the urgent lane's fixed replicas).
        moved = set(entry.get("mainExcluded", []))
        scale = [
            f"kinship.{name}.{s['group']}" for s in entry["scaleOn"] if s["group"] not in moved
        ]
        for lane in entry.get("lanes", []):
            scale += [
                f"kinship.{name}.{s['group']} ({name}-{lane['name']})" for s in lane["scaleOn"]
            ]
        lines.append(
            f"| {name} | {code(entry['acls']['read'])} | {code(entry['acls']['write'])} "
            f"| {code(groups)} | {code(scale)} |"
        )
    lines.append(DOCS_END)
    return "\n".join(lines)


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def _secret_row(
    data: dict[str, Any], env: str, where: str, readers: list[str], required: bool, key: bool
) -> str:
    notes = [f"≥ {data['minKeyBytes']} bytes"] if key else []
    needed = "yes" if required else "no"
    if env == "KINSHIP_API_KEYS":
        clients = [name for name, entry in data["services"].items() if entry.get("vaultScopes")]
        needed = "yes, in a cluster"
        notes.append(
            "JSON list of `{name, scopes, key or key_sha256}`; must hold the vault keys "
            f"(`KINSHIP_CHECKIN_API_KEY`) of {_and(clients)} with their scopes"
        )
    if env == "KINSHIP_NOTE_KEYS":
        notes = ["comma-separated `key_id:base64` AES-256 keys (32 bytes each)"]
    if env in data["sameValueSecrets"]:
        notes.append("the same value in " + _and(data["sameValueSecrets"][env]))
    elif len(readers) > 1 and where.startswith("services."):
        notes.append("each service its own value")
    if env == VAULT_KEY:
        notes += [
            f"{name}: " + ", ".join(f"`{scope}`" for scope in data["services"][name]["vaultScopes"])
            for name in readers
        ]
    return f"| `{env}` | `{where}` | {', '.join(readers)} | {needed} | {'; '.join(notes)} |"


def secret_tables(data: dict[str, Any]) -> str:
    """The secret table of docs/kubernetes.md: which Secret holds what, who reads it."""
    lines = [
        SECRETS_START,
        "| variable | values (or the `existingSecret`'s key) | read by | required | notes |",
        "|---|---|---|---|---|",
    ]
    for secret in data["sharedSecrets"]:
        lines.append(
            _secret_row(
                data,
                secret["env"],
                "secrets.values",
                ["all four services"],
                secret["required"],
                secret["key"],
            )
        )
    readers: dict[str, list[dict[str, Any]]] = {}
    for name, entry in data["services"].items():
        for secret in entry["secrets"]:
            readers.setdefault(secret["env"], []).append({"service": name, **secret})
    for env, entries in sorted(readers.items()):
        lines.append(
            _secret_row(
                data,
                env,
                "services.<name>.secrets.values",
                [e["service"] for e in entries],
                any(e["required"] for e in entries),
                any(e["key"] for e in entries),
            )
        )
    for secret in data["console"]["secrets"]:
        lines.append(
            _secret_row(
                data,
                secret["env"],
                "console.secrets.values",
                ["console"],
                secret["required"],
                secret["key"],
            )
        )
    lines.append(SECRETS_END)
    return "\n".join(lines)


def _replace_between(text: str, start_marker: str, end_marker: str, content: str) -> str:
    if start_marker not in text or end_marker not in text:
        raise SystemExit(f"{DOCS.relative_to(ROOT)} lacks the markers {start_marker} {end_marker}")
    start, end = text.index(start_marker), text.index(end_marker) + len(end_marker)
    return text[:start] + content + text[end:]


def docs_with_tables(text: str, data: dict[str, Any]) -> str:
    """docs/kubernetes.md with its generated tables replaced."""
    text = _replace_between(text, DOCS_START, DOCS_END, docs_tables(data))
    return _replace_between(text, SECRETS_START, SECRETS_END, secret_tables(data))


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
        f"{len(data['services'])} services and the console"
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

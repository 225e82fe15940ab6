"""Kafka connections: the FastStream broker, plain clients and topic provisioning."""

import contextlib
import functools
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream.kafka import KafkaBroker
from faststream.middlewares import BaseMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from kinship_contracts.topics import DEAD_LETTER_RETENTION_MS, TopicSpec, dead_letter_topic
from kinship_runtime.settings import KinshipSettings
from kinship_runtime.telemetry import TracingMiddleware

_log = logging.getLogger("kinship.topics")


def client_options(settings: KinshipSettings) -> dict[str, Any]:
    """aiokafka connection options (bootstrap, TLS, SASL) from the settings."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
        options["ssl_context"] = context
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options


def make_broker(
    settings: KinshipSettings, middlewares: Sequence[type[BaseMiddleware]] = ()
) -> KafkaBroker:
    """The service's FastStream broker; subscribers choose their own ack policy.

    Every batch is handled in a ``process <topic>`` span that continues the trace of its first
    record that carries one (``TracingMiddleware``).
    """
    options = client_options(settings)
    return KafkaBroker(
        options.pop("bootstrap_servers"),
        client_id=f"kinship-{settings.service_name}",
        graceful_timeout=settings.graceful_timeout_seconds,
        enable_idempotence=True,
        acks="all",
        middlewares=(TracingMiddleware, *middlewares),
        # Access lines go through our JSON handler, at DEBUG: one line per batch is noise.
        logger=logging.getLogger(f"kinship.{settings.service_name}.broker"),
        log_level=logging.DEBUG,
        description=f"Kinship {settings.service_name} service",
        **_broker_security(options),
    )


_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def _broker_security(options: dict[str, Any]) -> dict[str, Any]:
    """FastStream takes TLS/SASL through its security objects: the plain options mapped onto
    them, by protocol first, so the broker connects exactly as the plain clients do (the
    settings refuse a combination where the two could differ)."""
    protocol = options.get("security_protocol", "PLAINTEXT")
    context = options.get("ssl_context")
    if protocol == "PLAINTEXT":
        return {}
    if protocol == "SSL":
        return {"security": BaseSecurity(ssl_context=context)}
    security = _SASL[options["sasl_mechanism"]]
    user, password = options["sasl_plain_username"], options["sasl_plain_password"]
    tls = protocol == "SASL_SSL"
    return {"security": security(user, password, ssl_context=context, use_ssl=tls)}


class KeyHashPartitioner:
    """Kafka's default key partitioning (murmur2), with the hash of recent keys cached.

    aiokafka's murmur2 is pure Python and showed as ~9% of the check-in hot path; keys
    (subject ids) repeat, so caching the hash gives the same partitions for less work.
    """

    def __init__(self) -> None:
        self._random = DefaultPartitioner()

    @staticmethod
    @functools.lru_cache(maxsize=65_536)
    def _hash(key: bytes) -> int:
        return int(murmur2(key)) & 0x7FFFFFFF

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        """The partition for ``key`` (a random available one when there is no key)."""
        if key is None:
            return int(self._random(key, all_partitions, available))
        return all_partitions[self._hash(key) % len(all_partitions)]


def make_producer(settings: KinshipSettings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent, acks=all producer for mechanisms that publish outside a handler."""
    options = client_options(settings) | {
        "client_id": f"kinship-{settings.service_name}-producer",
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": settings.kafka_linger_ms,
        "max_batch_size": settings.kafka_max_batch_bytes,
        "partitioner": KeyHashPartitioner(),
    }
    return AIOKafkaProducer(**(options | overrides))


async def ensure_topics(
    settings: KinshipSettings, specs: Iterable[TopicSpec], replication_factor: int = 1
) -> None:
    """Create the registered topics (and their dead-letter topics) that do not exist yet.

    Production clusters declare topics through Strimzi ``KafkaTopic`` resources; this is for
    local stacks and tests, where creating them up front avoids auto-creation races.
    """
    wanted: dict[str, NewTopic] = {}
    for spec in specs:
        name = settings.topic(spec)
        wanted[name] = NewTopic(
            name,
            num_partitions=spec.partitions,
            replication_factor=replication_factor,
            topic_configs=spec.config(),
        )
        dlq = settings.topic(dead_letter_topic(spec.name))
        wanted[dlq] = NewTopic(
            dlq,
            num_partitions=1,
            replication_factor=replication_factor,
            topic_configs={"retention.ms": str(DEAD_LETTER_RETENTION_MS)},
        )
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for name, topic in wanted.items() if name not in existing]
        if missing:
            # another replica may have created them first
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        present = {name: topic.topic_configs for name, topic in wanted.items() if name in existing}
        await reconcile_topic_configs(admin, present)
    finally:
        await admin.close()


DYNAMIC_TOPIC_CONFIG = 1
"""``config_source`` of a setting made on the topic itself (DescribeConfigs v1+)."""


async def reconcile_topic_configs(
    admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]
) -> list[str]:
    """Give existing topics the registry's settings (``wanted``, by topic name) where they
    differ, keeping their other topic-level settings; the names of the topics altered.

    A local stack created before a registry change (a new ``message.timestamp.type``, a
    retention) gets it at the next start, as Strimzi gives it to its KafkaTopics. Kafka's
    AlterConfigs replaces a topic's whole set of topic-level settings, so the set sent is
    the topic's own settings with the registry's over them. A refusal (a KafkaUser without
    AlterConfigs) is logged and the service starts: the topics work, with the old settings.
    """
    if not wanted:
        return []
    changed: list[ConfigResource] = []
    try:
        for name, own in (await _own_settings(admin, sorted(wanted))).items():
            if any(own.get(key) != value for key, value in wanted[name].items()):
                configs = own | wanted[name]
                changed.append(ConfigResource(ConfigResourceType.TOPIC, name, configs))
        if changed:
            _raise_errors(await admin.alter_configs(changed))
    except KafkaError as error:
        _log.warning("could not bring the topics' settings to the registry's: %r", error)
        return []
    altered = [resource.name for resource in changed]
    if altered:
        _log.info("brought the settings of topics %s to the registry's", ", ".join(altered))
    return altered


async def _own_settings(
    admin: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, dict[str, str]]:
    """Each topic's own settings (made on the topic, not inherited from the broker)."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    responses = await admin.describe_configs(resources)
    _raise_errors(responses)
    return {
        name: {
            entry[0]: entry[1]
            for entry in entries
            if entry[1] is not None and _set_on_topic(entry[3])
        }
        for response in responses
        for _, _, _, name, entries in response.resources
    }


def _raise_errors(responses: Iterable[Any]) -> None:
    """Raise the first error a DescribeConfigs or AlterConfigs response holds."""
    for response in responses:
        for error_code, _, _, name, *_ in response.resources:
            if error_code != 0:
                raise for_code(error_code)(f"topic {name}")


def _set_on_topic(source_or_default: object) -> bool:
    """Whether a described setting is the topic's own: its ``config_source`` (v1+), or, in
    DescribeConfigs v0, its ``is_default`` flag false."""
    if isinstance(source_or_default, bool):
        return not source_or_default
    return source_or_default == DYNAMIC_TOPIC_CONFIG

"""Kafka TLS and SASL (SPEC: "Kafka SASL/TLS settings are supported through configuration"):
every client connects the same way. The plain aiokafka clients (producers, the admin client)
take ``client_options``; the FastStream broker (every consumer) takes ``make_broker``'s
security object, which FastStream turns back into aiokafka options (``parse_security``).
Both must agree for every allowed combination, and a combination where they could differ,
or where a setting would be silently ignored, is refused at start."""

import functools
import ssl
from typing import Any

import pytest
from faststream.kafka.security import parse_security
from pydantic import SecretStr, ValidationError

from kinship_runtime.kafka import _broker_security, client_options, make_broker
from kinship_runtime.settings import KinshipSettings

CONNECTION = ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")


def settings(**fields: Any) -> KinshipSettings:
    return KinshipSettings(service_name="test", env="dev", **fields)


def broker_options(configured: KinshipSettings) -> dict[str, Any]:
    """What the FastStream broker hands aiokafka for these settings."""
    security = _broker_security(client_options(configured)).get("security")
    return parse_security(security)


ALLOWED = [
    ("PLAINTEXT", None),
    ("SSL", None),
    ("SASL_PLAINTEXT", "PLAIN"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ("SASL_SSL", "PLAIN"),
    ("SASL_SSL", "SCRAM-SHA-256"),
    ("SASL_SSL", "SCRAM-SHA-512"),
]


@pytest.mark.parametrize(("protocol", "mechanism"), ALLOWED)
def test_the_broker_and_the_plain_clients_connect_the_same_way(
    protocol: str, mechanism: str | None
) -> None:
    sasl = {}
    if mechanism is not None:
        sasl = {
            "kafka_sasl_mechanism": mechanism,
            "kafka_sasl_username": "kinship-checkin",
            "kafka_sasl_password": SecretStr("scram-password"),
        }
    configured = settings(kafka_security_protocol=protocol, **sasl)
    plain = client_options(configured)
    broker = broker_options(configured)

    assert plain["security_protocol"] == protocol
    assert broker.get("security_protocol", "PLAINTEXT") == protocol
    for option in CONNECTION[1:]:
        assert broker.get(option) == plain.get(option), option
    if mechanism is not None:
        assert (plain["sasl_mechanism"], plain["sasl_plain_username"]) == (
            mechanism,
            "kinship-checkin",
        )
        assert plain["sasl_plain_password"] == "scram-password"
    tls = protocol in ("SSL", "SASL_SSL")
    assert isinstance(plain.get("ssl_context"), ssl.SSLContext) is tls
    assert isinstance(broker.get("ssl_context"), ssl.SSLContext) is tls
    if tls:  # the default context: the server's certificate and name are checked
        for context in (plain["ssl_context"], broker["ssl_context"]):
            assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_the_service_broker_is_built_with_that_security() -> None:
    configured = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="kinship-escalation",
        kafka_sasl_password=SecretStr("scram-password"),
    )
    broker = make_broker(configured)
    # The keyword arguments FastStream builds every consumer with (aiokafka's).
    builder = broker.config.broker_config.builder
    assert isinstance(builder, functools.partial)
    consumers = builder.keywords
    assert consumers["security_protocol"] == "SASL_SSL"
    assert consumers["sasl_mechanism"] == "SCRAM-SHA-512"
    assert consumers["sasl_plain_username"] == "kinship-escalation"
    assert consumers["sasl_plain_password"] == "scram-password"
    assert isinstance(consumers["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "needs KINSHIP_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"},
            "needs KINSHIP_KAFKA_SASL_MECHANISM",
        ),
        (
            {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": "SCRAM-SHA-256",
                "kafka_sasl_username": "u",
            },
            "needs KINSHIP_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
            "would be ignored",
        ),
        ({"kafka_security_protocol": "SSL", "kafka_sasl_username": "u"}, "would be ignored"),
        ({"kafka_ssl_cafile": "/etc/kafka/ca.crt"}, "KINSHIP_KAFKA_SSL_"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/etc/kafka/user.key"},
            "KINSHIP_KAFKA_SSL_KEYFILE needs KINSHIP_KAFKA_SSL_CERTFILE",
        ),
    ],
)
def test_a_half_configured_connection_is_refused_at_start(
    fields: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValidationError, match=refusal) as caught:
        settings(**fields)
    assert "scram-password" not in str(caught.value)

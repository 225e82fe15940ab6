"""Settings every Kinship service shares, read from ``KINSHIP_*`` environment variables."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kinship_contracts.topics import TopicSpec


class KinshipSettings(BaseSettings):
    """Base settings; each service extends it. Every field maps to ``KINSHIP_<NAME>``."""

    # Errors never echo values: a misconfigured key must not end up in a log.
    model_config = SettingsConfigDict(
        env_prefix="KINSHIP_", extra="ignore", hide_input_in_errors=True
    )

    service_name: str = "kinship"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    topic_prefix: str = Field(
        default="", description="Prefixed to every topic name (isolated environments, tests)."
    )
    consumer_group_prefix: str = "kinship"
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:15432/kinship")
    database_schema: str = Field(default="", pattern=r"^[a-z_][a-z0-9_]{0,62}$|^$")
    database_pool_min: int = 2
    database_pool_max: int = 10
    migrate_on_start: bool = True
    create_topics: bool = Field(
        default=True, description="Create missing registry topics at start (local stacks)."
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    api_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated 'caller=key' pairs (or bare keys) accepted as bearer tokens.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="Shared secret for HS256/384/512 JWTs; unset disables them."
    )
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key for RS, PS, ES or EdDSA JWTs from your IdP."
    )
    jwt_audience: str = "kinship"
    jwt_issuer: str | None = None
    ingest_max_records: int = Field(
        default=1000, ge=1, le=10_000, description="Records per consumed Kafka batch."
    )
    ingest_batch_timeout_ms: int = Field(
        default=20, ge=1, le=10_000, description="How long a batch waits to fill up."
    )
    outbox_batch_size: int = Field(
        default=2000, ge=1, le=50_000, description="Outbox rows claimed and published per batch."
    )
    log_level: str = "INFO"
    graceful_timeout_seconds: float = 20.0

    def topic(self, spec: TopicSpec | str) -> str:
        """The physical name of a registered topic (with the environment's prefix)."""
        name = spec if isinstance(spec, str) else spec.name
        return f"{self.topic_prefix}{name}"

    def consumer_group(self, purpose: str) -> str:
        """A consumer group id owned by this service."""
        return f"{self.consumer_group_prefix}.{self.service_name}.{purpose}"

    def owned_schema(self) -> str:
        """The PostgreSQL schema this service owns."""
        return self.database_schema or self.service_name

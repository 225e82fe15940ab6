"""Settings every Kinship service shares, read from ``KINSHIP_*`` environment variables.

Outside the dev profile (``KINSHIP_ENV=dev``, which only the local stack and the tests set) a
service refuses to start with the local stack's published credentials or with keys shorter
than 32 bytes: a forgotten secret must fail loudly, not run with a key anyone can read.
"""

import base64
import binascii
import hashlib
import hmac
from typing import ClassVar, Literal, Self

from limits import RateLimitItem
from limits import parse as parse_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kinship_contracts.topics import TopicSpec
from kinship_runtime.identity import parse_api_keys

DEV_NOTE_KEY = base64.b64encode(b"kinship-dev-note-key-32-bytes!!!").decode()
DEV_CREDENTIALS: dict[str, str] = {
    "KINSHIP_API_KEYS key": "kinship-dev-key",
    "KINSHIP_WEBHOOK_SECRET": "kinship-dev-secret",
    "KINSHIP_LINK_SECRET": "kinship-dev-link-secret-not-for-production",
    "KINSHIP_JWT_SECRET": "kinship-dev-jwt-secret-not-for-production-use",
    "KINSHIP_NOTE_KEYS": f"dev1:{DEV_NOTE_KEY}",
    "KINSHIP_REQUEST_SIGNING_KEY": "kinship-dev-request-signing-key-not-for-production",
    "KINSHIP_DEAD_LETTER_KEY": "kinship-dev-dead-letter-key-not-for-production",
    "KINSHIP_GRANT_KEY": "kinship-dev-reveal-grant-key-not-for-production",
}
"""The local stack's credentials: published in the README, so refused outside ``dev``."""
DEV_NOTE_KEY_BYTES = base64.b64decode(DEV_NOTE_KEY)
"""The development note key itself: refused under any key id, alone or in a rotation list."""

MIN_KEY_BYTES = 32


_NOT_KEYS = frozenset({"database_url", "kafka_sasl_password", "smtp_password"})
"""Secret settings that are credentials to other systems, whose strength is not ours to set."""


class InsecureSettingsError(ValueError):
    """A development credential or a short key outside the dev profile (never quotes it)."""


def development_sha256() -> frozenset[str]:
    """SHA-256 (hex) of each published development credential: a key configured only by its
    digest (``key_sha256``) is refused when it is one of these."""
    return frozenset(
        hashlib.sha256(value.encode()).hexdigest() for value in DEV_CREDENTIALS.values()
    )


def refuse_development_note_keys(configured: str, variable: str) -> None:
    """Refuse a note key table (``key_id:base64,...``) holding the published development key
    under any id, alone or in a rotation list (outside the dev profile; the caller checks
    ``env``). Entries that do not decode are left to the table's own parser. The error names
    the id only."""
    for entry in configured.split(","):
        key_id, _, encoded = entry.strip().partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(key, DEV_NOTE_KEY_BYTES):
            raise InsecureSettingsError(
                f"{variable}: the key {key_id!r} is the local stack's published development "
                "note key; generate a real one (openssl rand -base64 32)"
            )


def rate_limit(value: str, variable: str, *, at_least: int = 1) -> RateLimitItem:
    """A rate limit in the limits notation (``"60/minute"``), refused at start when it does
    not parse or allows fewer than ``at_least`` units per window (a call costing more than
    the whole window's allowance could never succeed)."""
    try:
        item = parse_limit(value)
    except ValueError:
        raise ValueError(
            f"{variable} {value!r} is not a rate limit (e.g. '60/minute', '20000/minute')"
        ) from None
    if item.amount < at_least:
        raise ValueError(
            f"{variable} {value!r} allows fewer than {at_least} per window: the largest single "
            "call costs that much and could never succeed"
        )
    return item


def parse_key_table(configured: str, variable: str, what: str) -> dict[str, bytes]:
    """A table of AES-256 master keys, ``key_id:base64key,...``, decoded; errors name the bad
    entry's id (``what`` says which keys, e.g. "note key"), never the key."""
    table: dict[str, bytes] = {}
    for entry in configured.split(","):
        key_id, separator, encoded = entry.strip().partition(":")
        if not separator:
            raise ValueError(f"{variable} entries look like 'key_id:base64key'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error as error:
            raise ValueError(f"{what} {key_id!r} is not valid base64") from error
        if len(key) != 32:
            raise ValueError(f"{what} {key_id!r} must be 32 bytes (AES-256)")
        table[key_id] = key
    return table


class KinshipSettings(BaseSettings):
    """Base settings; each service extends it. Every field maps to ``KINSHIP_<NAME>``."""

    # Errors never echo values: a misconfigured key must not end up in a log.
    model_config = SettingsConfigDict(
        env_prefix="KINSHIP_", extra="ignore", hide_input_in_errors=True
    )

    service_name: str = "kinship"
    env: Literal["production", "dev"] = Field(
        default="production",
        description="'dev' only on a developer's machine and in tests: allows the local stack's "
        "published credentials, short keys and plain-http webhooks.",
    )
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
        description="JSON list of calling systems' keys: "
        '[{"name": "hr-portal", "scopes": ["checkins:submit"], "key": "..."}] '
        "(or key_sha256 instead of key).",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The identity provider's issuer URL: its signing keys are found through "
        "OIDC discovery (…/.well-known/openid-configuration) and tokens must name it.",
    )
    jwt_jwks_url: str | None = Field(
        default=None, description="JWKS URL of the identity provider (instead of discovery)."
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="Shared secret (>= 32 bytes) for HS256 JWTs; unset: none."
    )
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key for RS/ES/PS/EdDSA JWTs (instead of JWKS)."
    )
    jwt_audience: str = Field(default="kinship", description="Tokens must name this audience.")
    jwt_issuer: str | None = Field(
        default=None, description="Tokens must name this issuer (the OIDC issuer by default)."
    )
    jwt_max_lifetime_seconds: int = Field(
        default=7200, ge=60, le=86_400, description="Refuse tokens that live longer (exp - iat)."
    )
    jwt_person_claim: str = Field(
        default="sub", description="The claim holding the person's directory id."
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body accepted (413 above, before anything is parsed).",
    )
    rate_limit_per_person: str = Field(
        default="60/minute", description="Submissions a person may make (limits notation)."
    )
    rate_limit_per_key: str = Field(
        default="12000/minute", description="Submissions a calling system may make."
    )
    ingest_max_records: int = Field(
        default=1000, ge=1, le=10_000, description="Records per consumed Kafka batch."
    )
    ingest_batch_timeout_ms: int = Field(
        default=20, ge=1, le=10_000, description="How long a batch waits to fill up."
    )
    excluded_consumers: str = Field(
        default="",
        pattern=r"^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$|^$",
        description="Comma-separated consumers (by purpose, as in the consumer group "
        "<prefix>.<service>.<purpose>) this process does not run; every other replica of the "
        "service still must. The urgent lane's own deployment runs the escalation service "
        "with 'checkins' here and the others with 'urgent', so the immediate-risk lane never "
        "waits for CPU behind the ordinary one (docs/operations.md). A name the service does "
        "not consume fails the start.",
    )
    outbox_relay_leads: bool = Field(
        default=True,
        description="Whether this process may lead its service's outbox relay (publish every "
        "row). False: it only publishes urgent rows (the urgent lane's deployment, so bulk "
        "publishing never runs in it). At least one deployment of each service must lead.",
    )
    outbox_batch_size: int = Field(
        default=2000, ge=1, le=50_000, description="Outbox rows claimed and published per batch."
    )
    kafka_linger_ms: int = Field(
        default=2,
        ge=0,
        le=100,
        description="How long a producer waits to fill a batch before sending it (every hop "
        "of the urgent lane adds up to this much).",
    )
    kafka_max_batch_bytes: int = Field(
        default=256 * 1024,
        ge=64 * 1024,
        le=1024 * 1024,
        description="Largest batch a producer sends to one partition (at most 1 MiB, the "
        "broker's default message.max.bytes: a larger batch would be refused and retried "
        "for ever, stopping every event, the urgent lane's too).",
    )
    kafka_fetch_min_bytes: int = Field(
        default=1,
        ge=1,
        le=16 * 1024 * 1024,
        description="A consumer's fetch waits (up to kafka_fetch_max_wait_ms) for this much data.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        ge=10,
        le=10_000,
        description="Longest a fetch waits on the broker for kafka_fetch_min_bytes.",
    )
    kafka_max_partition_fetch_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="Most data one fetch returns per partition.",
    )
    checkin_url: str = Field(
        default="http://127.0.0.1:8001",
        description="The check-in service, whose vault the other services ask for subject ids.",
    )
    checkin_api_key: SecretStr | None = Field(
        default=None,
        description="This service's key for the check-in service (scopes subjects:lookup, "
        "subjects:screen or subjects:deliver as it needs; the dev key in KINSHIP_ENV=dev).",
    )
    dead_letter_key: SecretStr | None = Field(
        default=None,
        description="Wraps the per-record keys that seal dead letters (>= 32 bytes; required "
        "outside KINSHIP_ENV=dev, where a development key is used).",
    )
    request_signing_key: SecretStr | None = Field(
        default=None,
        description="Signs the notification requests Kinship services produce and verifies "
        "them in the notifications service (header kinship-request-signature): only Kinship "
        "services make Kinship send messages (>= 32 bytes; the same value in every producer and "
        "the notifications service; required outside KINSHIP_ENV=dev, where a development key "
        "is used).",
    )
    log_level: str = "INFO"
    graceful_timeout_seconds: float = 20.0
    gc_threshold: int = Field(
        default=50_000,
        ge=0,
        le=10_000_000,
        description="Allocations between the garbage collector's youngest-generation runs "
        "(CPython's default is 700; 0 keeps it). A busy consumer allocates and frees many "
        "short-lived objects per record, and at 700 the collector ran inside the hot path: "
        "50,000 cut CPU per check-in by 20-27 % with no change in peak RSS "
        "(docs/performance.md, part 4).",
    )

    NOT_KEYS: ClassVar[frozenset[str]] = _NOT_KEYS
    SECRETS: ClassVar[dict[str, bool]] = {
        "database_url": True,
        "kafka_sasl_password": False,
        "dead_letter_key": True,
        "api_keys": False,
        "jwt_secret": False,
    }
    """The secret settings this service reads (field name -> required outside
    KINSHIP_ENV=dev). Services add theirs; a secret the service does not list is not given to
    it in a cluster (the Helm chart's registry is generated from this) and must not be read."""

    def required_secret(
        self, configured: SecretStr | None, variable: str, dev_credential: str | None = None
    ) -> SecretStr:
        """``configured`` when set; else the published development value (``DEV_CREDENTIALS``
        under ``dev_credential``, by default ``variable``) in the dev profile only."""
        if configured is not None:
            return configured
        if self.env != "dev":
            raise InsecureSettingsError(f"{variable} is required")
        return SecretStr(DEV_CREDENTIALS[dev_credential or variable])

    def vault_key(self) -> SecretStr:
        """The key this service presents to the check-in service's vault."""
        return self.required_secret(
            self.checkin_api_key, "KINSHIP_CHECKIN_API_KEY", "KINSHIP_API_KEYS key"
        )

    def dead_letter_wrapping_key(self) -> bytes:
        """The 32-byte key wrapping dead-letter keys (SHA-256 of the configured secret)."""
        configured = self.required_secret(self.dead_letter_key, "KINSHIP_DEAD_LETTER_KEY")
        return hashlib.sha256(configured.get_secret_value().encode()).digest()

    def request_signing_secret(self) -> bytes:
        """The key of notification-request signatures (a development one in the dev profile)."""
        configured = self.request_signing_key
        if configured is None:
            if self.env != "dev":
                raise InsecureSettingsError("KINSHIP_REQUEST_SIGNING_KEY is required")
            configured = SecretStr(DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"])
        return configured.get_secret_value().encode()

    @field_validator("rate_limit_per_person", "rate_limit_per_key")
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        rate_limit(value, "KINSHIP_RATE_LIMIT_PER_PERSON/KEY")
        return value

    @model_validator(mode="after")
    def _kafka_security_is_consistent(self) -> Self:
        # Every client (the FastStream broker, producers, the admin client) must connect the
        # same way: a half-configured combination would let one of them fall back to plain
        # text or fail only at the first connection, so it is refused at start.
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        sasl = protocol.startswith("SASL_")
        tls = protocol in ("SSL", "SASL_SSL")
        if sasl and (mechanism is None or not self.kafka_sasl_username):
            raise ValueError(
                f"KINSHIP_KAFKA_SECURITY_PROTOCOL={protocol} needs KINSHIP_KAFKA_SASL_MECHANISM "
                "and KINSHIP_KAFKA_SASL_USERNAME (and KINSHIP_KAFKA_SASL_PASSWORD)"
            )
        if sasl and self.kafka_sasl_password is None:
            raise ValueError(
                f"KINSHIP_KAFKA_SECURITY_PROTOCOL={protocol} needs KINSHIP_KAFKA_SASL_PASSWORD"
            )
        if not sasl and (mechanism or self.kafka_sasl_username or self.kafka_sasl_password):
            raise ValueError(
                "KINSHIP_KAFKA_SASL_* settings need KINSHIP_KAFKA_SECURITY_PROTOCOL=SASL_SSL "
                f"or SASL_PLAINTEXT (it is {protocol}: they would be ignored)"
            )
        files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if not tls and any(files):
            raise ValueError(
                "KINSHIP_KAFKA_SSL_* settings need KINSHIP_KAFKA_SECURITY_PROTOCOL=SSL or "
                f"SASL_SSL (it is {protocol}: they would be ignored)"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KINSHIP_KAFKA_SSL_KEYFILE needs KINSHIP_KAFKA_SSL_CERTFILE")
        return self

    @model_validator(mode="after")
    def _fetch_holds_a_batch(self) -> Self:
        if self.kafka_max_partition_fetch_bytes < self.kafka_max_batch_bytes:
            raise ValueError(
                "kafka_max_partition_fetch_bytes must be at least kafka_max_batch_bytes: a "
                "consumer must be able to fetch the largest batch a producer sends"
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_credentials(self) -> Self:
        if self.env == "dev":
            return self
        missing = [
            f"KINSHIP_{name.upper()}"
            for name, required in self.SECRETS.items()
            if required and not _configured(getattr(self, name))
        ]
        if missing:
            raise InsecureSettingsError(
                " and ".join(f"{variable} is required" for variable in missing)
                + " outside KINSHIP_ENV=dev (docs/configuration.md)"
            )
        # The published note key is refused as any other secret too (e.g. the dead-letter key),
        # in its base64 and its raw form.
        dev_values = {*DEV_CREDENTIALS.values(), DEV_NOTE_KEY, DEV_NOTE_KEY_BYTES.decode()}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in self.NOT_KEYS or not isinstance(value, SecretStr):
                continue
            secret = value.get_secret_value()
            if not secret or name == "api_keys":
                continue
            variable = f"KINSHIP_{name.upper()}"
            if secret in dev_values:
                raise InsecureSettingsError(
                    f"{variable} is the local stack's published development value; set a real "
                    "secret (or KINSHIP_ENV=dev on a developer's machine)"
                )
            if len(secret.encode()) < MIN_KEY_BYTES:
                raise InsecureSettingsError(
                    f"{variable} needs at least {MIN_KEY_BYTES} bytes outside KINSHIP_ENV=dev"
                )
        self._refuse_weak_api_keys(dev_values)
        return self

    def _refuse_weak_api_keys(self, dev_values: set[str]) -> None:
        refused_digests = development_sha256()
        for entry in parse_api_keys(self.api_keys.get_secret_value()):
            if entry.key is None:
                # Only its SHA-256 is configured: its length cannot be measured, but the
                # digest of a published development key is known.
                if entry.key_sha256 is not None and entry.key_sha256 in refused_digests:
                    raise InsecureSettingsError(
                        f"KINSHIP_API_KEYS: the key named {entry.name!r} is given as the "
                        "SHA-256 of a development key; issue a long random key"
                    )
                continue
            key = entry.key.get_secret_value()
            if key in dev_values or len(key.encode()) < MIN_KEY_BYTES:
                raise InsecureSettingsError(
                    f"KINSHIP_API_KEYS: the key named {entry.name!r} is a development key or "
                    f"shorter than {MIN_KEY_BYTES} bytes; issue a long random key"
                )

    def topic(self, spec: TopicSpec | str) -> str:
        """The physical name of a registered topic (with the environment's prefix)."""
        name = spec if isinstance(spec, str) else spec.name
        return f"{self.topic_prefix}{name}"

    def excluded(self) -> frozenset[str]:
        """The consumers (by purpose) this process does not run."""
        return frozenset(filter(None, self.excluded_consumers.split(",")))

    def consumer_group(self, purpose: str) -> str:
        """A consumer group id owned by this service."""
        return f"{self.consumer_group_prefix}.{self.service_name}.{purpose}"

    def owned_schema(self) -> str:
        """The PostgreSQL schema this service owns."""
        return self.database_schema or self.service_name


def _configured(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return value is not None


class MigrationSettings(KinshipSettings):
    """What ``python -m kinship_<service> migrate`` reads: the database and nothing else (a
    migration Job is given the database secret only)."""

    SECRETS: ClassVar[dict[str, bool]] = {"database_url": True}

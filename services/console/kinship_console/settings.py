"""Console settings, read from ``KINSHIP_*`` environment variables (``KINSHIP_CONSOLE_*`` for
what only the console has)."""

import base64
import binascii
import hashlib
import ipaddress
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SESSION_KEY = "kinshipConsoleDevSessionKeyNotForProduction="
"""The local stack's session key: refused unless ``KINSHIP_ENV=dev``."""
DEV_CLIENT_SECRET = "kinship-console-dev-secret"  # noqa: S105 - refused outside dev, see below


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (browsers treat them as secure contexts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DatabaseSettings(BaseSettings):
    """What ``migrate`` needs: the database only (a migration job gets no other secret)."""

    # Errors never echo values: a misconfigured key must not end up in a log.
    model_config = SettingsConfigDict(
        env_prefix="KINSHIP_", extra="ignore", hide_input_in_errors=True
    )

    log_level: str = "INFO"
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:15432/kinship")
    database_schema: str = Field(default="console", pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class ConsoleSettings(DatabaseSettings):
    """Settings of the console. It owns sessions only: no personal data, no Kafka."""

    service_name: str = "console"
    env: str = Field(default="production", description="'dev' admits the local stack's keys.")
    http_host: str = "127.0.0.1"
    http_port: int = 8005
    database_pool_min: int = 1
    database_pool_max: int = 5
    migrate_on_start: bool = True

    console_public_url: str = Field(
        default="http://127.0.0.1:8005",
        description="The URL people open; the OIDC redirect URIs are derived from it.",
    )
    console_oidc_issuer: str = Field(description="The OIDC issuer (discovery is read from it).")
    console_oidc_discovery_url: str | None = Field(
        default=None,
        description="Where the console reads the discovery document, when it reaches the "
        "provider at another address than browsers do (containers); default: the issuer's.",
    )
    console_oidc_client_id: str = "kinship-console"
    console_oidc_client_secret: SecretStr = Field(description="The confidential client's secret.")
    console_oidc_scope: str = "openid"
    console_session_key: SecretStr = Field(
        description="Base64 of 32 random bytes: encrypts session data (tokens) at rest."
    )
    console_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_session_max_hours: int = Field(default=10, ge=1, le=7 * 24)
    console_signin_minutes: int = Field(
        default=15, ge=1, le=60, description="How long a started sign-in may take."
    )
    console_checkin_url: str = "http://127.0.0.1:8001"
    console_escalation_url: str = "http://127.0.0.1:8002"
    console_notifications_url: str = "http://127.0.0.1:8003"
    console_recognition_url: str = "http://127.0.0.1:8004"
    console_api_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _safe_for_its_environment(self) -> Self:
        public = urlsplit(self.console_public_url)
        if public.scheme not in ("http", "https") or not public.hostname:
            raise ValueError("KINSHIP_CONSOLE_PUBLIC_URL must be an http(s) URL")
        if public.scheme == "http" and not is_loopback(public.hostname):
            raise ValueError(
                "KINSHIP_CONSOLE_PUBLIC_URL must use https unless it is a loopback address"
            )
        self.session_key()  # decodes and checks the length
        if self.env != "dev":
            if self.console_session_key.get_secret_value() == DEV_SESSION_KEY:
                raise ValueError("the local stack's session key is refused unless KINSHIP_ENV=dev")
            if self.console_oidc_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
                raise ValueError(
                    "the local stack's client secret is refused unless KINSHIP_ENV=dev"
                )
        return self

    def session_key(self) -> bytes:
        """The AES-256 key for session data."""
        try:
            key = base64.b64decode(self.console_session_key.get_secret_value(), validate=True)
        except binascii.Error as error:
            raise ValueError("KINSHIP_CONSOLE_SESSION_KEY is not valid base64") from error
        if len(key) != 32:
            raise ValueError("KINSHIP_CONSOLE_SESSION_KEY must decode to 32 bytes")
        return key

    def session_key_id(self) -> str:
        """A short fingerprint of the session key, stored beside each row (never the key)."""
        return hashlib.sha256(b"kinship-console-session-key:" + self.session_key()).hexdigest()[:12]

    @property
    def public_url(self) -> str:
        """The public URL without a trailing slash."""
        return self.console_public_url.rstrip("/")

    @property
    def public_origin(self) -> str:
        """scheme://host[:port] of the public URL (compared with a form post's Origin)."""
        parts = urlsplit(self.console_public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def https(self) -> bool:
        """The console is served over https (cookies get the ``__Host-`` prefix)."""
        return urlsplit(self.console_public_url).scheme == "https"

    @property
    def issuer(self) -> str:
        return self.console_oidc_issuer.rstrip("/")

    @property
    def discovery_url(self) -> str:
        """The issuer's OpenID Connect discovery document."""
        if self.console_oidc_discovery_url:
            return self.console_oidc_discovery_url
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def issuer_origin(self) -> str:
        """The identity provider's origin (the sign-out form is redirected there)."""
        parts = urlsplit(self.console_oidc_issuer)
        return f"{parts.scheme}://{parts.netloc}"

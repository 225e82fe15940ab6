"""Escalation service settings (``KINSHIP_*`` environment variables)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from kinship_runtime.settings import DEV_CREDENTIALS, InsecureSettingsError, KinshipSettings


class EscalationSettings(KinshipSettings):
    """Settings of the escalation service."""

    service_name: str = "escalation"
    http_port: int = 8002
    SECRETS: ClassVar[dict[str, bool]] = {
        **KinshipSettings.SECRETS,
        "checkin_api_key": True,
        "request_signing_key": True,
        "grant_key": True,
        "link_secret": True,
    }
    ack_timeout_seconds: int = Field(
        default=300, ge=1, description="Acknowledgement timeout of each default policy step."
    )
    contact_timeout_seconds: int = Field(
        default=3600, ge=1, description="Acknowledged but no first contact: escalate."
    )
    responder_rest_hours: float = Field(
        default=12.0, ge=0, description="Rest after a critical case before the next one."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Base URL of this service as responders reach it (acknowledgement links).",
    )
    console_url: str = Field(
        default="http://127.0.0.1:8005",
        description="Base URL of the web console as people reach it (follow-up check-in links "
        "open its check-in page on the short WHO-5 form).",
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description="Checks the tokens of acknowledgement links, which the notifications "
        "service mints with the same secret (>= 32 bytes; this purpose only; required outside "
        "KINSHIP_ENV=dev).",
    )
    ack_link_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 14,
        description="How long an alert's acknowledgement link works after the alert.",
    )
    grant_key: SecretStr | None = Field(
        default=None,
        description="Signs reveal grants for the check-in service (the same secret there; "
        ">= 32 bytes; required outside KINSHIP_ENV=dev).",
    )
    request_signing_key: SecretStr | None = Field(
        default=None,
        description="Signs the notification requests this service produces (the "
        "notifications service checks them; >= 32 bytes; required outside KINSHIP_ENV=dev).",
    )
    rules_file: Path | None = Field(
        default=None, description="JSON detection rules; the spec's defaults otherwise."
    )
    resources_file: Path | None = Field(
        default=None,
        description="JSON list of support resources (crisis lines by country, EAP, guides).",
    )
    timer_poll_seconds: float = Field(default=1.0, gt=0, description="How often due timers run.")
    timer_batch_size: int = Field(default=100, ge=1)

    def ack_link_secret(self) -> bytes:
        """The acknowledgement links' secret (a development one in the dev profile)."""
        return self._secret(self.link_secret, "KINSHIP_LINK_SECRET")

    def grant_signing_key(self) -> bytes:
        """The reveal-grant key (a development one in the dev profile)."""
        return self._secret(self.grant_key, "KINSHIP_GRANT_KEY")

    def request_signature_key(self) -> bytes:
        """The notification requests' signing key (a development one in the dev profile)."""
        return self._secret(self.request_signing_key, "KINSHIP_REQUEST_SIGNING_KEY")

    def _secret(self, configured: SecretStr | None, variable: str) -> bytes:
        if configured is None or not configured.get_secret_value():
            if self.env != "dev":
                raise InsecureSettingsError(f"{variable} is required")
            configured = SecretStr(DEV_CREDENTIALS[variable])
        return configured.get_secret_value().encode()

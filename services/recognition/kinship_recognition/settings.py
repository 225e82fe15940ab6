"""Recognition service settings (``KINSHIP_*`` environment variables)."""

from pydantic import Field, SecretStr

from kinship_runtime.settings import DEV_CREDENTIALS, InsecureSettingsError, KinshipSettings


class RecognitionSettings(KinshipSettings):
    """Settings of the recognition service."""

    service_name: str = "recognition"
    http_port: int = 8004
    kudos_daily_limit: int = Field(default=10, ge=1, description="Kudos a person may send a day.")
    ingest_max_records: int = Field(default=500, ge=1)
    request_signing_key: SecretStr | None = Field(
        default=None,
        description="Signs the notification requests this service produces (the notifications "
        "service checks them with the same secret; >= 32 bytes; required outside "
        "KINSHIP_ENV=dev).",
    )

    def request_signing_secret(self) -> bytes:
        """The notification-request signing key (a development one in the dev profile)."""
        configured = self.request_signing_key
        if configured is None:
            if self.env != "dev":
                raise InsecureSettingsError("KINSHIP_REQUEST_SIGNING_KEY is required")
            configured = SecretStr(DEV_CREDENTIALS["KINSHIP_REQUEST_SIGNING_KEY"])
        return configured.get_secret_value().encode()

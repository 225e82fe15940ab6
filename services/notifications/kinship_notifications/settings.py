"""Notifications service settings (``KINSHIP_*`` environment variables)."""

from pydantic import Field, SecretStr

from kinship_contracts.subjects import PseudonymKey
from kinship_runtime.settings import KinshipSettings


class NotificationSettings(KinshipSettings):
    """Settings of the notifications service."""

    service_name: str = "notifications"
    http_port: int = 8003
    pseudonym_key: PseudonymKey = Field(
        description="The check-in service's HMAC key: finds a supported person's channels "
        "from their subject id (one-way)."
    )
    webhook_secret: SecretStr = Field(description="Signs webhook bodies (X-Kinship-Signature).")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "Kinship <kinship@localhost>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    delivery_timeout_seconds: float = Field(default=5.0, gt=0, description="Per attempt.")
    delivery_max_attempts: int = Field(default=5, ge=1, description="Then a failed receipt.")
    retry_base_seconds: float = Field(default=0.5, gt=0, description="First backoff step.")
    retry_max_seconds: float = Field(default=300.0, gt=0)
    delivery_concurrency: int = Field(default=64, ge=1, description="Deliveries in flight.")
    delivery_lease_seconds: float = Field(
        default=60.0, gt=0, description="A claimed delivery is retried after this if unfinished."
    )
    delivery_poll_seconds: float = Field(default=0.5, gt=0)
    breaker_threshold: int = Field(
        default=5, ge=1, description="Failures in a row per endpoint before failing fast."
    )
    breaker_cool_down_seconds: float = Field(default=30.0, gt=0)
    ingest_max_records: int = Field(default=500, ge=1)

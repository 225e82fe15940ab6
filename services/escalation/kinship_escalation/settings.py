"""Escalation service settings (``KINSHIP_*`` environment variables)."""

from pathlib import Path

from pydantic import Field, SecretStr

from kinship_contracts.subjects import PseudonymKey
from kinship_runtime.settings import KinshipSettings


class EscalationSettings(KinshipSettings):
    """Settings of the escalation service."""

    service_name: str = "escalation"
    http_port: int = 8002
    pseudonym_key: PseudonymKey = Field(
        description="The same HMAC key as the check-in service: links directory people and "
        "signals to subject ids (one-way; the vault stays in the check-in service)."
    )
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
    link_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Key that signs one-time acknowledgement links; derived from the pseudonym "
        "key when unset (replicas must share it).",
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

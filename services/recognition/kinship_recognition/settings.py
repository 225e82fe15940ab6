"""Recognition service settings (``KINSHIP_*`` environment variables)."""

from typing import ClassVar

from pydantic import Field

from kinship_runtime.settings import KinshipSettings


class RecognitionSettings(KinshipSettings):
    """Settings of the recognition service."""

    service_name: str = "recognition"
    http_port: int = 8004
    SECRETS: ClassVar[dict[str, bool]] = {
        **KinshipSettings.SECRETS,
        "checkin_api_key": True,
        "request_signing_key": True,
    }
    kudos_daily_limit: int = Field(default=10, ge=1, description="Kudos a person may send a day.")
    ingest_max_records: int = Field(default=500, ge=1)

"""CloudEvents 1.0 attributes in Kafka headers (binary content mode)."""

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]


class CloudEventAttributes(BaseModel):
    """The CloudEvents attributes every Kinship message carries as Kafka headers.

    External producers may omit them; the payload's ``id`` is then the event id.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200, description="Event id (ce_id).")
    source: str = Field(min_length=1, description="Producing system (ce_source).")
    type: str = Field(min_length=1, description="Event type, e.g. 'kinship.checkin.recorded.v1'.")
    specversion: str = Field(default=SPEC_VERSION, description="CloudEvents version.")
    time: AwareDatetime = Field(description="When the event happened (ce_time).")

    def to_headers(self, extra: Iterable[tuple[str, bytes]] = ()) -> Headers:
        """Kafka headers in binary content mode."""
        return [
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_specversion", self.specversion.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("content-type", CONTENT_TYPE.encode()),
            *extra,
        ]

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes]) -> "CloudEventAttributes | None":
        """Attributes from Kafka headers, or None when the producer sent none."""
        if "ce_id" not in headers:
            return None
        return cls(
            id=headers["ce_id"].decode(),
            source=headers.get("ce_source", b"unknown").decode(),
            type=headers.get("ce_type", b"unknown").decode(),
            specversion=headers.get("ce_specversion", SPEC_VERSION.encode()).decode(),
            time=datetime.fromisoformat(headers["ce_time"].decode()),
        )

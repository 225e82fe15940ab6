"""CloudEvents 1.0 attributes in Kafka headers (binary content mode)."""

from collections.abc import Iterable, Mapping

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]


def cloud_event_headers(event_id: str, source: str, event_type: str, time: str) -> Headers:
    """Binary-mode headers from already valid attributes (``time`` in RFC 3339).

    For hot paths that publish many events of one type: no model is built per event.
    """
    return [
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event_type.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", time.encode()),
        ("content-type", b"application/json"),
    ]


class CloudEventAttributes(BaseModel):
    """The CloudEvents attributes every Kinship message carries as Kafka headers.

    External producers may omit them; the payload's ``id`` is then the event id.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200, description="Event id (ce_id).")
    source: str = Field(min_length=1, description="Producing system (ce_source).")
    type: str = Field(min_length=1, description="Event type, e.g. 'kinship.checkin.recorded.v1'.")
    specversion: str = Field(default=SPEC_VERSION, description="CloudEvents version.")
    time: AwareDatetime | None = Field(
        default=None, description="When the event happened (ce_time; optional in CloudEvents)."
    )

    def to_headers(self, extra: Iterable[tuple[str, bytes]] = ()) -> Headers:
        """Kafka headers in binary content mode (``ce_time`` only when known)."""
        if self.time is not None:
            headers = cloud_event_headers(self.id, self.source, self.type, self.time.isoformat())
        else:
            headers = [
                (name, value)
                for name, value in cloud_event_headers(self.id, self.source, self.type, "")
                if name != "ce_time"
            ]
        return [*headers, *extra]

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes]) -> "CloudEventAttributes | None":
        """Attributes from Kafka headers, or None when the producer sent none.

        ``ce_time`` is optional (as in CloudEvents 1.0); a malformed one is a
        ``ValidationError``, like any other invalid attribute.
        """
        if "ce_id" not in headers:
            return None
        time = headers.get("ce_time")
        return cls.model_validate(
            {
                "id": headers["ce_id"].decode(errors="replace"),
                "source": headers.get("ce_source", b"unknown").decode(errors="replace"),
                "type": headers.get("ce_type", b"unknown").decode(errors="replace"),
                "specversion": headers.get("ce_specversion", SPEC_VERSION.encode()).decode(
                    errors="replace"
                ),
                "time": time.decode(errors="replace") if time is not None else None,
            }
        )

"""CloudEvents 1.0 attributes in Kafka headers (binary content mode)."""

Headers = list[tuple[str, bytes]]


def cloud_event_headers(event_id: str, source: str, event_type: str, time: str) -> Headers:
    """Binary-mode headers from already valid attributes (``time`` in RFC 3339).

    Nothing is validated here: callers pass their event's own id, type and time.
    """
    return [
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", event_type.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", time.encode()),
        ("content-type", b"application/json"),
    ]

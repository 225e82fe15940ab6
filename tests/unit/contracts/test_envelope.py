"""CloudEvents binary-mode headers (kinship_contracts.envelope)."""

from kinship_contracts.envelope import cloud_event_headers


def test_binary_mode_headers_are_the_six_cloudevents_headers_in_order() -> None:
    headers = cloud_event_headers(
        "e-1", "kinship/checkin", "kinship.x.v1", "2026-11-24T09:30:00+01:00"
    )
    assert headers == [
        ("ce_id", b"e-1"),
        ("ce_source", b"kinship/checkin"),
        ("ce_type", b"kinship.x.v1"),
        ("ce_specversion", b"1.0"),
        ("ce_time", b"2026-11-24T09:30:00+01:00"),
        ("content-type", b"application/json"),
    ]

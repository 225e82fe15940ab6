"""One-time signed acknowledgement links."""

from kinship_escalation.domain.links import AckLinks


def test_ack_links_are_signed_per_alert() -> None:
    links = AckLinks(b"secret", "http://127.0.0.1:8002/")
    url = links.url("alert-1")
    assert url.startswith("http://127.0.0.1:8002/v1/alerts/alert-1/acknowledge?token=")
    token = url.rsplit("=", 1)[1]
    assert links.valid("alert-1", token)
    assert not links.valid("alert-2", token)
    assert not AckLinks(b"other", "http://x").valid("alert-1", token)

"""Acknowledgement links: the alert carries the link without a token; a token minted by the
notifications service for that alert, with the shared secret, works until it expires."""

from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.links import mint_ack_token
from kinship_escalation.domain.links import AckLinks, LinkCheck

SECRET = b"link-secret-0123456789abcdef01234"
SENT = datetime(2026, 11, 24, 9, tzinfo=UTC)


def test_the_link_has_no_token_and_expires_after_its_lifetime() -> None:
    links = AckLinks(SECRET, "http://127.0.0.1:8002/", timedelta(hours=24))
    assert links.url("alert-1") == "http://127.0.0.1:8002/v1/alerts/alert-1/acknowledge"
    assert links.expires_at(SENT) == SENT + timedelta(hours=24)


def test_a_token_is_valid_for_its_alert_until_it_expires_and_forgeries_never() -> None:
    links = AckLinks(SECRET, "http://127.0.0.1:8002", timedelta(hours=1))
    expires = SENT + timedelta(hours=1)
    token = mint_ack_token(SECRET, "alert-1", expires)
    assert links.check("alert-1", token, SENT) is LinkCheck.VALID
    assert links.check("alert-1", token, expires) is LinkCheck.EXPIRED
    assert links.check("alert-2", token, SENT) is LinkCheck.FORGED
    other = mint_ack_token(b"another-secret-0123456789abcdef0", "alert-1", expires)
    assert links.check("alert-1", other, SENT) is LinkCheck.FORGED
    for bad in ("", "v1", "v1.x.y", token[:-1] + "0", "v2" + token[2:]):
        assert links.check("alert-1", bad, SENT) is LinkCheck.FORGED


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        AckLinks(b"", "http://127.0.0.1:8002", timedelta(hours=1))

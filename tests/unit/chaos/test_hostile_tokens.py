"""Hostile link tokens and request signatures are simply invalid (hmac.compare_digest raises
TypeError for non-ASCII text, which answered 500 on the acknowledgement page)."""

from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.links import check_ack_token, mint_ack_token, request_signed, sign_request
from kinship_escalation.domain.links import AckLinks, LinkCheck

SECRET = b"s" * 32
HOSTILE = ["\ufffd" * 64, "é", "v1.123." + "é" * 64, "v1.١٢٣." + "a" * 64, "\x00", ""]


@pytest.mark.parametrize("token", HOSTILE)
def test_a_hostile_ack_token_is_invalid(token: str) -> None:
    now = datetime.now(UTC)
    assert check_ack_token(SECRET, "a-1", token, now) is False
    links = AckLinks(SECRET, "http://127.0.0.1:9", timedelta(hours=1))
    assert links.check("a-1", token, now) is LinkCheck.FORGED


def test_the_genuine_ack_token_is_still_valid() -> None:
    now = datetime.now(UTC)
    token = mint_ack_token(SECRET, "a-1", now + timedelta(minutes=5))
    assert check_ack_token(SECRET, "a-1", token, now)
    links = AckLinks(SECRET, "http://127.0.0.1:9", timedelta(hours=1))
    assert links.check("a-1", token, now) is LinkCheck.VALID


@pytest.mark.parametrize("signature", HOSTILE)
def test_a_hostile_request_signature_is_invalid(signature: str) -> None:
    assert request_signed(SECRET, b"{}", signature) is False
    assert request_signed(SECRET, b"{}", sign_request(SECRET, b"{}"))
